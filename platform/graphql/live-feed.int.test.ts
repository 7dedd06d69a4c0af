import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { createMetrics } from '../metrics/metrics.js';
import { MemoryPubSub } from '../pubsub/memory-pubsub.js';
import { RedisPubSub } from '../pubsub/redis-pubsub.js';
import { connectRedis, createRedis } from '../redis/connection.js';
import { withServer } from '../testing/servers.js';
import { cursorOf, FeedEnd, type Positioned } from '../subscriptions/cursor.js';
import { liveFeed, startCursor } from './live-feed.js';

type Note = Positioned & { n: number };
const note = (position: number): Note => ({ position, at: new Date(1_700_000_000_000 + position).toISOString(), n: position });
const take = async (feed: AsyncIterableIterator<Note | FeedEnd>) => {
  const r = await feed.next();
  return r.done ? undefined : r.value;
};

describe('liveFeed', () => {
  it('sends the catch-up, then only live notifications beyond its horizon, in order', async () => {
    const pubsub = new MemoryPubSub();
    const subscription = pubsub.subscribe<Note>('notes');
    const feed = liveFeed({ field: 'f', subscription, metrics: createMetrics(new Registry()), clock: () => new Date(), wanted: () => true, catchUp: [note(1), note(2)], horizon: 5, startCursor: 'c' });
    for (const p of [3, 5, 6, 7]) await pubsub.publish('notes', note(p));
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(((await take(feed)) as Note).n);
    expect(seen).toEqual([1, 2, 6, 7]);
    await feed.return?.();
  });
});

withServer('REDIS_URL', 'liveFeed over Redis: an interrupted connection ends it with SUBSCRIPTION_INTERRUPTED', (url) => {
  describe('liveFeed over Redis', () => {
    it('ends with SUBSCRIPTION_INTERRUPTED and the last cursor delivered when the connection drops, instead of silently missing what was published meanwhile', async () => {
      const logger = createLogger('test', 'silent');
      const publisher = createRedis(url, logger, 'publisher');
      const subscriber = createRedis(url, logger, 'subscriber');
      await connectRedis(publisher, url, 'redis');
      await connectRedis(subscriber, url, 'redis');
      const pubsub = new RedisPubSub(publisher, subscriber, `test-${randomUUID()}`, logger, { onClose: () => void (publisher.disconnect(), subscriber.disconnect()) });
      try {
        const subscription = pubsub.subscribe<Note>('notes');
        await subscription.ready;
        const feed = liveFeed({ field: 'f', subscription, metrics: createMetrics(new Registry()), clock: () => new Date(), wanted: () => true, startCursor: startCursor(0, new Date()), interruptions: pubsub });
        await pubsub.publish('notes', note(10));
        expect(((await take(feed)) as Note).n).toBe(10);
        const pending = take(feed);
        subscriber.disconnect(true); // drops the connection; ioredis reconnects by itself
        const end = await pending;
        expect(end).toBeInstanceOf(FeedEnd);
        expect((end as FeedEnd).error.extensions).toEqual({ code: 'SUBSCRIPTION_INTERRUPTED', cursor: cursorOf(note(10)) });
        expect(await take(feed)).toBeUndefined();
      } finally {
        await pubsub.close();
      }
    });
  });
});
