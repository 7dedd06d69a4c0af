import { authKeys } from '../../platform/auth/secrets.js';
import { openInfrastructure } from '../../platform/infrastructure.js';
import { instrumentEventStore } from '../../platform/metrics/instrumented-event-store.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { runProcess } from '../../platform/process.js';
import { readModelChecks } from '../../projections/registry.js';
import { SimulatedPaymentProvider } from './payments.js';
import { startOrderSubgraph } from './server.js';
import { EVENT_SCHEMAS } from '../event-schemas.js';

/** The order subgraph as its own process (docker compose); `npm start` runs it in-process instead. */
runProcess('order', async (config, logger) => {
  const metrics = createMetrics(serviceRegistry('order'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics });
  const { internalSecret } = authKeys(config, logger);
  const order = await startOrderSubgraph(
    {
      ...infrastructure,
      events: instrumentEventStore(infrastructure.events, metrics),
      metrics,
      logger,
      readiness: { ...infrastructure.readiness, ...readModelChecks('order', infrastructure, config.projections.maxLagSeconds, metrics) },
      internalSecret,
      readAfterMaxWaitMs: config.projections.readAfterMaxWaitMs,
      // The only provider adapter so far: the contract's simulated test tokens.
      payments: new SimulatedPaymentProvider(),
      timeouts: config.orderTimeouts,
      resume: config.subscriptions.resume,
    },
    { port: config.ports.order, host: config.host },
  );
  return {
    stop: async () => {
      await order.close();
      await infrastructure.close();
    },
  };
});
