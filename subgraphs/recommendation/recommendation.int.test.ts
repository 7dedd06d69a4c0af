import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { closeConsumers } from '../../platform/bus/bus.js';
import { eventually } from '../../platform/testing/eventually.js';
import { readModelDigest } from '../../platform/testing/read-model-hash.js';
import { expectCollectedHandled, expectRebuildMatches, expectReapplyChangesNothing, redeliverCollected, withSliceSuite } from '../../platform/testing/slice-suite.js';
import { onEmbeddedAndRealServers, readAllEvents, type OpenBus, type OpenDocuments } from '../../platform/testing/suite-stores.js';
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

const groupOf = (topic: string) => (topic === ORDER_TOPIC ? PURCHASES_GROUP : PRODUCT_FACTS_GROUP);

/**
 * The recommendation slice between real services: products and paid orders go through the
 * product and order services and the relay; the recommendation consumers record them as its own
 * events; its projections build the read models. The same suite runs on the embedded bus and
 * document store, and on Kafka and FerretDB when they are configured.
 */
function recommendationSuite(name: string, openBus: OpenBus, openDocuments: OpenDocuments) {
  describe(`recommendation consumers and read models (${name})`, () => {
    it('records paid orders, withdrawals, product facts and views once each, ranks from them, and rebuilds to identical read models', async () => {
      await withSliceSuite('recommendation-test', { openBus, openDocuments }, [ORDER_TOPIC, PRODUCT_TOPIC], async (suite) => {
        const { events, bus, documents, ports, logger } = suite;
        const saga = await startSaga({ bus, events, logger });
        suite.onClose(() => saga.stop());
        let now = new Date();
        const service = new RecommendationService({ ...ports, clock: () => now });
        const consumers = await startRecommendationConsumers(bus, service);
        suite.onClose(() => closeConsumers(consumers));
        const projectors = await suite.startProjectors(recommendationProjections());
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
        await expectCollectedHandled(suite, groupOf);
        const head = await events.headPosition();
        for (const p of projectors) await p.waitFor(head, 60_000);
        const live = await readModelDigest(documents, recommendationProjections());
        await redeliverCollected(suite, groupOf, [ORDER_TOPIC, PRODUCT_TOPIC]);
        expect(await events.headPosition()).toBe(head);
        expect((await readModelDigest(documents, recommendationProjections())).hash).toBe(live.hash);

        // Applying every event again (at-least-once delivery, a replay) changes no document.
        await expectReapplyChangesNothing(events, documents, recommendationProjections(), head);

        // A rebuild from the first event (what `npm run replay` starts) ends in the same read models.
        await expectRebuildMatches(projectors, documents, recommendationProjections(), live);
      });
    }, 180_000);
  });
}


onEmbeddedAndRealServers('recommendation consumers and read models', 'recommendation-test', recommendationSuite);
