import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs to stdout, one line per event; `LOG_LEVEL` picks the level. */
export function createLogger(service: string, level: string = 'info'): Logger {
  return pino({ level, base: { service } });
}
