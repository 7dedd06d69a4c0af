import { randomUUID } from 'node:crypto';
import { createLogger } from '../logging.js';
import { connectRedis, createRedis } from '../redis/connection.js';
import { withServer } from '../testing/servers.js';
import { cacheContract } from './cache.contract.js';
import { RedisCache } from './redis-cache.js';

withServer('REDIS_URL', 'Cache contract: Redis', (url) => {
  cacheContract('Redis', async () => {
    const redis = createRedis(url, createLogger('test', 'silent'), 'test');
    await connectRedis(redis, url, 'redis');
    return new RedisCache(redis, `test-${randomUUID()}`, { onClose: () => redis.disconnect() });
  });
});
