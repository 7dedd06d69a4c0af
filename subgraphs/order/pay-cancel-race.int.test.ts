import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../platform/bus/memory-bus.js';
import { DomainError } from '../../platform/errors.js';
import { loadState } from '../../platform/eventsourcing/command-handler.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createLogger } from '../../platform/logging.js';
import { eventually } from '../../platform/testing/eventually.js';
import { productDecider, reservationsOf } from '../product/decider.js';
import { productStream } from '../product/events.js';
import { orderDecider, type Actor } from './decider.js';
import { orderStream, type Money } from './events.js';
import { SimulatedPaymentProvider, type PaymentProvider } from './payments.js';
import { startSaga } from './saga-harness.js';

/**
 * The simulated provider, answering a charge after a few milliseconds (so that a cancel can
 * land while it answers), and remembering every refund it made per charge.
 */
class SlowProvider implements PaymentProvider {
  private readonly provider = new SimulatedPaymentProvider();
  readonly charged = this.provider.charged;
  readonly refunds = new Map<string, Set<string>>();

  async charge(request: { idempotencyKey: string; token: string; amount: Money; reference: string }): Promise<{ chargeId: string }> {
    await sleep(randomInt(0, 6));
    return this.provider.charge(request);
  }

  async refund(request: { idempotencyKey: string; chargeId: string }): Promise<{ refundId: string }> {
    const answer = await this.provider.refund(request);
    const refunds = this.refunds.get(request.chargeId) ?? new Set<string>();
    this.refunds.set(request.chargeId, refunds.add(answer.refundId));
    return answer;
  }

  findCharge(reference: string): Promise<{ chargeId: string; amount: Money } | undefined> {
    return this.provider.findCharge(reference);
  }
}

describe('payOrder racing cancelOrder on a CONFIRMED order', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('ends every order PAID or CANCELLED with a domain answer to both, refunds a charged cancelled order once, and returns its stock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pay-cancel-race-'));
    dirs.push(dir);
    const events = await FileEventStore.open(dir, { fsync: false });
    const bus = new MemoryBus();
    const payments = new SlowProvider();
    const saga = await startSaga({ bus, events, logger: createLogger('pay-cancel-race-test', 'silent'), payments });
    try {
      const { products, orders } = saga;
      const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
      const initialStock = 300;
      const product = await products.create({ sku: `RACE-${randomUUID().slice(0, 8)}`, name: 'Raced', category: 'c', description: null, price: { amount: 300, currency: 'EUR' }, initialStock }, seller);

      // Given 100 CONFIRMED orders ...
      const customers: Actor[] = Array.from({ length: 100 }, () => ({ userId: randomUUID(), role: 'CUSTOMER' }));
      const placed = await Promise.all(customers.map((c, i) => orders.place({ items: [{ productId: product._id, quantity: (i % 3) + 1 }] }, c)));
      const statuses = () => Promise.all(placed.map(async (o) => (await loadState(events, orderDecider, orderStream(o._id))).status));
      await eventually(async () => expect((await statuses()).filter((s) => s !== 'CONFIRMED')).toEqual([]), 60_000);

      // ... when each customer pays and cancels at (nearly) the same moment ...
      const raced = await Promise.all(
        placed.map((o, i) =>
          Promise.all([
            sleep(randomInt(0, 3))
              .then(() => orders.pay(o._id, { token: 'tok_visa' }, customers[i]))
              .then(
                (outcome) => ({ ok: true as const, status: outcome.order.status }),
                (error: unknown) => ({ ok: false as const, error }),
              ),
            sleep(randomInt(0, 6))
              .then(() => orders.cancel(o._id, customers[i]))
              .then(
                (order) => ({ ok: true as const, status: order.status }),
                (error: unknown) => ({ ok: false as const, error }),
              ),
          ]),
        ),
      );

      // ... then both get a defined answer: the order, or INVALID_STATE; never an unexpected error.
      const failures = raced.flat().flatMap((r) => (r.ok ? [] : [r.error]));
      const unexpected = failures.filter((e) => !(e instanceof DomainError) || e.code !== 'INVALID_STATE').map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
      expect(unexpected).toEqual([]);
      for (const [pay, cancel] of raced) {
        if (pay.ok) expect(pay.status).toBe('PAID');
        if (cancel.ok) expect(cancel.status).toBe('CANCELLED');
        expect(pay.ok || cancel.ok).toBe(true);
      }

      const final = await statuses();
      expect(final.filter((s) => s !== 'PAID' && s !== 'CANCELLED')).toEqual([]);
      raced.forEach(([, cancel], i) => {
        if (cancel.ok) expect(final[i]).toBe('CANCELLED');
      });

      // The race was real: some payments were recorded before the cancel (which then refunded),
      // some came back to an order cancelled while the provider answered (pay refunded).
      const histories = await Promise.all(placed.map(async (o) => (await events.readStream(orderStream(o._id))).map((e) => e.type)));
      expect(histories.filter((h) => h.includes('OrderPaid') && h.at(-1) === 'OrderCancelled').length).toBeGreaterThan(0);
      expect(raced.filter(([pay]) => !pay.ok).length).toBeGreaterThan(0);

      // Money: a charged order that ends CANCELLED is refunded exactly once; a PAID one never.
      const chargeOf = new Map(payments.charged.map((c) => [c.reference, c.chargeId]));
      expect(payments.charged.length).toBe(chargeOf.size); // one charge per order at most
      placed.forEach((o, i) => {
        const chargeId = chargeOf.get(o._id);
        const refunds = chargeId ? (payments.refunds.get(chargeId)?.size ?? 0) : 0;
        expect({ order: o._id, status: final[i], refunds }).toEqual({ order: o._id, status: final[i], refunds: chargeId && final[i] === 'CANCELLED' ? 1 : 0 });
      });
      expect([...payments.refunds.keys()].filter((chargeId) => !payments.charged.some((c) => c.chargeId === chargeId))).toEqual([]);

      // Stock: the units of cancelled orders come back, those of paid orders are sold.
      const unitsPaid = placed.reduce((sum, o, i) => sum + (final[i] === 'PAID' ? o.items[0]!.quantity : 0), 0);
      await eventually(async () => {
        const state = await loadState(events, productDecider, productStream(product._id));
        if (state.status === 'none') throw new Error('no product');
        const reservations = reservationsOf(state);
        expect(placed.map((o) => ({ order: o._id, state: reservations.get(o._id)?.state }))).toEqual(placed.map((o, i) => ({ order: o._id, state: final[i] === 'PAID' ? 'sold' : 'released' })));
        expect(state.stock).toBe(initialStock - unitsPaid);
      }, 60_000);
    } finally {
      await saga.stop();
      await bus.close();
      await events.close();
    }
  }, 120_000);
});
