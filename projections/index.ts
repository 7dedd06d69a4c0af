import { openInfrastructure } from '../platform/infrastructure.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { runProcess } from '../platform/process.js';
import { GATEWAY_FEEDS, PUBLIC_CONTRACTS, readModels } from './registry.js';
import { Projector } from './projector.js';
import { relayProjection } from './relay.js';
import { startProjectorHttp } from './server.js';
import { EVENT_SCHEMAS } from '../subgraphs/event-schemas.js';

/** The projector process: every read-model projection, with /metrics, health and the rebuild endpoint. */
runProcess('projector', async (config, logger) => {
  const metrics = createMetrics(serviceRegistry('projector'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics });
  const projectors = [...readModels(config.recommendations), ...GATEWAY_FEEDS, relayProjection(infrastructure.bus, PUBLIC_CONTRACTS)].map((projection) => new Projector(projection, { ...infrastructure, metrics, logger }, config.projections));
  for (const p of projectors) await p.start();
  const http = await startProjectorHttp(
    { projectors, metrics, logger, production: config.production, readiness: infrastructure.readiness, ...(config.adminToken && { adminToken: config.adminToken }) },
    { port: config.ports.projector, host: config.host },
  );
  return {
    stop: async () => {
      await http.close();
      for (const p of projectors) await p.stop();
      await infrastructure.close();
    },
  };
});
