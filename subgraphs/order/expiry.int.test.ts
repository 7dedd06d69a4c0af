import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../platform/bus/memory-bus.js';
import { MemoryCache } from '../../platform/cache/memory-cache.js';
import type { DocumentStore } from '../../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../../platform/documents/mongo-document-store.js';
import type { EventStore } from '../../platform/event-store/event-store.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createLogger } from '../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../platform/pubsub/memory-pubsub.js';
import { eventually } from '../../platform/testing/eventually.js';
import { freshMongoUrl, withServer } from '../../platform/testing/servers.js';
import { Projector } from '../../projections/projector.js';
import { loadState } from '../../platform/eventsourcing/command-handler.js';
import { productDecider } from '../product/decider.js';
import { productStream } from '../product/events.js';
import type { Actor } from './decider.js';
import { startOrderExpiry } from './expiry.js';
import { SimulatedPaymentProvider } from './payments.js';
import { ordersProjection } from './read-model/projection.js';
import { startSaga } from './saga-harness.js';
import { OrderService } from './service.js';

const logger = createLogger('expiry-test', 'silent');

describe('orders left hanging expire and give their stock back', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const eventStore = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'expiry-'));
    const events = await FileEventStore.open(dir, { fsync: false });
    cleanups.push(async () => {
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return events;
  };

  it('cancels a CONFIRMED order unpaid past the payment timeout, releasing its stock; a paid one stays', async () => {
    const events = await eventStore();
    const bus = new MemoryBus();
    const saga = await startSaga({ bus, events, logger, timeouts: { pendingSeconds: 60, paymentSeconds: 0.5 } });
    cleanups.push(async () => {
      await saga.stop();
      await bus.close();
    });
    const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
    const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
    const p = await saga.products.create({ sku: `EX-${randomUUID().slice(0, 8)}`, name: 'Expiring', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 5 }, seller);
    // The product's own stream (this harness runs no catalog projection).
    const stock = async () => {
      const state = await loadState(events, productDecider, productStream(p._id));
      return state.status === 'none' ? undefined : state.stock;
    };
    const abandoned = await saga.orders.place({ items: [{ productId: p._id, quantity: 2 }] }, customer);
    const paid = await saga.orders.place({ items: [{ productId: p._id, quantity: 1 }] }, customer);
    await eventually(async () => expect((await saga.orders.order(paid._id, customer))?.status).toBe('CONFIRMED'));
    await saga.orders.pay(paid._id, { token: 'tok_visa' }, customer);
    const sweeper = startOrderExpiry(saga.orders, logger, 100);
    cleanups.push(() => sweeper.stop());
    await eventually(async () => expect(await saga.orders.order(abandoned._id, customer)).toMatchObject({ status: 'CANCELLED', statusReason: 'payment not received in time' }), 10_000);
    expect((await saga.orders.order(paid._id, customer))?.status).toBe('PAID');
    await eventually(async () => expect(await stock()).toBe(4)); // 5 - 1 sold; the 2 abandoned are back
  });

  it('records a charge the provider made but the order never recorded, instead of cancelling the order', async () => {
    const events = await eventStore();
    const bus = new MemoryBus();
    const payments = new SimulatedPaymentProvider();
    const saga = await startSaga({ bus, events, logger, payments, timeouts: { pendingSeconds: 60, paymentSeconds: 0.3 } });
    cleanups.push(async () => {
      await saga.stop();
      await bus.close();
    });
    const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
    const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
    const p = await saga.products.create({ sku: `RC-${randomUUID().slice(0, 8)}`, name: 'Reconciled', category: 'c', description: null, price: { amount: 250, currency: 'EUR' }, initialStock: 5 }, seller);
    const order = await saga.orders.place({ items: [{ productId: p._id, quantity: 2 }] }, customer);
    await eventually(async () => expect((await saga.orders.order(order._id, customer))?.status).toBe('CONFIRMED'));
    // The provider charged, then the process died before OrderPaid was appended.
    const { chargeId } = await payments.charge({ idempotencyKey: `order-${order._id}`, token: 'tok_visa', amount: { amount: 500, currency: 'EUR' }, reference: order._id });
    await sleep(400);
    await saga.orders.expireStale();
    await eventually(async () => expect((await saga.orders.order(order._id, customer))?.status).toBe('PAID'));
    expect(payments.charged.map((c) => c.chargeId)).toEqual([chargeId]); // nothing charged again
    const paidAgain = await saga.orders.pay(order._id, { token: 'tok_visa' }, customer).catch((e: unknown) => e);
    expect(paidAgain).toMatchObject({ code: 'INVALID_STATE' });
  });

  it('rejects an order still PENDING past the pending timeout (no reservation ever answered)', async () => {
    await expirePending(await eventStore(), new MemoryDocumentStore());
  });
});

withServer('MONGODB_URL', 'order expiry on MongoDB (FerretDB)', (url) => {
  describe('order expiry on MongoDB (FerretDB)', () => {
    it('finds and rejects an order still PENDING past the pending timeout', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'expiry-'));
      const events = await FileEventStore.open(dir, { fsync: false });
      try {
        await expirePending(events, await MongoDocumentStore.connect(freshMongoUrl(url).url, logger));
      } finally {
        await events.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

async function expirePending(events: EventStore, documents: DocumentStore): Promise<void> {
  const ports = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), logger };
  const metrics = () => createMetrics(serviceRegistry('test', { processMetrics: false }));
  // No product service at all: nobody will reserve.
  const orders = new OrderService({ ...ports, metrics: metrics(), clock: () => new Date(), payments: new SimulatedPaymentProvider(), timeouts: { pendingSeconds: 0.3, paymentSeconds: 60 } });
  const readModel = new Projector(ordersProjection, { ...ports, metrics: metrics() });
  await readModel.start();
  try {
    const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
    const order = await orders.place({ items: [{ productId: randomUUID(), quantity: 1 }] }, customer);
    await eventually(async () => expect((await orders.order(order._id, customer))?.status).toBe('PENDING'));
    expect(await orders.expireStale()).toBe(0); // not yet
    await sleep(400);
    expect(await orders.expireStale()).toBe(1);
    await eventually(async () => expect(await orders.order(order._id, customer)).toMatchObject({ status: 'REJECTED', statusReason: 'stock reservation did not complete in time' }));
    expect(await orders.expireStale()).toBe(0); // once
  } finally {
    await readModel.stop();
    await documents.close();
  }
}
