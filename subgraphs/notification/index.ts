import { authKeys } from '../../platform/auth/secrets.js';
import { openInfrastructure } from '../../platform/infrastructure.js';
import { instrumentEventStore } from '../../platform/metrics/instrumented-event-store.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { runProcess } from '../../platform/process.js';
import { readModelChecks } from '../../projections/registry.js';
import { EVENT_SCHEMAS } from '../event-schemas.js';
import { startNotificationSubgraph } from './server.js';

/** The notification subgraph as its own process (docker compose); `npm start` runs it in-process instead. */
runProcess('notification', async (config, logger) => {
  const metrics = createMetrics(serviceRegistry('notification'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics });
  const { internalSecret } = authKeys(config, logger);
  const notification = await startNotificationSubgraph(
    {
      ...infrastructure,
      events: instrumentEventStore(infrastructure.events, metrics),
      metrics,
      logger,
      readiness: { ...infrastructure.readiness, ...readModelChecks('notification', infrastructure, config.projections.maxLagSeconds, metrics) },
      internalSecret,
      publicUrl: config.publicUrl,
      channels: config.notificationChannels,
      readAfterMaxWaitMs: config.projections.readAfterMaxWaitMs,
      dispatch: config.notificationDispatch,
      dispatcher: { lease: config.projectionLease },
    },
    { port: config.ports.notification, host: config.host },
  );
  return {
    stop: async () => {
      await notification.close();
      await infrastructure.close();
    },
  };
});
