import { authKeys } from '../../platform/auth/secrets.js';
import { openInfrastructure } from '../../platform/infrastructure.js';
import { instrumentEventStore } from '../../platform/metrics/instrumented-event-store.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { runProcess } from '../../platform/process.js';
import { readModelChecks } from '../../projections/registry.js';
import { startRecommendationSubgraph } from './server.js';
import { EVENT_SCHEMAS } from '../event-schemas.js';

/** The recommendation subgraph as its own process (docker compose); `npm start` runs it in-process instead. */
runProcess('recommendation', async (config, logger) => {
  const metrics = createMetrics(serviceRegistry('recommendation'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics });
  const { internalSecret } = authKeys(config, logger);
  const recommendation = await startRecommendationSubgraph(
    {
      ...infrastructure,
      events: instrumentEventStore(infrastructure.events, metrics),
      metrics,
      logger,
      readiness: { ...infrastructure.readiness, ...readModelChecks('recommendation', infrastructure, config.projections.maxLagSeconds, metrics) },
      internalSecret,
      readAfterMaxWaitMs: config.projections.readAfterMaxWaitMs,
    },
    { port: config.ports.recommendation, host: config.host },
  );
  return {
    stop: async () => {
      await recommendation.close();
      await infrastructure.close();
    },
  };
});
