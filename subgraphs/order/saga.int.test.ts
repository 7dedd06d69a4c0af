import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterTopic, type Bus, type BusObserver, type DeliveredMessage } from '../../platform/bus/bus.js';
import { KafkaBus } from '../../platform/bus/kafka-bus.js';
import { MemoryBus } from '../../platform/bus/memory-bus.js';
import { loadState, toDomainEvent } from '../../platform/eventsourcing/command-handler.js';
import { fold } from '../../platform/eventsourcing/decider.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createLogger } from '../../platform/logging.js';
import { eventually } from '../../platform/testing/eventually.js';
import { HandledCounter } from '../../platform/testing/slice-suite.js';
import { withServer } from '../../platform/testing/servers.js';
import { StreamStates } from '../../platform/eventsourcing/stream-states.js';
import { productDecider, RESERVATION_MEMORY_MS, reservationsOf } from '../product/decider.js';
import { PRODUCT_SNAPSHOT_TYPE, productSnapshots } from '../product/snapshot.js';
import { productStream, type ProductEvent } from '../product/events.js';
import { PRODUCT_TOPIC } from '../product/public-events.js';
import { RESERVATIONS_GROUP } from '../product/reservations.js';
import { orderDecider, type Actor } from './decider.js';
import { orderStream } from './events.js';
import { ORDER_TOPIC } from './public-events.js';
import { REPLIES_GROUP } from './reservation-replies.js';
import { startSaga, type Saga } from './saga-harness.js';

/**
 * The saga between two services over a real bus: the product service reserves, the order
 * service confirms or rejects, both fed by the relay. The same suite runs on the embedded bus
 * and on Kafka.
 */
function sagaSuite(name: string, openBus: (observer: BusObserver) => Promise<Bus>) {
  describe(`order saga over the ${name}`, () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
    const logger = createLogger('saga-test', 'silent');

    /**
     * Runs `test` against a saga on a fresh event store and bus, with a collector of the given
     * topics subscribed before the saga starts (a Kafka redelivery is collected once); closes
     * everything afterwards.
     */
    async function withSaga(
      collect: readonly string[],
      test: (env: { saga: Saga; events: FileEventStore; bus: Bus; counter: HandledCounter; collected: DeliveredMessage[] }) => Promise<void>,
      options: Pick<Parameters<typeof startSaga>[0], 'clock' | 'productStates'> = {},
    ) {
      const dir = mkdtempSync(join(tmpdir(), 'saga-'));
      dirs.push(dir);
      const counter = new HandledCounter();
      const events = await FileEventStore.open(dir, { fsync: false });
      const bus = await openBus(counter);
      const collected: DeliveredMessage[] = [];
      const collector =
        collect.length === 0
          ? undefined
          : await bus.consume({
              groupId: `collect-${randomUUID()}`,
              topics: collect,
              handler: (m) => {
                if (!collected.some((x) => x.id === m.id)) collected.push(m);
                return Promise.resolve();
              },
            });
      const saga = await startSaga({ bus, events, logger, ...options });
      try {
        await test({ saga, events, bus, counter, collected });
      } finally {
        await saga.stop();
        await collector?.close();
        await bus.close();
        await events.close();
      }
    }

    it('never oversells: 50 concurrent customers, 20 units; duplicating every integration event changes nothing', async () => {
      await withSaga([ORDER_TOPIC, PRODUCT_TOPIC], async ({ saga: { products, orders, relay }, events, bus, counter, collected: seen }) => {
        const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
        const admin: Actor = { userId: randomUUID(), role: 'ADMIN' };
        const hot = await products.create({ sku: `HOT-${randomUUID().slice(0, 8)}`, name: 'Hot item', category: 'c', description: null, price: { amount: 500, currency: 'EUR' }, initialStock: 20 }, seller);

        const customers: Actor[] = Array.from({ length: 50 }, () => ({ userId: randomUUID(), role: 'CUSTOMER' }));
        const quantities = customers.map((_, i) => (i % 3) + 1); // 1, 2, 3, … : 99 units wanted
        const placed = await Promise.all(customers.map((c, i) => orders.place({ items: [{ productId: hot._id, quantity: quantities[i]! }] }, c)));
        expect(placed.every((o) => o.status === 'PENDING')).toBe(true);

        // Statuses from the order streams themselves (the read model may trail them).
        const statuses = async () => Promise.all(placed.map(async (o) => (await loadState(events, orderDecider, orderStream(o._id))).status));
        await eventually(async () => expect((await statuses()).filter((s) => s === 'PENDING')).toEqual([]), 60_000);

        // Pay every other confirmed order; the reserved units of those become sold.
        const confirmed = placed.filter((_, i) => i % 2 === 0);
        for (const o of confirmed) {
          const current = await orders.order(o._id, admin);
          if (current?.status === 'CONFIRMED') expect((await orders.pay(o._id, { token: 'tok_visa' }, customers[placed.indexOf(o)])).order.status).toBe('PAID');
        }
        const final = await statuses();
        const paid = placed.filter((_, i) => final[i] === 'PAID');
        const held = placed.filter((_, i) => final[i] === 'CONFIRMED' || final[i] === 'PAID');
        expect(final.every((s) => s === 'CONFIRMED' || s === 'PAID' || s === 'REJECTED')).toBe(true);
        const unitsHeld = held.reduce((sum, o) => sum + o.items[0]!.quantity, 0);
        expect(unitsHeld).toBeLessThanOrEqual(20);
        expect(held.length).toBeGreaterThan(0);
        expect(final.filter((s) => s === 'REJECTED').length).toBeGreaterThan(0);

        const productState = async () => {
          const stream = await events.readStream(productStream(hot._id));
          return { stream, state: fold(productDecider, stream.map((e) => toDomainEvent<ProductEvent>(e))) };
        };
        await eventually(async () => {
          const { state } = await productState();
          if (state.status === 'none') throw new Error('no product');
          const sold = [...reservationsOf(state).values()].filter((r) => r.state === 'sold');
          expect(sold.length).toBe(paid.length);
        }, 60_000);
        const { stream, state } = await productState();
        if (state.status === 'none') throw new Error('no product');
        const byState = (s: string) => [...reservationsOf(state).values()].filter((r) => r.state === s).reduce((sum, r) => sum + r.quantity, 0);
        expect(byState('reserved') + byState('sold')).toBe(unitsHeld); // exactly the units of orders that hold stock
        expect(byState('reserved') + byState('sold')).toBeLessThanOrEqual(20);
        expect(state.stock).toBe(20 - unitsHeld);
        for (const e of stream) if (e.type === 'StockReserved' || e.type === 'StockReleased') expect((e.data as { stock: number }).stock).toBeGreaterThanOrEqual(0);
        // Every rejected order holds nothing.
        for (const o of placed.filter((_, i) => final[i] === 'REJECTED')) expect(['rejected', 'released']).toContain(reservationsOf(state).get(o._id)?.state);

        // Duplicate every integration event published so far: nothing may change.
        await relay.waitFor(await events.headPosition());
        await eventually(() => expect(seen.length).toBe(stream.length + placed.length * 2 + paid.length), 60_000);
        const head = await events.headPosition();
        const duplicates = [...seen];
        const group = (topic: string) => (topic === ORDER_TOPIC ? RESERVATIONS_GROUP : REPLIES_GROUP);
        await eventually(() => expect(duplicates.filter((m) => counter.times(m.topic, group(m.topic), m.id) === 0)).toEqual([]), 60_000); // originals all handled
        const before = new Map(duplicates.map((m) => [m.id, counter.times(m.topic, group(m.topic), m.id)]));
        for (const topic of [ORDER_TOPIC, PRODUCT_TOPIC]) {
          await bus.publish(
            topic,
            duplicates.filter((m) => m.topic === topic).map(({ id, key, type, value, headers }) => ({ id, key, type, value, ...(headers && { headers }) })),
          );
        }
        // Every duplicate handled (again) by the consumer it was meant for.
        await eventually(() => expect(duplicates.filter((m) => counter.times(m.topic, group(m.topic), m.id) <= before.get(m.id)!).map((m) => m.id)).toEqual([]), 60_000);
        expect(await events.headPosition()).toBe(head); // not one event appended
        expect(await statuses()).toEqual(final);
        expect(counter.deadLetters(ORDER_TOPIC, RESERVATIONS_GROUP) + counter.deadLetters(PRODUCT_TOPIC, REPLIES_GROUP)).toBe(0);
      });
    }, 120_000);

    it('cancelling a PENDING order releases whatever its reservation takes afterwards', async () => {
      await withSaga([], async ({ saga: { products, orders }, events }) => {
        const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
        const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
        const [a, b] = await Promise.all(
          ['A', 'B'].map((tag) => products.create({ sku: `CXL-${tag}-${randomUUID().slice(0, 8)}`, name: tag, category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 5 }, seller)),
        );
        const order = await orders.place({ items: [{ productId: a!._id, quantity: 2 }, { productId: b!._id, quantity: 3 }] }, customer);
        expect((await orders.cancel(order._id, customer)).status).toBe('CANCELLED'); // at once: usually before the reservations are made
        await eventually(async () => {
          for (const p of [a!, b!]) {
            const state = await loadState(events, productDecider, productStream(p._id));
            expect(reservationsOf(state).get(order._id)?.state).toBe('released'); // reserved, then released
            expect(state.status !== 'none' && state.stock).toBe(5);
          }
        }, 60_000);
        const status = await loadState(events, orderDecider, orderStream(order._id));
        expect(status.status).toBe('CANCELLED'); // late reservation replies changed nothing
      });
    }, 120_000);

    it('a very late redelivery, after the product has forgotten the orders, reserves, sells and releases nothing', async () => {
      let offset = 0; // the services' clock runs `offset` ms ahead of the real one
      const clock = () => new Date(Date.now() + offset);
      const snapshotEvery = 4;
      await withSaga(
        [ORDER_TOPIC],
        async ({ saga: { products, orders }, events, bus, counter, collected }) => {
          const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
          const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
          const p = await products.create({ sku: `LATE-${randomUUID().slice(0, 8)}`, name: 'Late', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 10 }, seller);
          const statusOf = async (id: string) => (await loadState(events, orderDecider, orderStream(id))).status;
          const settled = async (id: string, status: string) => eventually(async () => expect(await statusOf(id)).toBe(status), 60_000);
          const reservationOf = async (id: string) => reservationsOf(await loadState(events, productDecider, productStream(p._id))).get(id)?.state;

          // Three orders that end: one sold, one released, one rejected.
          const sold = await orders.place({ items: [{ productId: p._id, quantity: 2 }] }, customer);
          await settled(sold._id, 'CONFIRMED');
          expect((await orders.pay(sold._id, { token: 'tok_visa' }, customer)).order.status).toBe('PAID');
          const released = await orders.place({ items: [{ productId: p._id, quantity: 3 }] }, customer);
          await settled(released._id, 'CONFIRMED');
          expect((await orders.cancel(released._id, customer)).status).toBe('CANCELLED');
          const rejected = await orders.place({ items: [{ productId: p._id, quantity: 50 }] }, customer);
          await settled(rejected._id, 'REJECTED');
          await eventually(async () => expect([await reservationOf(sold._id), await reservationOf(released._id)]).toEqual(['sold', 'released']), 60_000);
          const ended = [sold._id, released._id, rejected._id];

          // Weeks later, more orders: the product's snapshots now leave the ended orders out.
          offset = RESERVATION_MEMORY_MS + 10 * 24 * 3600 * 1000;
          const later = [];
          for (let i = 0; i < snapshotEvery + 2; i++) later.push(await orders.place({ items: [{ productId: p._id, quantity: 1 }] }, customer));
          for (const o of later) await settled(o._id, 'CONFIRMED');
          const cold = await loadState(events, productDecider, productStream(p._id), new StreamStates(productSnapshots(snapshotEvery)));
          if (cold.status === 'none') throw new Error('no product');
          expect((await events.readLastEvent(`snapshot-${productStream(p._id)}`))?.type).toBe(PRODUCT_SNAPSHOT_TYPE);
          for (const id of ended) expect(reservationsOf(cold).has(id)).toBe(false); // forgotten
          for (const o of later) expect(reservationsOf(cold).get(o._id)?.state).toBe('reserved');
          expect(cold.stock).toBe(10 - 2 - later.length);

          // Every order event of the ended orders delivered again (OrderPlaced, OrderPaid, OrderCancelled, ...).
          await eventually(() => expect(collected.filter((m) => ended.includes((m.value as { orderId: string }).orderId)).length).toBeGreaterThanOrEqual(7), 60_000);
          const again = collected.filter((m) => ended.includes((m.value as { orderId: string }).orderId));
          const streamBefore = (await events.readStream(productStream(p._id))).length;
          const before = new Map(again.map((m) => [m.id, counter.times(ORDER_TOPIC, RESERVATIONS_GROUP, m.id)]));
          await bus.publish(
            ORDER_TOPIC,
            again.map(({ id, key, type, value, headers }) => ({ id, key, type, value, ...(headers && { headers }) })),
          );
          await eventually(() => expect(again.filter((m) => counter.times(ORDER_TOPIC, RESERVATIONS_GROUP, m.id) <= before.get(m.id)!)).toEqual([]), 60_000);

          expect(await events.readStream(productStream(p._id))).toHaveLength(streamBefore); // nothing reserved, sold or released again
          const after = await loadState(events, productDecider, productStream(p._id));
          expect(after.status !== 'none' && after.stock).toBe(10 - 2 - later.length);
          expect(await Promise.all(ended.map(statusOf))).toEqual(['PAID', 'CANCELLED', 'REJECTED']);
          for (const e of await events.readStream(productStream(p._id))) if (e.type === 'StockReserved' || e.type === 'StockReleased') expect((e.data as { stock: number }).stock).toBeGreaterThanOrEqual(0);
        },
        { clock, productStates: { snapshotEvery } },
      );
    }, 120_000);

    it('parks malformed integration events on the dead-letter topics with the error, and goes on', async () => {
      await withSaga([deadLetterTopic(ORDER_TOPIC), deadLetterTopic(PRODUCT_TOPIC)], async ({ saga: { products, orders }, bus, collected: parked }) => {
        const badOrder = { id: randomUUID(), key: randomUUID(), type: 'OrderPlaced.v1', value: { orderId: 'x', items: 'all of them' } };
        const badReply = { id: randomUUID(), key: randomUUID(), type: 'StockReserved.v1', value: { orderId: randomUUID(), quantity: 'two' } };
        await bus.publish(ORDER_TOPIC, [badOrder]);
        await bus.publish(PRODUCT_TOPIC, [badReply]);
        const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
        const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
        const p = await products.create({ sku: `DLQ-${randomUUID().slice(0, 8)}`, name: 'After poison', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 2 }, seller);
        const order = await orders.place({ items: [{ productId: p._id, quantity: 1 }] }, customer);
        await eventually(async () => expect((await orders.order(order._id, customer))?.status).toBe('CONFIRMED'), 60_000);
        await eventually(() => expect(parked.map((m) => m.id).sort()).toEqual([badOrder.id, badReply.id].sort()), 60_000);
        const byId = new Map(parked.map((m) => [m.id, m]));
        expect(byId.get(badOrder.id)).toMatchObject({ topic: deadLetterTopic(ORDER_TOPIC), headers: { 'x-consumer-group': RESERVATIONS_GROUP, 'x-attempts': '1' } });
        expect(byId.get(badOrder.id)?.headers?.['x-error']).toMatch(/malformed OrderPlaced\.v1/);
        expect(byId.get(badReply.id)).toMatchObject({ topic: deadLetterTopic(PRODUCT_TOPIC), headers: { 'x-consumer-group': REPLIES_GROUP } });
      });
    }, 120_000);
  });
}

sagaSuite('embedded bus', (observer) => Promise.resolve(new MemoryBus({ observer })));
withServer('KAFKA_BROKERS', 'order saga over Kafka', (brokers) => {
  sagaSuite('Kafka', (observer) => KafkaBus.connect(brokers, { clientId: 'saga-test', logger: createLogger('test', 'silent'), observer, namespace: `saga-${randomUUID().slice(0, 8)}` }));
});
