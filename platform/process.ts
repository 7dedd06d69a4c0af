import { ConfigError, loadConfig, type Config } from './config.js';
import { InfrastructureError } from './errors.js';
import { createLogger, type Logger } from './logging.js';

/** Errors a user can fix from the message alone: printed as one line, without a stack. */
function isOperatorError(error: unknown): error is Error {
  if (error instanceof ConfigError || error instanceof InfrastructureError) return true;
  if (error instanceof Error && error.name === 'CompositionError') return true;
  return error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
}

/**
 * Runs one process: reads and validates the configuration, starts, and shuts down cleanly on
 * SIGINT/SIGTERM (exit 0; exit 1 if stopping takes longer than SHUTDOWN_TIMEOUT_SECONDS or a
 * second signal comes) or on a start-up failure (exit 1, one clear line for operator errors).
 */
export function runProcess(name: string, start: (config: Config, logger: Logger) => Promise<{ stop(): Promise<void> }>): void {
  let logger: Logger | undefined;
  const main = async () => {
    const config = loadConfig();
    logger = createLogger(name, config.logLevel, undefined, config.logFormat);
    const running = await start(config, logger);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        logger?.warn({ signal }, 'second signal: exiting without waiting for the shutdown to finish');
        process.exit(1);
      }
      stopping = true;
      logger?.info({ signal }, 'shutting down');
      // Whatever the servers do (a hung connection, a consumer waiting for its group), the
      // process ends within the bound.
      setTimeout(() => {
        logger?.error({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      }, config.shutdownTimeoutSeconds * 1000).unref();
      running.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger?.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  };
  main().catch((error: unknown) => {
    if (isOperatorError(error)) console.error(`${name}: ${error.message}`);
    else console.error(`${name}: failed to start:`, error);
    process.exit(1);
  });
}
