import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../../../platform/documents/memory-document-store.js';
import type { EventStore, RecordedEvent } from '../../../platform/event-store/event-store.js';
import { FileEventStore } from '../../../platform/event-store/file-event-store.js';
import { createLogger } from '../../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../../platform/pubsub/memory-pubsub.js';
import { Projector } from '../../../projections/projector.js';
import type { Actor } from '../decider.js';
import { ProductService } from '../service.js';
import { catalogProjection } from './projection.js';
import { RESPONSE_INVALIDATIONS_CHANNEL, type ResponseInvalidation } from '../../../platform/cache/response-tags.js';
import { CATALOG, STOCK_CHANNEL, type ProductDoc, type StockNotification } from './read-model.js';

const seller: Actor = { userId: randomUUID(), role: 'SELLER' };

describe('product catalog projection', () => {
  let dir: string;
  let events: EventStore;
  let service: ProductService;
  const metrics = () => createMetrics(serviceRegistry('test', { processMetrics: false }));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    events = await FileEventStore.open(dir, { fsync: false });
    service = new ProductService({ events, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger: createLogger('test', 'silent'), clock: () => new Date() });
  });
  afterEach(async () => {
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A history touching every event type, several products, interleaved. */
  async function history(): Promise<RecordedEvent[]> {
    const a = await service.create({ sku: `A-${randomUUID().slice(0, 8)}`, name: 'Alpha', category: 'c1', description: null, price: { amount: 500, currency: 'EUR' }, initialStock: 2 }, seller);
    const b = await service.create({ sku: `B-${randomUUID().slice(0, 8)}`, name: 'Beta', category: 'c2', description: 'b', price: { amount: 900, currency: 'EUR' }, initialStock: 0 }, seller);
    await service.restock(a._id, 5, seller);
    await service.update(b._id, { name: 'Beta 2', price: { amount: 950, currency: 'USD' } }, 0, seller);
    await service.restock(b._id, 1, seller);
    await service.discontinue(a._id, seller);
    await service.update(b._id, { description: '' }, null, seller);
    const all: RecordedEvent[] = [];
    const sub = events.subscribeToAll({ from: 'start' });
    const head = await events.headPosition();
    for await (const e of sub) {
      all.push(e);
      if (e.position === head) break;
    }
    await sub.close();
    return all;
  }

  async function project(all: readonly RecordedEvent[], documents = new MemoryDocumentStore()) {
    for (const e of all) await catalogProjection.apply(e, { collection: (name) => documents.collection(name) });
    return (await documents.collection<ProductDoc>(CATALOG).find({ first: 100 })).items;
  }

  it('builds one document per product reflecting every change', async () => {
    const docs = await project(await history());
    expect(docs.map((d) => [d.name, d.stock, d.status, d.price.currency, d.version, d.description])).toEqual(
      expect.arrayContaining([
        ['Alpha', 0, 'DISCONTINUED', 'EUR', 2, null],
        ['Beta 2', 1, 'ACTIVE', 'USD', 3, null],
      ]),
    );
  });

  it('is idempotent: every event applied twice gives the same read model as once', async () => {
    const all = await history();
    const once = await project(all);
    const twice = await project([...all, ...all]);
    const interleaved = await project(all.flatMap((e) => [e, e]));
    expect(twice).toEqual(once);
    expect(interleaved).toEqual(once);
  });

  it('ignores an older event delivered after a newer one', async () => {
    const all = await history();
    const documents = new MemoryDocumentStore();
    const once = await project(all, documents);
    const stale = all.find((e) => e.type === 'ProductRestocked')!;
    const result = await catalogProjection.apply(stale, { collection: (name) => documents.collection(name) });
    expect(result.changed).toBe(false);
    expect((await documents.collection<ProductDoc>(CATALOG).find({ first: 100 })).items).toEqual(once);
  });

  it('the projector resumes from its checkpoint, publishes stock changes, and a rebuild switches to an identical read model', async () => {
    const documents = new MemoryDocumentStore();
    const pubsub = new MemoryPubSub();
    const deps = { events, documents, cache: new MemoryCache(), pubsub, metrics: metrics(), logger: createLogger('test', 'silent') };
    const all = await history();
    const head = all[all.length - 1]!.position;
    const notifications = pubsub.subscribe<StockNotification>(STOCK_CHANNEL);
    const first = new Projector(catalogProjection, deps, { checkpointEveryMs: 0 });
    await first.start();
    await first.waitFor(head);
    await first.stop();
    const built = (await documents.collection<ProductDoc>(CATALOG).find({ first: 100 })).items;
    expect(built).toEqual(await project(all));

    const seen: StockNotification[] = [];
    for await (const n of notifications) {
      seen.push(n);
      if (seen.length === 5) break;
    }
    expect(seen.map((n) => [n.reason, n.previousStock, n.stock])).toEqual([
      ['CREATED', 0, 2],
      ['CREATED', 0, 0],
      ['RESTOCKED', 2, 7],
      ['RESTOCKED', 0, 1],
      ['DISCONTINUED', 7, 0],
    ]);

    const second = new Projector(catalogProjection, deps, { checkpointEveryMs: 0 });
    await second.start();
    expect(second.currentPosition).toBe(head); // resumed, not replayed
    const progress = await second.rebuild();
    expect(progress).toMatchObject({ state: 'done', position: head });
    expect((await documents.collection<ProductDoc>(CATALOG).find({ first: 100 })).items).toEqual(built);
    const c = await service.create({ sku: `C-${randomUUID().slice(0, 8)}`, name: 'Gamma', category: 'c1', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
    await second.waitFor(await events.headPosition());
    expect(await documents.collection<ProductDoc>(CATALOG).get(c._id)).toMatchObject({ name: 'Gamma' });
    await second.stop();
  });

  it('rebuilds a read model that is ahead of the event store (built from other events) before projecting', async () => {
    const documents = new MemoryDocumentStore();
    const deps = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger: createLogger('test', 'silent') };
    await history();
    const first = new Projector(catalogProjection, deps, { checkpointEveryMs: 0 });
    await first.start();
    await first.waitFor(await events.headPosition());
    await first.stop();
    expect(await documents.collection(CATALOG).count()).toBe(2);

    // Same read model, a new (empty, then shorter) event store: the old documents must go.
    const otherDir = mkdtempSync(join(tmpdir(), 'catalog-other-'));
    const other = await FileEventStore.open(otherDir, { fsync: false });
    try {
      const otherService = new ProductService({ events: other, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger: createLogger('test', 'silent'), clock: () => new Date() });
      const only = await otherService.create({ sku: `O-${randomUUID().slice(0, 8)}`, name: 'Only', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
      const second = new Projector(catalogProjection, { ...deps, events: other }, { checkpointEveryMs: 0 });
      await second.start();
      await second.waitFor(await other.headPosition());
      expect((await documents.collection<ProductDoc>(CATALOG).find({ first: 10 })).items.map((d) => d._id)).toEqual([only._id]);
      await second.stop();
    } finally {
      await other.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('tells the gateway which product changed, and that lists changed only when they may hold or order products differently', async () => {
    const all = await history();
    const documents = new MemoryDocumentStore();
    const announced: string[][] = [];
    for (const e of all) announced.push((await catalogProjection.apply(e, { collection: (name) => documents.collection(name) })).responseTags ?? []);
    const lists = announced.map((tags) => tags.includes('Product:list'));
    // create a, create b, restock a (2 -> 7), rename and reprice b, restock b (0 -> 1), discontinue a, describe b
    expect(lists).toEqual([true, true, false, true, true, true, false]);
    for (const [i, tags] of announced.entries()) expect(tags).toEqual(expect.arrayContaining([`Product:${(all[i]!.data as { productId: string }).productId}`, 'Product:*']));
    // Applied again (at-least-once delivery): nothing changes, nothing is announced.
    expect((await catalogProjection.apply(all[2]!, { collection: (name) => documents.collection(name) })).responseTags).toBeUndefined();
  });

  it('publishes the announcements on pub/sub once the read model is written, with its position, and says it is alive', async () => {
    const pubsub = new MemoryPubSub();
    const documents = new MemoryDocumentStore();
    const heard = pubsub.subscribe<ResponseInvalidation>(RESPONSE_INVALIDATIONS_CHANNEL);
    const projector = new Projector(catalogProjection, { events, documents, cache: new MemoryCache(), pubsub, metrics: metrics(), logger: createLogger('test', 'silent') }, { checkpointEveryMs: 0 });
    await projector.start();
    try {
      const p = await service.create({ sku: `P-${randomUUID().slice(0, 8)}`, name: 'Pub', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
      let message = (await heard.next()).value as ResponseInvalidation;
      expect(message).toMatchObject({ alive: { readModel: 'product-catalog' } }); // the heartbeat, at once
      while (message.alive) message = (await heard.next()).value as ResponseInvalidation;
      expect(message.tags).toEqual(expect.arrayContaining([`Product:${p._id}`, 'Product:list']));
      expect(message.positions?.['product-catalog']).toBe(await events.headPosition());
      expect(await documents.collection(CATALOG).get(p._id)).toBeTruthy();
    } finally {
      await heard.return?.();
      await projector.stop();
    }
  });

  it('handles concurrent restocks of one product without losing any (conflicts retried)', async () => {
    const p = await service.create({ sku: `R-${randomUUID().slice(0, 8)}`, name: 'Race', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 0 }, seller);
    const results = await Promise.all(Array.from({ length: 20 }, () => service.restock(p._id, 1, seller)));
    expect(results.map((r) => r.stock).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await events.readStream(`product-${p._id}`)).length).toBe(21);
  });
});
