import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { authKeys } from '../platform/auth/secrets.js';
import { ConfigError } from '../platform/config.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { runProcess } from '../platform/process.js';
import { openRateLimiter } from '../platform/ratelimit/open.js';
import { RedisPubSub } from '../platform/pubsub/redis-pubsub.js';
import { connectRedis, createRedis } from '../platform/redis/connection.js';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logging.js';
import { startGateway } from './server.js';

/**
 * The storefront's built files: dist/www next to this module when it runs compiled (the Docker
 * image, built by `npm run build`), or built now from storefront/src when it runs from source.
 */
async function storefrontFiles(logger: Logger): Promise<string | undefined> {
  const built = fileURLToPath(new URL('../www/', import.meta.url));
  if (!import.meta.url.endsWith('.ts')) return existsSync(built) ? built : undefined;
  try {
    const { ensureStorefront } = await import('../storefront/build.js');
    return await ensureStorefront();
  } catch (error) {
    logger.error({ err: error }, 'the storefront could not be built; the gateway serves GraphQL only');
    return undefined;
  }
}

/**
 * The pub/sub the response cache hears the projector's invalidations on: Redis, shared with the
 * projector process. Without Redis the gateway cannot hear them, so the cache is off (an error
 * when GATEWAY_RESPONSE_CACHE=true asked for it).
 */
async function invalidationFeed(config: Config, logger: Logger): Promise<RedisPubSub | undefined> {
  const url = config.servers.redis;
  if (config.responseCache.enabled === 'off') return undefined;
  if (!url) {
    if (config.responseCache.enabled === 'required') throw new ConfigError('GATEWAY_RESPONSE_CACHE=true needs REDIS_URL: the gateway hears the projector\'s invalidations on Redis pub/sub');
    logger.warn('response cache off: without REDIS_URL the gateway cannot hear the projector\'s invalidations (GATEWAY_RESPONSE_CACHE=false silences this)');
    return undefined;
  }
  const publisher = createRedis(url, logger, 'response-cache publisher');
  const subscriber = createRedis(url, logger, 'response-cache subscriber');
  try {
    await connectRedis(publisher, url, 'redis');
    await connectRedis(subscriber, url, 'redis');
  } catch (error) {
    publisher.disconnect();
    throw error;
  }
  return new RedisPubSub(publisher, subscriber, config.namespace, logger, {
    onClose: () => {
      publisher.disconnect();
      subscriber.disconnect();
    },
  });
}

/** The gateway as its own process: subgraph URLs come from the configuration. */
runProcess('gateway', async (config, logger) => {
  const { product, order, user, recommendation, notification } = config.subgraphUrls;
  if (!product || !order || !user || !recommendation || !notification) {
    throw new ConfigError('PRODUCT_SUBGRAPH_URL, ORDER_SUBGRAPH_URL, USER_SUBGRAPH_URL, RECOMMENDATION_SUBGRAPH_URL and NOTIFICATION_SUBGRAPH_URL are required when the gateway runs on its own');
  }
  const rateLimiting = await openRateLimiter(config, logger);
  const feed = await invalidationFeed(config, logger);
  const storefront = await storefrontFiles(logger);
  const gateway = await startGateway(
    {
      subgraphs: [
        { name: 'product', url: product },
        { name: 'order', url: order },
        { name: 'user', url: user },
        { name: 'recommendation', url: recommendation },
        { name: 'notification', url: notification },
      ],
      logger,
      metrics: createMetrics(serviceRegistry('gateway')),
      auth: authKeys(config, logger),
      limits: config.limits,
      subscriptions: config.subscriptions,
      limiter: rateLimiting.limiter,
      corsOrigins: config.corsOrigins,
      coalesceReads: config.coalesceReads,
      ...(feed && { responseCache: { pubsub: feed, maxBytes: config.responseCache.maxBytes } }),
      production: config.production,
      ...(storefront && { storefront }),
    },
    { port: config.ports.gateway, host: config.host },
  );
  return {
    stop: async () => {
      await gateway.close();
      await feed?.close();
      rateLimiting.close();
    },
  };
});
