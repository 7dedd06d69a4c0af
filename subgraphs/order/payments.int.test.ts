import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../platform/bus/memory-bus.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createLogger } from '../../platform/logging.js';
import { eventually } from '../../platform/testing/eventually.js';
import type { Actor } from './decider.js';
import { SimulatedPaymentProvider } from './payments.js';
import { startSaga, type Saga } from './saga-harness.js';

describe('payments against the simulated provider', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function confirmedOrder(options: { flakyFailures: number; maxAttempts: number }) {
    const dir = mkdtempSync(join(tmpdir(), 'payments-'));
    const events = await FileEventStore.open(dir, { fsync: false });
    const bus = new MemoryBus();
    const payments = new SimulatedPaymentProvider({ flakyFailures: options.flakyFailures });
    const saga: Saga = await startSaga({ bus, events, logger: createLogger('payments-test', 'silent'), payments, paymentRetry: { maxAttempts: options.maxAttempts, initialBackoffMs: 1 } });
    cleanups.push(async () => {
      await saga.stop();
      await bus.close();
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
    const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
    const product = await saga.products.create({ sku: `P-${randomUUID().slice(0, 8)}`, name: 'Pay me', category: 'c', description: null, price: { amount: 700, currency: 'EUR' }, initialStock: 5 }, seller);
    const order = await saga.orders.place({ items: [{ productId: product._id, quantity: 2 }] }, customer);
    await eventually(async () => expect((await saga.orders.order(order._id, customer))?.status).toBe('CONFIRMED'));
    return { saga, payments, customer, orderId: order._id };
  }

  it('retries a transiently failing provider until it pays, and charges once however often it is called', async () => {
    const { saga, payments, customer, orderId } = await confirmedOrder({ flakyFailures: 3, maxAttempts: 5 });
    const results = await Promise.all([
      saga.orders.pay(orderId, { token: 'tok_flaky', idempotencyKey: 'a' }, customer),
      saga.orders.pay(orderId, { token: 'tok_flaky', idempotencyKey: 'a' }, customer),
    ]);
    expect(results.map((r) => r.order.status)).toEqual(['PAID', 'PAID']);
    expect(payments.charged).toEqual([{ chargeId: expect.stringMatching(/^ch_/) as string, amount: { amount: 1400, currency: 'EUR' }, reference: orderId }]);
    expect((await saga.orders.pay(orderId, { token: 'tok_visa', idempotencyKey: 'a' }, customer)).order.status).toBe('PAID');
    expect(payments.charged).toHaveLength(1);
  });

  it('answers SERVICE_UNAVAILABLE when the provider keeps failing, charges nothing and leaves the order payable', async () => {
    const { saga, payments, customer, orderId } = await confirmedOrder({ flakyFailures: 10, maxAttempts: 3 });
    await expect(saga.orders.pay(orderId, { token: 'tok_flaky' }, customer)).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(payments.charged).toHaveLength(0);
    expect((await saga.orders.order(orderId, customer))?.status).toBe('CONFIRMED');
    expect((await saga.orders.pay(orderId, { token: 'tok_visa' }, customer)).order.status).toBe('PAID');
  });

  it('refuses an empty token and a stranger, before calling the provider', async () => {
    const { saga, payments, orderId, customer } = await confirmedOrder({ flakyFailures: 0, maxAttempts: 1 });
    await expect(saga.orders.pay(orderId, { token: '  ' }, customer)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: ['payment', 'token'] });
    await expect(saga.orders.pay(orderId, { token: 'tok_visa' }, { userId: randomUUID(), role: 'CUSTOMER' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(payments.charged).toHaveLength(0);
  });
});
