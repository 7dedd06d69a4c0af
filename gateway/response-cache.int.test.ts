import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelTag, RESPONSE_INVALIDATIONS_CHANNEL } from '../platform/cache/response-tags.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics } from '../platform/metrics/metrics.js';
import { RedisPubSub } from '../platform/pubsub/redis-pubsub.js';
import { connectRedis, createRedis } from '../platform/redis/connection.js';
import { withServer } from '../platform/testing/servers.js';
import { ResponseCache } from './response-cache.js';

const answer = (price: number) => JSON.stringify({ data: { product: { id: 'p1', price } } });
const CATALOG = 'product-catalog';
const tags = () => ['Product:p1', readModelTag(CATALOG)];
const until = async (condition: () => boolean, timeoutMs = 10_000) => {
  for (const deadline = Date.now() + timeoutMs; !condition(); await sleep(10)) if (Date.now() > deadline) throw new Error('timed out');
};

withServer('REDIS_URL', 'the gateway response cache over Redis pub/sub', (url) => {
  describe('the gateway response cache over Redis pub/sub', () => {
    const namespace = `rc-${randomUUID().slice(0, 8)}`;
    const logger = createLogger('test', 'silent');
    const open = async () => {
      const publisher = createRedis(url, logger, 'publisher');
      const subscriber = createRedis(url, logger, 'subscriber');
      await connectRedis(publisher, url, 'redis');
      await connectRedis(subscriber, url, 'redis');
      const pubsub = new RedisPubSub(publisher, subscriber, namespace, logger, {
        onClose: () => {
          publisher.disconnect();
          subscriber.disconnect();
        },
      });
      return { pubsub, subscriber };
    };
    let gateway: Awaited<ReturnType<typeof open>>;
    let projector: Awaited<ReturnType<typeof open>>;
    let cache: ResponseCache;
    let heartbeats: NodeJS.Timeout | undefined;
    const metrics = createMetrics(new Registry());
    beforeAll(async () => {
      gateway = await open();
      projector = await open();
      // The projector's heartbeat (projections/effects.ts), from its own connection.
      heartbeats = setInterval(() => void projector.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { alive: { readModel: CATALOG, instance: 'one' } }).catch(() => undefined), 100);
      cache = new ResponseCache({ pubsub: gateway.pubsub, metrics, logger }, { readModels: [CATALOG], staleAfterMs: 1000 });
      await cache.start();
    });
    afterAll(async () => {
      clearInterval(heartbeats);
      await cache?.close();
      await gateway?.pubsub.close();
      await projector?.pubsub.close();
    });

    it('hears the projector: an invalidation published by another process voids the answers holding its tag', async () => {
      expect(cache.serving).toBe(true);
      cache.store(cache.begin(), 'one', 'application/json', answer(1), tags);
      expect(cache.get('one')).toBeDefined();
      await projector.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { tags: ['Product:p1'] });
      await until(() => cache.get('one') === undefined, 5000);
    });

    it('empties itself and serves nothing while its subscriber connection is down, and serves again once it is resubscribed', async () => {
      cache.store(cache.begin(), 'one', 'application/json', answer(1), tags);
      const inFlight = cache.begin();
      gateway.subscriber.disconnect(true); // the connection drops; ioredis reconnects and resubscribes
      await until(() => !cache.serving, 2000);
      expect(cache.get('one')).toBeUndefined();
      // Published while the gateway may not be subscribed: possibly lost, which must not matter.
      await projector.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { tags: ['Product:p1'] });
      await until(() => cache.serving); // resubscribed: the projector's heartbeat is heard again
      cache.store(inFlight, 'one', 'application/json', answer(1), tags);
      expect(cache.get('one')).toBeUndefined(); // begun before the outage: not kept
      cache.store(cache.begin(), 'one', 'application/json', answer(2), tags);
      expect(cache.get('one')?.body).toContain('"price":2');
      // And it hears invalidations again.
      await projector.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { tags: ['Product:p1'] });
      await until(() => cache.get('one') === undefined, 5000);
      const flushes = (await metrics.responseCacheFlushes.get()).values.map((v) => v.labels.reason);
      expect(flushes).toContain('pub/sub connection interrupted');
    });
  });
});
