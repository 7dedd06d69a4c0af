import { authKeys } from '../platform/auth/secrets.js';
import { ConfigError } from '../platform/config.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { runProcess } from '../platform/process.js';
import { openRateLimiter } from '../platform/ratelimit/open.js';
import { startGateway } from './server.js';

/** The gateway as its own process: subgraph URLs come from the configuration. */
runProcess('gateway', async (config, logger) => {
  const { product, order, user, recommendation } = config.subgraphUrls;
  if (!product || !order || !user || !recommendation) {
    throw new ConfigError('PRODUCT_SUBGRAPH_URL, ORDER_SUBGRAPH_URL, USER_SUBGRAPH_URL and RECOMMENDATION_SUBGRAPH_URL are required when the gateway runs on its own');
  }
  const rateLimiting = await openRateLimiter(config, logger);
  const gateway = await startGateway(
    {
      subgraphs: [
        { name: 'product', url: product },
        { name: 'order', url: order },
        { name: 'user', url: user },
        { name: 'recommendation', url: recommendation },
      ],
      logger,
      metrics: createMetrics(serviceRegistry('gateway')),
      auth: authKeys(config, logger),
      limits: config.limits,
      limiter: rateLimiting.limiter,
      corsOrigins: config.corsOrigins,
      coalesceReads: config.coalesceReads,
      production: config.production,
    },
    { port: config.ports.gateway, host: config.host },
  );
  return {
    stop: async () => {
      await gateway.close();
      rateLimiting.close();
    },
  };
});
