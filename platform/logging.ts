import { pino, type DestinationStream, type Logger } from 'pino';

export type { DestinationStream, Logger };

/**
 * JSON logs, one line per event, to stdout (or `destination`, where tests read what is logged);
 * `LOG_LEVEL` picks the level.
 */
export function createLogger(service: string, level: string = 'info', destination?: DestinationStream): Logger {
  return destination ? pino({ level, base: { service } }, destination) : pino({ level, base: { service } });
}
