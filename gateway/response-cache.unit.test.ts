import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { readModelTag, RESPONSE_INVALIDATIONS_CHANNEL, type ResponseInvalidation } from '../platform/cache/response-tags.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import type { PubSub } from '../platform/pubsub/pubsub.js';
import { ResponseCache, type ResponseCacheOptions } from './response-cache.js';

/** In-process pub/sub whose connection can be reported interrupted. */
class InterruptiblePubSub extends MemoryPubSub implements PubSub {
  private readonly interruptions = new Set<() => void>();

  override onInterrupted(listener: () => void): () => void {
    this.interruptions.add(listener);
    return () => this.interruptions.delete(listener);
  }

  interrupt(): void {
    for (const listener of this.interruptions) listener();
  }
}

const answer = (price: number) => JSON.stringify({ data: { product: { id: 'p1', price } }, extensions: { readModels: { 'product-catalog': 10 } } });
const CONTENT = 'application/json';
const CATALOG = 'product-catalog';
/** An answer read from the catalog, holding product `id`. */
const product = (id: string) => () => [`Product:${id}`, readModelTag(CATALOG)];

describe('the gateway response cache', () => {
  const caches: ResponseCache[] = [];
  const open = async (options: ResponseCacheOptions = {}, pubsub = new InterruptiblePubSub()) => {
    const metrics = createMetrics(new Registry());
    const cache = new ResponseCache({ pubsub, metrics, logger: createLogger('test', 'silent') }, { readModels: [CATALOG], staleAfterMs: 200, ...options });
    caches.push(cache);
    await cache.start(0);
    await beat(pubsub);
    return { cache, metrics, pubsub };
  };
  /** What the catalog's projector says every second while it has nothing undelivered. */
  const beat = async (pubsub: PubSub, instance = 'projector-1') => {
    await pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { alive: { readModel: CATALOG, instance } } satisfies ResponseInvalidation);
    await settle();
  };
  const invalidate = async (pubsub: PubSub, tags: string[], positions: Record<string, number> = {}) => {
    await pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { tags, positions } satisfies ResponseInvalidation);
    await settle();
  };
  const settle = () => sleep(2);
  afterEach(async () => {
    for (const cache of caches.splice(0)) await cache.close();
  });

  it('keeps an answer until one of its tags is invalidated, and only those answers', async () => {
    const { cache, pubsub } = await open();
    expect(cache.serving).toBe(true);
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'));
    cache.store(cache.begin(), 'other', CONTENT, answer(2), product('p2'));
    expect(JSON.parse(cache.get('one')!.body)).toMatchObject({ data: { product: { price: 1 } } });
    await invalidate(pubsub, ['Product:p1']);
    expect(cache.get('one')).toBeUndefined();
    expect(cache.get('other')).toBeDefined();
  });

  it('answers a request reading after a position only with an answer read at it or still valid after the projector announced reaching it (read-your-writes)', async () => {
    const { cache, pubsub, metrics } = await open();
    const agingTicket = cache.begin(); // a request begun before the projector announced 12
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1')); // read at 10
    expect(cache.get('one', { atLeast: 10 })).toBeDefined();
    expect(cache.get('one', { atLeast: 11 })).toBeUndefined(); // a write at 11 may be missing from it
    expect(cache.get('one')).toBeDefined(); // kept for requests without the position
    // The projector reached 12 (invalidating another product): nothing this answer holds changed up to 12.
    await invalidate(pubsub, ['Product:p2'], { [CATALOG]: 12 });
    expect(JSON.parse(cache.get('one', { atLeast: 12 })!.body)).toMatchObject({ extensions: { readModels: { [CATALOG]: 12 } } });
    expect(cache.get('one', { atLeast: 13 })).toBeUndefined();
    // An answer that ages out holds inputs no projection announces: only what it was read at counts.
    cache.store(agingTicket, 'aging', CONTENT, JSON.stringify({ data: { product: { id: 'p3' } }, extensions: { readModels: { [CATALOG]: 11 } } }), product('p3'), 60_000);
    expect(cache.get('aging', { atLeast: 11 })).toBeDefined();
    expect(cache.get('aging', { atLeast: 12 })).toBeUndefined();
    const behind = (await metrics.registry.getSingleMetric('storefront_cache_requests_total')?.get())?.values.find((v) => v.labels.result === 'behind')?.value;
    expect(behind).toBe(3);
  });

  it('serves an answer with a maximum age no longer than that after its request began', async () => {
    const { cache } = await open();
    const ticket = cache.begin();
    await sleep(30);
    cache.store(ticket, 'aging', CONTENT, answer(1), product('p1'), 80);
    cache.store(cache.begin(), 'lasting', CONTENT, answer(2), product('p2'));
    expect(cache.get('aging')).toBeDefined();
    await sleep(60);
    expect(cache.get('aging')).toBeUndefined();
    expect(cache.get('lasting')).toBeDefined();
  });

  it('does not keep an answer whose request began before one of its tags was invalidated (the read raced the change)', async () => {
    const { cache, pubsub, metrics } = await open();
    const ticket = cache.begin(); // the request starts, reads the old price ...
    await invalidate(pubsub, ['Product:p1']); // ... the change is projected meanwhile ...
    const etag = cache.store(ticket, 'one', CONTENT, answer(1), product('p1'))?.etag; // ... and its answer comes back
    expect(etag).toMatch(/^W\//);
    expect(cache.get('one')).toBeUndefined();
    expect((await metrics.responseCacheStoresRefused.get()).values[0]?.value).toBe(1);
    // An unrelated invalidation does not stop it; a request begun after the change is kept.
    const later = cache.begin();
    await invalidate(pubsub, ['Product:p2']);
    cache.store(later, 'one', CONTENT, answer(2), product('p1'));
    expect(cache.get('one')?.body).toContain('"price":2');
  });

  it('keeps no errors and no answers without data or tags', async () => {
    const { cache } = await open();
    cache.store(cache.begin(), 'e', CONTENT, JSON.stringify({ data: null, errors: [{ message: 'no' }] }), () => []);
    cache.store(cache.begin(), 'p', CONTENT, JSON.stringify({ data: { a: 1 }, errors: [{ message: 'partly' }] }), () => []);
    cache.store(cache.begin(), 'u', CONTENT, JSON.stringify({ data: { a: 1 } }), () => undefined);
    expect([cache.get('e'), cache.get('p'), cache.get('u')]).toEqual([undefined, undefined, undefined]);
  });

  it('states the positions heard since an answer was fetched (nothing it holds changed up to them), with an unchanged ETag', async () => {
    const { cache, pubsub } = await open();
    const etag = cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'))?.etag;
    await invalidate(pubsub, ['Product:p2'], { [CATALOG]: 42 });
    const hit = cache.get('one')!;
    expect(JSON.parse(hit.body)).toEqual({ data: { product: { id: 'p1', price: 1 } }, extensions: { readModels: { [CATALOG]: 42 } } });
    expect(hit.etag).toBe(etag);
    // A fetched answer states at least the positions heard when its request began.
    await invalidate(pubsub, ['Product:p9'], { [CATALOG]: 50 });
    const fetched = cache.store(cache.begin(), 'two', CONTENT, answer(3), product('p3'));
    expect(JSON.parse(fetched!.body)).toMatchObject({ extensions: { readModels: { [CATALOG]: 50 } } });
  });

  it('serves nothing from a read model before its projector is heard from (another feed, another namespace)', async () => {
    const pubsub = new InterruptiblePubSub();
    const cache = new ResponseCache({ pubsub, metrics: createMetrics(new Registry()), logger: createLogger('test', 'silent') }, { readModels: [CATALOG] });
    caches.push(cache);
    await cache.start(20);
    expect(cache.serving).toBe(false);
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'));
    expect(cache.get('one')).toBeUndefined();
  });

  it('stops serving when the projector falls silent, and forgets everything when it is heard again', async () => {
    const { cache, pubsub } = await open();
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'));
    const inFlight = cache.begin();
    await sleep(300); // no heartbeat: the projector may be holding undelivered invalidations
    expect(cache.serving).toBe(false);
    expect(cache.get('one')).toBeUndefined();
    await beat(pubsub);
    expect(cache.serving).toBe(true);
    expect(cache.get('one')).toBeUndefined();
    cache.store(inFlight, 'one', CONTENT, answer(1), product('p1')); // begun before the lapse
    expect(cache.get('one')).toBeUndefined();
    cache.store(cache.begin(), 'one', CONTENT, answer(2), product('p1'));
    expect(cache.get('one')?.body).toContain('"price":2');
  });

  it('forgets everything when the projector restarts (invalidations it held may be lost)', async () => {
    const { cache, pubsub } = await open();
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'));
    await beat(pubsub, 'projector-1');
    expect(cache.get('one')).toBeDefined();
    await beat(pubsub, 'projector-2');
    expect(cache.get('one')).toBeUndefined();
  });

  it('serves while several projectors of a read model are heard, and forgets everything when one falls silent', async () => {
    const { cache, pubsub } = await open({ staleAfterMs: 150 });
    await beat(pubsub, 'projector-2');
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'));
    await beat(pubsub, 'projector-1');
    await beat(pubsub, 'projector-2');
    expect(cache.get('one')).toBeDefined(); // both known: no flush as they take turns
    for (let i = 0; i < 4; i++) {
      await sleep(50);
      await beat(pubsub, 'projector-2'); // projector-1 has stopped (it may have lost invalidations)
    }
    expect(cache.serving).toBe(true);
    expect(cache.get('one')).toBeUndefined();
  });

  it('empties and pauses when pub/sub reports an interruption, until the projector is heard again', async () => {
    const { cache, pubsub, metrics } = await open();
    const inFlight = cache.begin();
    cache.store(cache.begin(), 'one', CONTENT, answer(1), product('p1'));
    pubsub.interrupt();
    expect(cache.serving).toBe(false);
    expect(cache.get('one')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect((await metrics.responseCacheLive.get()).values[0]?.value).toBe(0);
    await beat(pubsub);
    expect(cache.serving).toBe(true);
    // A request that began before the interruption may have missed an invalidation: its answer is not kept.
    cache.store(inFlight, 'one', CONTENT, answer(1), product('p1'));
    expect(cache.get('one')).toBeUndefined();
  });

  it('holds a bounded number of answers, and forgets everything rather than lose track of a tag', async () => {
    const { cache, pubsub } = await open({ maxEntries: 2, maxTrackedTags: 3 });
    for (const key of ['a', 'b', 'c']) cache.store(cache.begin(), key, CONTENT, answer(1), product(key));
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    await invalidate(pubsub, ['Product:x', 'Product:y', 'Product:z', 'Product:w']);
    expect(cache.size).toBe(0);
    expect(cache.serving).toBe(true);
  });
});
