import { openInfrastructure } from '../platform/infrastructure.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { runProcess } from '../platform/process.js';
import { GATEWAY_FEEDS, PUBLIC_CONTRACTS, readModels } from './registry.js';
import { leasedProjectors } from './leadership.js';
import { relayProjection } from './relay.js';
import { startProjectorHttp } from './server.js';
import { EVENT_SCHEMAS } from '../subgraphs/event-schemas.js';

/**
 * The projector process: every read-model projection, with /metrics, health and the rebuild
 * endpoint. Each projection runs under a lease, so several projector processes may run on the
 * same servers: one writes each read model, the others stand by and take over when it dies.
 */
runProcess('projector', async (config, logger) => {
  const metrics = createMetrics(serviceRegistry('projector'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics });
  const leaderships = leasedProjectors([...readModels(config.recommendations), ...GATEWAY_FEEDS, relayProjection(infrastructure.bus, PUBLIC_CONTRACTS)], { ...infrastructure, metrics, logger }, config.projections, config.projectionLease);
  for (const l of leaderships) await l.start();
  const projectors = leaderships.map((l) => l.projector);
  const http = await startProjectorHttp(
    { projectors, metrics, logger, production: config.production, readiness: infrastructure.readiness, ...(config.adminToken && { adminToken: config.adminToken }) },
    { port: config.ports.projector, host: config.host },
  );
  return {
    stop: async () => {
      await http.close();
      for (const l of leaderships) await l.stop();
      await infrastructure.close();
    },
  };
});
