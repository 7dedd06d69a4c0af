import { randomUUID } from 'node:crypto';
import { createLogger } from '../logging.js';
import { connectRedis, createRedis } from '../redis/connection.js';
import { withServer } from '../testing/servers.js';
import { pubSubContract } from './pubsub.contract.js';
import { RedisPubSub } from './redis-pubsub.js';

withServer('REDIS_URL', 'PubSub contract: Redis', (url) => {
  const namespace = `test-${randomUUID()}`;
  pubSubContract('Redis', async () => {
    const logger = createLogger('test', 'silent');
    const publisher = createRedis(url, logger, 'publisher');
    const subscriber = createRedis(url, logger, 'subscriber');
    await connectRedis(publisher, url, 'redis');
    await connectRedis(subscriber, url, 'redis');
    return new RedisPubSub(publisher, subscriber, namespace, logger, {
      onClose: () => {
        publisher.disconnect();
        subscriber.disconnect();
      },
    });
  });
});
