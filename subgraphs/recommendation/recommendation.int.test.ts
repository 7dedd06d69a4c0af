import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeConsumers, type BusObserver, type DeliveredMessage } from '../../platform/bus/bus.js';
import { MemoryCache } from '../../platform/cache/memory-cache.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createLogger } from '../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../platform/pubsub/memory-pubsub.js';
import { eventually } from '../../platform/testing/eventually.js';
import { readModelDigest } from '../../platform/testing/read-model-hash.js';
import { Projector } from '../../projections/projector.js';
import type { Actor } from '../order/decider.js';
import { ORDER_TOPIC } from '../order/public-events.js';
import { startSaga } from '../order/saga-harness.js';
import { PRODUCT_TOPIC } from '../product/public-events.js';
import { PRODUCT_FACTS_GROUP, PURCHASES_GROUP } from './consumers.js';
import { productFactsStream } from './events.js';
import { recommendationProjections } from './read-model/projections.js';
import { CO_PURCHASES, PRODUCT_FACTS, USER_HISTORY, type CoPurchaseDoc, type ProductFactsDoc, type UserHistoryDoc } from './read-model/read-model.js';
import { startRecommendationConsumers } from './server.js';
import { RecommendationService } from './service.js';
import { onEmbeddedAndRealServers, readAllEvents, type OpenBus, type OpenDocuments } from '../../platform/testing/suite-stores.js';

/** Counts messages each consumer group handled, by message id (a redelivery counts again). */
class HandledCounter implements BusObserver {
  private readonly handled = new Map<string, number>();
  consumed(topic: string, groupId: string, outcome: 'ok' | 'retry' | 'dead_letter', messageId: string): void {
    const key = `${topic}|${groupId}|${outcome}|${messageId}`;
    this.handled.set(key, (this.handled.get(key) ?? 0) + 1);
  }
  times(topic: string, groupId: string, messageId: string): number {
    return this.handled.get(`${topic}|${groupId}|ok|${messageId}`) ?? 0;
  }
}

const groupOf = (topic: string) => (topic === ORDER_TOPIC ? PURCHASES_GROUP : PRODUCT_FACTS_GROUP);

/**
 * The recommendation slice between real services: products and paid orders go through the
 * product and order services and the relay; the recommendation consumers record them as its own
 * events; its projections build the read models. The same suite runs on the embedded bus and
 * document store, and on Kafka and FerretDB when they are configured.
 */
function recommendationSuite(name: string, openBus: OpenBus, openDocuments: OpenDocuments) {
  describe(`recommendation consumers and read models (${name})`, () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
    const logger = createLogger('recommendation-test', 'silent');

    it('records paid orders, withdrawals, product facts and views once each, ranks from them, and rebuilds to identical read models', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'recommendation-'));
      dirs.push(dir);
      const counter = new HandledCounter();
      const events = await FileEventStore.open(dir, { fsync: false });
      const bus = await openBus(counter);
      const { documents, drop } = await openDocuments();
      const collected: DeliveredMessage[] = [];
      const collector = await bus.consume({
        groupId: `collect-${randomUUID()}`,
        topics: [ORDER_TOPIC, PRODUCT_TOPIC],
        handler: (m) => {
          if (!collected.some((x) => x.id === m.id)) collected.push(m);
          return Promise.resolve();
        },
      });
      const saga = await startSaga({ bus, events, logger });
      let now = new Date();
      const metrics = createMetrics(serviceRegistry('recommendation-test', { processMetrics: false }));
      const cache = new MemoryCache();
      const ports = { events, documents, cache, pubsub: new MemoryPubSub(), metrics, logger };
      const service = new RecommendationService({ ...ports, clock: () => now });
      const consumers = await startRecommendationConsumers(bus, service);
      const projectors = recommendationProjections().map((p) => new Projector(p, ports, { checkpointEveryMs: 0 }));
      for (const p of projectors) await p.start();
      try {
        const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
        const create = (tag: string, category = 'home') =>
          saga.products.create({ sku: `REC-${tag}-${randomUUID().slice(0, 8)}`, name: tag, category, description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 50 }, seller);
        const [a, b, c, d] = await Promise.all(['A', 'B', 'C', 'D'].map((tag) => create(tag)));
        const ids = { a: a!._id, b: b!._id, c: c!._id, d: d!._id };
        const facts = documents.collection<ProductFactsDoc>(PRODUCT_FACTS);
        await eventually(async () => expect((await facts.getMany(Object.values(ids))).length).toBe(4), 60_000);

        const customers: Actor[] = Array.from({ length: 4 }, () => ({ userId: randomUUID(), role: 'CUSTOMER' }));
        const buy = async (customer: Actor, productIds: string[]) => {
          const order = await saga.orders.place({ items: productIds.map((productId) => ({ productId, quantity: 1 })) }, customer);
          await eventually(async () => expect((await saga.orders.order(order._id, customer))?.status).toBe('CONFIRMED'), 60_000);
          expect((await saga.orders.pay(order._id, { token: 'tok_visa' }, customer)).order.status).toBe('PAID');
          return order._id;
        };
        await buy(customers[0]!, [ids.a, ids.b]);
        await buy(customers[1]!, [ids.a, ids.b]);
        await buy(customers[2]!, [ids.a, ids.c]);
        const cancelled = await buy(customers[3]!, [ids.a, ids.d]);
        expect((await saga.orders.cancel(cancelled, customers[3])).status).toBe('CANCELLED'); // paid, then cancelled: withdrawn

        // Views: the second within the hour does not count, the third (61 minutes later) does.
        const viewer = customers[0]!;
        expect(await service.recordView(ids.c, viewer)).toBe(true);
        now = new Date(now.getTime() + 10 * 60_000);
        expect(await service.recordView(ids.c, viewer)).toBe(true);
        now = new Date(now.getTime() + 61 * 60_000);
        expect(await service.recordView(ids.c, viewer)).toBe(true);
        await expect(service.recordView(randomUUID(), viewer)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(service.recordView(ids.c, undefined)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });

        const coPurchases = documents.collection<CoPurchaseDoc>(CO_PURCHASES);
        await eventually(async () => {
          expect(await coPurchases.get(ids.a)).toMatchObject({ orders: 3, with: { [ids.b]: 2, [ids.c]: 1 } });
          expect((await coPurchases.get(ids.a))?.with[ids.d]).toBeUndefined(); // withdrawn
          expect(await coPurchases.get(ids.d)).toMatchObject({ orders: 0, with: {} });
        }, 60_000);
        const history = documents.collection<UserHistoryDoc>(USER_HISTORY);
        await eventually(async () => expect((await history.get(viewer.userId))?.viewed).toEqual([{ productId: ids.c, at: now.toISOString() }]), 60_000);
        expect((await history.get(viewer.userId))?.bought).toEqual({ [ids.a]: 1, [ids.b]: 1 });
        expect((await history.get(customers[3]!.userId))?.bought).toEqual({});
        const viewEvents = (await readAllEvents(events)).filter((e) => e.type === 'ProductViewed');
        expect(viewEvents).toHaveLength(2); // the view within the hour appended nothing

        // cos(A, B) = 2 / sqrt(3 * 2) = 0.816 > cos(A, C) = 1 / sqrt(3 * 1) = 0.577; then trending in the category.
        const together = await service.boughtTogether(ids.a, 3);
        expect(together.slice(0, 2)).toEqual([ids.b, ids.c]);
        expect(together).not.toContain(ids.a);
        // Customer 0 bought A and B: C (bought with A) first; never A or B.
        const forViewer = await service.forUser(viewer.userId, 2, viewer);
        expect(forViewer[0]).toBe(ids.c);
        expect(forViewer).not.toContain(ids.a);
        expect(forViewer).not.toContain(ids.b);

        // Discontinuing B: once its facts event is projected, the cached answer (computed above) is gone.
        expect(await service.boughtTogether(ids.a, 3)).toContain(ids.b);
        await saga.products.discontinue(ids.b, seller);
        const discontinued = await eventually(async () => {
          const last = (await events.readStream(productFactsStream(ids.b))).at(-1);
          expect(last?.data).toMatchObject({ status: 'DISCONTINUED' });
          return last!;
        }, 60_000);
        await projectors.find((p) => p.name === 'recommendation-product-facts')!.waitFor(discontinued.position, 60_000);
        expect(await service.boughtTogether(ids.a, 3)).not.toContain(ids.b);
        expect((await service.boughtTogether(ids.a, 3))[0]).toBe(ids.c);

        // Every integration message delivered again: nothing is appended, nothing changes.
        await saga.relay.waitFor(await events.headPosition(), 60_000);
        await eventually(() => expect(collected.filter((m) => counter.times(m.topic, groupOf(m.topic), m.id) === 0).map((m) => m.type)).toEqual([]), 60_000);
        const head = await events.headPosition();
        for (const p of projectors) await p.waitFor(head, 60_000);
        const live = await readModelDigest(documents, recommendationProjections());
        const before = new Map(collected.map((m) => [m.id, counter.times(m.topic, groupOf(m.topic), m.id)]));
        for (const topic of [ORDER_TOPIC, PRODUCT_TOPIC]) {
          await bus.publish(
            topic,
            collected.filter((m) => m.topic === topic).map(({ id, key, type, value, headers }) => ({ id, key, type, value, ...(headers && { headers }) })),
          );
        }
        await eventually(() => expect(collected.filter((m) => counter.times(m.topic, groupOf(m.topic), m.id) <= before.get(m.id)!).map((m) => m.type)).toEqual([]), 60_000);
        expect(await events.headPosition()).toBe(head);
        expect((await readModelDigest(documents, recommendationProjections())).hash).toBe(live.hash);

        // Applying every event again (at-least-once delivery, a replay) changes no document.
        const all = (await readAllEvents(events)).filter((e) => e.position <= head);
        for (const projection of recommendationProjections()) {
          for (const e of all.filter((x) => projection.handles(x))) expect((await projection.apply(e, { collection: (n) => documents.collection(n) })).changed).toBe(false);
        }

        // A rebuild from the first event (what `npm run replay` starts) ends in the same read models.
        for (const p of projectors) expect((await p.rebuild()).state).toBe('done');
        const rebuilt = await readModelDigest(documents, recommendationProjections());
        expect(rebuilt.collections.map((x) => [x.collection, x.count])).toEqual(live.collections.map((x) => [x.collection, x.count]));
        expect(rebuilt.hash).toBe(live.hash);
      } finally {
        for (const p of projectors) await p.stop();
        await closeConsumers(consumers);
        await saga.stop();
        await collector.close();
        await bus.close();
        await events.close();
        await drop();
      }
    }, 180_000);
  });
}


onEmbeddedAndRealServers('recommendation consumers and read models', 'recommendation-test', recommendationSuite);
