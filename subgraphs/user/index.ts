import { authKeys } from '../../platform/auth/secrets.js';
import { openInfrastructure } from '../../platform/infrastructure.js';
import { instrumentEventStore } from '../../platform/metrics/instrumented-event-store.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { runProcess } from '../../platform/process.js';
import { startUserSubgraph } from './server.js';

/** The user subgraph as its own process (docker compose); `npm start` runs it in-process instead. */
runProcess('user', async (config, logger) => {
  const infrastructure = await openInfrastructure(config, logger);
  const metrics = createMetrics(serviceRegistry('user'));
  const keys = authKeys(config, logger);
  const user = await startUserSubgraph(
    {
      events: instrumentEventStore(infrastructure.events, metrics),
      metrics,
      logger,
      tokens: keys.tokens,
      internalSecret: keys.internalSecret,
      kdf: { N: 2 ** config.auth.passwordHashCost, r: 8, p: 1 },
      limiter: infrastructure.limiter,
      loginLimits: { perEmail: config.auth.loginAttemptsPerEmail, perAddress: config.auth.loginAttemptsPerAddress },
      readiness: infrastructure.readiness,
      admin: config.auth.admin,
    },
    { port: config.ports.user, host: config.host },
  );
  return {
    stop: async () => {
      await user.close();
      await infrastructure.close();
    },
  };
});
