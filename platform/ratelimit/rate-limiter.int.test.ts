import { randomUUID } from 'node:crypto';
import { createLogger } from '../logging.js';
import { connectRedis, createRedis } from '../redis/connection.js';
import { withServer } from '../testing/servers.js';
import { rateLimiterContract } from './rate-limiter.contract.js';
import { afterAll, describe, expect, it } from 'vitest';
import { FallbackRateLimiter, MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limiter.js';

rateLimiterContract('in-process', () => Promise.resolve(new MemoryRateLimiter()));

describe('FallbackRateLimiter', () => {
  it('uses the fallback window while the primary fails, and says so', async () => {
    const failures: unknown[] = [];
    const broken: RateLimiter = { hit: () => Promise.reject(new Error('redis down')) };
    const limiter = new FallbackRateLimiter(broken, new MemoryRateLimiter(), (e) => failures.push(e));
    const decisions = await Promise.all([1, 2, 3].map(() => limiter.hit('k', 2, 1000)));
    expect(decisions.map((d) => d.allowed).sort()).toEqual([false, true, true]);
    expect(failures).toHaveLength(1);
  });
});

withServer('REDIS_URL', 'RateLimiter contract: Redis', (url) => {
  const redis = createRedis(url, createLogger('test', 'silent'), 'test');
  afterAll(() => redis.disconnect());
  const namespace = `test-${randomUUID()}`;
  rateLimiterContract('Redis', async () => {
    if (redis.status !== 'ready') await connectRedis(redis, url, 'redis');
    return new RedisRateLimiter(redis, namespace);
  });
});
