import { seedDemoCatalog } from './demo-seed.js';
import { authKeys } from '../../platform/auth/secrets.js';
import { openInfrastructure } from '../../platform/infrastructure.js';
import { instrumentEventStore } from '../../platform/metrics/instrumented-event-store.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { runProcess } from '../../platform/process.js';
import { readModelChecks } from '../../projections/registry.js';
import { startProductSubgraph } from './server.js';
import { EVENT_SCHEMAS } from '../event-schemas.js';

/** The product subgraph as its own process (docker compose); `npm start` runs it in-process instead. */
runProcess('product', async (config, logger) => {
  const metrics = createMetrics(serviceRegistry('product'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics });
  const { internalSecret } = authKeys(config, logger);
  const product = await startProductSubgraph(
    { ...infrastructure, events: instrumentEventStore(infrastructure.events, metrics), metrics, logger, readiness: { ...infrastructure.readiness, ...readModelChecks('product', infrastructure, config.projections.maxLagSeconds, metrics) }, internalSecret, resume: config.subscriptions.resume, readAfterMaxWaitMs: config.projections.readAfterMaxWaitMs },
    { port: config.ports.product, host: config.host },
  );
  if (config.seedDemoData) await seedDemoCatalog(product.service, logger);
  return {
    stop: async () => {
      await product.close();
      await infrastructure.close();
    },
  };
});
