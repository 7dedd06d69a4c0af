import { ConfigError, loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { CompositionError } from '../gateway/compose.js';
import { startSystem } from './system.js';

/** `npm start`: the whole system in one process, on the adapters the environment picks (embedded by default). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('storefront', config.logLevel);
  const system = await startSystem(config, { logger });
  const banner = [
    '',
    `  Storefront is up (${config.production ? 'production' : 'development'} mode)`,
    `  GraphQL (HTTP + graphql-ws):  ${system.gatewayUrl}   <- open in a browser to explore`,
    `  product subgraph:             ${system.productUrl}`,
    `  metrics:                      ${system.gatewayUrl.replace('/graphql', '/metrics')}, ${system.productUrl.replace('/graphql', '/metrics')}, ${system.projectorUrl}/metrics`,
    ...Object.entries(system.infrastructure.describe).map(([port, adapter]) => `  ${`${port}:`.padEnd(30)}${adapter}`),
    '  Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(banner.join('\n') + '\n');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    system.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  // One clear line for the errors a user can fix; the stack only for the unexpected.
  if (error instanceof ConfigError || error instanceof CompositionError) console.error(`storefront: ${error.message}`);
  else if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') console.error(`storefront: ${error.message} (set PORT, PRODUCT_PORT or PROJECTOR_PORT)`);
  else console.error('storefront: failed to start:', error);
  process.exit(1);
});
