import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { RESPONSE_INVALIDATIONS_CHANNEL } from '../platform/cache/response-tags.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import type { PubSub } from '../platform/pubsub/pubsub.js';
import { ResponseCache, type ResponseCacheOptions } from './response-cache.js';

/** In-process pub/sub that can be cut off: interrupted (as a dropped connection reports), or deaf (losing messages silently). */
class FaultyPubSub extends MemoryPubSub implements PubSub {
  deaf = false;
  private readonly interruptions = new Set<() => void>();

  override publish(channel: string, message: unknown): Promise<void> {
    return this.deaf ? Promise.resolve() : super.publish(channel, message);
  }

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

describe('the gateway response cache', () => {
  const caches: ResponseCache[] = [];
  const open = async (pubsub: PubSub = new MemoryPubSub(), options: ResponseCacheOptions = {}) => {
    const metrics = createMetrics(new Registry());
    const cache = new ResponseCache({ pubsub, metrics, logger: createLogger('test', 'silent') }, { heartbeatMs: 20, probeTimeoutMs: 100, ...options });
    caches.push(cache);
    await cache.start();
    return { cache, metrics, pubsub };
  };
  const invalidate = (pubsub: PubSub, tags: string[], positions: Record<string, number> = {}) => pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { tags, positions });
  const settle = () => sleep(5);
  afterEach(async () => {
    for (const cache of caches.splice(0)) await cache.close();
  });

  it('keeps an answer until one of its tags is invalidated, and only those answers', async () => {
    const { cache, pubsub } = await open();
    expect(cache.serving).toBe(true);
    cache.store(cache.begin(), 'one', CONTENT, answer(1), () => ['Product:p1']);
    cache.store(cache.begin(), 'other', CONTENT, answer(2), () => ['Product:p2']);
    expect(JSON.parse(cache.get('one')!.body)).toMatchObject({ data: { product: { price: 1 } } });
    await invalidate(pubsub, ['Product:p1']);
    await settle();
    expect(cache.get('one')).toBeUndefined();
    expect(cache.get('other')).toBeDefined();
  });

  it('does not keep an answer whose request began before one of its tags was invalidated (the read raced the change)', async () => {
    const { cache, pubsub, metrics } = await open();
    const ticket = cache.begin(); // the request starts, reads the old price ...
    await invalidate(pubsub, ['Product:p1']); // ... the change is projected meanwhile ...
    await settle();
    const etag = cache.store(ticket, 'one', CONTENT, answer(1), () => ['Product:p1']); // ... and its answer comes back
    expect(etag).toMatch(/^W\//);
    expect(cache.get('one')).toBeUndefined();
    expect((await metrics.responseCacheStoresRefused.get()).values[0]?.value).toBe(1);
    // An unrelated invalidation does not stop it; a request begun after the change is kept.
    const later = cache.begin();
    await invalidate(pubsub, ['Product:p2']);
    await settle();
    cache.store(later, 'one', CONTENT, answer(2), () => ['Product:p1']);
    expect(cache.get('one')?.body).toContain('"price":2');
  });

  it('keeps no errors and no answers without data', async () => {
    const { cache } = await open();
    cache.store(cache.begin(), 'e', CONTENT, JSON.stringify({ data: null, errors: [{ message: 'no' }] }), () => []);
    cache.store(cache.begin(), 'p', CONTENT, JSON.stringify({ data: { a: 1 }, errors: [{ message: 'partly' }] }), () => []);
    cache.store(cache.begin(), 'u', CONTENT, JSON.stringify({ data: { a: 1 } }), () => undefined);
    expect([cache.get('e'), cache.get('p'), cache.get('u')]).toEqual([undefined, undefined, undefined]);
  });

  it('states the positions heard since an answer was fetched (nothing it holds changed up to them), with an unchanged ETag', async () => {
    const { cache, pubsub } = await open();
    const etag = cache.store(cache.begin(), 'one', CONTENT, answer(1), () => ['Product:p1']);
    await invalidate(pubsub, ['Product:p2'], { 'product-catalog': 42 });
    await settle();
    const hit = cache.get('one')!;
    expect(JSON.parse(hit.body)).toEqual({ data: { product: { id: 'p1', price: 1 } }, extensions: { readModels: { 'product-catalog': 42 } } });
    expect(hit.etag).toBe(etag);
  });

  it('empties and pauses when pub/sub reports an interruption, and serves again once its probe comes back', async () => {
    const pubsub = new FaultyPubSub();
    const { cache, metrics } = await open(pubsub);
    const inFlight = cache.begin();
    cache.store(cache.begin(), 'one', CONTENT, answer(1), () => ['Product:p1']);
    pubsub.deaf = true;
    pubsub.interrupt();
    expect(cache.serving).toBe(false);
    expect(cache.get('one')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect((await metrics.responseCacheLive.get()).values[0]?.value).toBe(0);
    pubsub.deaf = false;
    for (let waited = 0; !cache.serving && waited < 2000; waited += 10) await sleep(10);
    expect(cache.serving).toBe(true);
    // A request that began before the outage may have missed an invalidation: its answer is not kept.
    cache.store(inFlight, 'one', CONTENT, answer(1), () => ['Product:p1']);
    expect(cache.get('one')).toBeUndefined();
    cache.store(cache.begin(), 'one', CONTENT, answer(2), () => ['Product:p1']);
    expect(cache.get('one')?.body).toContain('"price":2');
  });

  it('pauses when its probes stop coming back (a feed that died without a word), and resumes when they do', async () => {
    const pubsub = new FaultyPubSub();
    const { cache } = await open(pubsub);
    cache.store(cache.begin(), 'one', CONTENT, answer(1), () => ['Product:p1']);
    pubsub.deaf = true;
    for (let waited = 0; cache.serving && waited < 2000; waited += 10) await sleep(10);
    expect(cache.serving).toBe(false);
    expect(cache.get('one')).toBeUndefined();
    pubsub.deaf = false;
    for (let waited = 0; !cache.serving && waited < 2000; waited += 10) await sleep(10);
    expect(cache.serving).toBe(true);
  });

  it('holds a bounded number of answers, and forgets everything rather than lose track of a tag', async () => {
    const { cache, pubsub } = await open(new MemoryPubSub(), { maxEntries: 2, maxTrackedTags: 3 });
    for (const key of ['a', 'b', 'c']) cache.store(cache.begin(), key, CONTENT, answer(1), () => [`Product:${key}`]);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    await invalidate(pubsub, ['Product:x', 'Product:y', 'Product:z', 'Product:w']);
    await settle();
    expect(cache.size).toBe(0);
    expect(cache.serving).toBe(true);
  });
});
