import { authKeys } from '../../platform/auth/secrets.js';
import { openInfrastructure } from '../../platform/infrastructure.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { runProcess } from '../../platform/process.js';
import { DEMO_SELLER_ACCOUNT } from '../product/demo-seed.js';
import { startUserSubgraph, userSubgraphDeps } from './server.js';
import { EVENT_SCHEMAS } from '../event-schemas.js';

/** The user subgraph as its own process (docker compose); `npm start` runs it in-process instead. */
runProcess('user', async (config, logger) => {
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS });
  const metrics = createMetrics(serviceRegistry('user'));
  const user = await startUserSubgraph(
    userSubgraphDeps(config, { ...infrastructure, metrics, logger, keys: authKeys(config, logger), demoSeller: DEMO_SELLER_ACCOUNT }),
    { port: config.ports.user, host: config.host },
  );
  return {
    stop: async () => {
      await user.close();
      await infrastructure.close();
    },
  };
});
