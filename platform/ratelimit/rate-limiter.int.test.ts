import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import { createLogger } from '../logging.js';
import { connectRedis, createRedis } from '../redis/connection.js';
import { withServer } from '../testing/servers.js';
import { rateLimiterContract } from './rate-limiter.contract.js';
import { MemoryRateLimiter, RedisRateLimiter } from './rate-limiter.js';

rateLimiterContract('in-process', () => Promise.resolve(new MemoryRateLimiter()));

withServer('REDIS_URL', 'RateLimiter contract: Redis', (url) => {
  const redis = createRedis(url, createLogger('test', 'silent'), 'test');
  afterAll(() => redis.disconnect());
  const namespace = `test-${randomUUID()}`;
  rateLimiterContract('Redis', async () => {
    if (redis.status !== 'ready') await connectRedis(redis, url, 'redis');
    return new RedisRateLimiter(redis, namespace);
  });
});
