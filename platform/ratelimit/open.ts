import type { Config } from '../config.js';
import type { Logger } from '../logging.js';
import { connectRedis, createRedis } from '../redis/connection.js';
import { FallbackRateLimiter, MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limiter.js';

/** For processes that need only the rate limiter (the gateway): Redis when configured, else in-process. */
export async function openRateLimiter(config: Config, logger: Logger): Promise<{ limiter: RateLimiter; readiness: Record<string, () => Promise<void>>; close(): void }> {
  const url = config.servers.redis;
  if (!url) return { limiter: new MemoryRateLimiter(), readiness: {}, close: () => undefined };
  const redis = createRedis(url, logger, 'rate-limit');
  await connectRedis(redis, url, 'redis');
  const limiter = new FallbackRateLimiter(new RedisRateLimiter(redis, config.namespace), new MemoryRateLimiter(), (error) => logger.warn({ err: error }, 'rate limiting falls back to in-process windows while Redis is unreachable'));
  return { limiter, readiness: { redis: async () => void (await redis.ping()) }, close: () => redis.disconnect() };
}
