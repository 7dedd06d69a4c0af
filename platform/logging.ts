import { pino, type DestinationStream, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { currentCorrelationId } from './correlation.js';

export type { DestinationStream, Logger };

export type LogFormat = 'json' | 'pretty';

/** Human-readable on a terminal in development; JSON in production and whenever output is piped (to a collector, a file). */
export function defaultLogFormat(production: boolean, terminal: boolean | undefined): LogFormat {
  return !production && terminal === true ? 'pretty' : 'json';
}

/**
 * Logs one event per line to stdout (or `destination`, where tests read what is logged):
 * JSON objects, or in the `pretty` format coloured lines with the time, level, service and
 * message, then the other fields. `LOG_LEVEL` picks the level. A line logged while a request,
 * message or event is handled carries its `correlationId` (platform/correlation.ts).
 */
export function createLogger(service: string, level: string = 'info', destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  // Every line written while a request, message or event is handled names its correlation id.
  const options = {
    level,
    base: { service },
    mixin: () => {
      const correlationId = currentCorrelationId();
      return correlationId ? { correlationId } : {};
    },
  };
  if (format === 'pretty') {
    // In-process and synchronous: nothing is lost when the process exits right after a line.
    const pretty = PinoPretty({ colorize: !destination, singleLine: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', messageFormat: '{service}: {msg}', ...(destination && { destination }) });
    return pino(options, pretty);
  }
  return destination ? pino(options, destination) : pino(options);
}
