import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fold } from '../../platform/eventsourcing/decider.js';
import { deciderSpec } from '../../platform/eventsourcing/testing.js';
import { orderDecider, paymentStep, RefundRequiredError, type Actor, type PlaceOrder } from './decider.js';
import type { OrderEvent } from './events.js';
import { IllegalStateError, type ErrorCode } from '../../platform/errors.js';

const spec = deciderSpec(orderDecider);
const at = '2026-11-23T10:00:00.000Z';
const eur = (amount: number) => ({ amount, currency: 'EUR' });

function fixture() {
  const orderId = randomUUID();
  const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
  const admin: Actor = { userId: randomUUID(), role: 'ADMIN' };
  const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
  const [a, b] = [randomUUID(), randomUUID()];
  const items = [
    { productId: a, quantity: 2 },
    { productId: b, quantity: 1 },
  ];
  const place: PlaceOrder = { type: 'PlaceOrder', orderId, by: customer, items, idempotencyKey: null, at };
  const placed: OrderEvent = { type: 'OrderPlaced', data: { orderId, customerId: customer.userId, items, idempotencyKey: null, placedAt: at } };
  const reservedA: OrderEvent = { type: 'OrderLineReserved', data: { orderId, productId: a, unitPrice: eur(250), sellerId: seller.userId, reservedAt: at } };
  const reservedB: OrderEvent = { type: 'OrderLineReserved', data: { orderId, productId: b, unitPrice: eur(1000), sellerId: seller.userId, reservedAt: at } };
  const confirmed: OrderEvent = { type: 'OrderConfirmed', data: { orderId, total: eur(1500), confirmedAt: at } };
  const paid: OrderEvent = { type: 'OrderPaid', data: { orderId, chargeId: 'ch_1', amount: eur(1500), idempotencyKey: 'k1', items, paidAt: at } };
  const reserve = (productId: string, amount: number) => ({ type: 'RecordReservation' as const, orderId, productId, unitPrice: eur(amount), sellerId: seller.userId, at });
  return { orderId, customer, admin, seller, a, b, items, place, placed, reservedA, reservedB, confirmed, paid, reserve };
}

describe('the order saga, step by step', () => {
  it('places a PENDING order', () => {
    const f = fixture();
    spec.given([]).when(f.place).then([f.placed]);
    expect(fold(orderDecider, [f.placed])).toMatchObject({ status: 'PENDING', total: null });
  });

  it('records reserved lines and confirms with the total once every line is reserved, in any order', () => {
    const f = fixture();
    spec.given([f.placed]).when(f.reserve(f.b, 1000)).then([f.reservedB]);
    spec.given([f.placed, f.reservedB]).when(f.reserve(f.a, 250)).then([f.reservedA, f.confirmed]);
    expect(fold(orderDecider, [f.placed, f.reservedB, f.reservedA, f.confirmed])).toMatchObject({ status: 'CONFIRMED', total: eur(1500) });
  });

  it('rejects at the first refused line, naming the lines so the others are released', () => {
    const f = fixture();
    const rejection = { type: 'RecordRejection' as const, orderId: f.orderId, productId: f.b, reason: 'insufficient stock', at };
    spec.given([f.placed, f.reservedA]).when(rejection).then([{ type: 'OrderRejected', data: { orderId: f.orderId, reason: 'insufficient stock', productId: f.b, items: f.items, rejectedAt: at } }]);
  });

  it('rejects an order whose lines are priced in different currencies', () => {
    const f = fixture();
    spec
      .given([f.placed, f.reservedA])
      .when({ ...f.reserve(f.b, 1000), unitPrice: { amount: 1000, currency: 'USD' } })
      .then([
        { type: 'OrderLineReserved', data: { orderId: f.orderId, productId: f.b, unitPrice: { amount: 1000, currency: 'USD' }, sellerId: f.seller.userId, reservedAt: at } },
        { type: 'OrderRejected', data: { orderId: f.orderId, reason: 'items are priced in different currencies (EUR, USD)', productId: null, items: f.items, rejectedAt: at } },
      ]);
  });

  it('ignores duplicated and late replies', () => {
    const f = fixture();
    const rejected: OrderEvent = { type: 'OrderRejected', data: { orderId: f.orderId, reason: 'x', productId: f.b, items: f.items, rejectedAt: at } };
    spec.given([f.placed, f.reservedA]).when(f.reserve(f.a, 250)).thenNothingHappens();
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed]).when(f.reserve(f.b, 1000)).thenNothingHappens();
    spec.given([f.placed, rejected]).when(f.reserve(f.a, 250)).thenNothingHappens();
    spec.given([f.placed, rejected]).when({ type: 'RecordRejection', orderId: f.orderId, productId: f.a, reason: 'y', at }).thenNothingHappens();
    spec.given([f.placed]).when(f.reserve(randomUUID(), 1)).thenNothingHappens(); // not a line of this order
    spec.given([]).when(f.reserve(f.a, 250)).thenNothingHappens(); // an order this deployment never placed
  });

  it('pays a CONFIRMED order once; the same charge again changes nothing', () => {
    const f = fixture();
    const pay = { type: 'RecordPayment' as const, orderId: f.orderId, by: f.customer, chargeId: 'ch_1', amount: eur(1500), idempotencyKey: 'k1', at };
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed]).when(pay).then([f.paid]);
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid]).when(pay).thenNothingHappens();
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid]).when({ ...pay, chargeId: 'ch_2', idempotencyKey: 'k2' }).thenFails({ code: 'INVALID_STATE' });
  });

  it('decides before charging: only the owner pays, only a CONFIRMED order, a PAID one again only with its key', () => {
    const f = fixture();
    const confirmed = fold(orderDecider, [f.placed, f.reservedA, f.reservedB, f.confirmed]);
    expect(paymentStep(confirmed, f.orderId, f.customer, null)).toEqual({ action: 'charge', amount: eur(1500) });
    expect(() => paymentStep(confirmed, f.orderId, { userId: randomUUID(), role: 'CUSTOMER' }, null)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => paymentStep(fold(orderDecider, [f.placed]), f.orderId, f.customer, null)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    const paid = fold(orderDecider, [f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid]);
    expect(paymentStep(paid, f.orderId, f.customer, 'k1')).toEqual({ action: 'already-paid' });
    expect(() => paymentStep(paid, f.orderId, f.customer, 'k2')).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    for (const end of ['REJECTED', 'PAYMENT_FAILED', 'CANCELLED'] as const) {
      const events: Record<typeof end, OrderEvent> = {
        REJECTED: { type: 'OrderRejected', data: { orderId: f.orderId, reason: 'x', productId: null, items: f.items, rejectedAt: at } },
        PAYMENT_FAILED: { type: 'OrderPaymentFailed', data: { orderId: f.orderId, reason: 'declined', items: f.items, failedAt: at } },
        CANCELLED: { type: 'OrderCancelled', data: { orderId: f.orderId, cancelledBy: f.customer.userId, refundId: null, items: f.items, cancelledAt: at } },
      };
      expect(() => paymentStep(fold(orderDecider, [f.placed, events[end]]), f.orderId, f.customer, null), end).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    }
  });

  it('fails a declined payment, naming the lines to release', () => {
    const f = fixture();
    spec
      .given([f.placed, f.reservedA, f.reservedB, f.confirmed])
      .when({ type: 'RecordPaymentFailure', orderId: f.orderId, by: f.customer, reason: 'payment declined: card declined', at })
      .then([{ type: 'OrderPaymentFailed', data: { orderId: f.orderId, reason: 'payment declined: card declined', items: f.items, failedAt: at } }]);
  });

  it('cancels before shipping (a paid order only with its refund), idempotently; never a SHIPPED or REJECTED one', () => {
    const f = fixture();
    const cancel = { type: 'CancelOrder' as const, orderId: f.orderId, by: f.customer, refundId: null, at };
    const cancelled = (refundId: string | null): OrderEvent => ({ type: 'OrderCancelled', data: { orderId: f.orderId, cancelledBy: f.customer.userId, refundId, items: f.items, cancelledAt: at } });
    spec.given([f.placed]).when(cancel).then([cancelled(null)]);
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid]).when({ ...cancel, refundId: 're_1' }).then([cancelled('re_1')]);
    spec.given([f.placed, cancelled(null)]).when(cancel).thenNothingHappens();
    const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId: f.orderId, shippedBy: f.admin.userId, shippedAt: at } };
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid, shipped]).when({ ...cancel, refundId: 're_1' }).thenFails({ code: 'INVALID_STATE' });
    spec.given([f.placed, { type: 'OrderRejected', data: { orderId: f.orderId, reason: 'x', productId: null, items: f.items, rejectedAt: at } }]).when(cancel).thenFails({ code: 'INVALID_STATE' });
    spec.given([f.placed]).when({ ...cancel, by: { userId: randomUUID(), role: 'CUSTOMER' } }).thenFails({ code: 'FORBIDDEN' });
    spec.given([f.placed]).when({ ...cancel, by: f.admin }).then([{ type: 'OrderCancelled', data: { orderId: f.orderId, cancelledBy: f.admin.userId, refundId: null, items: f.items, cancelledAt: at } }]);
  });

  it('refuses to cancel a PAID order without its refund with a typed INVALID_STATE error, so the canceller refunds and retries', () => {
    const f = fixture();
    const cancel = { type: 'CancelOrder' as const, orderId: f.orderId, by: f.customer, refundId: null, at };
    const paid = [f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid];
    spec.given(paid).when(cancel).thenFails({ code: 'INVALID_STATE', field: ['id'], message: /paid meanwhile/ });
    expect(() => orderDecider.decide(cancel, fold(orderDecider, paid))).toThrow(RefundRequiredError);
    expect(() => orderDecider.decide(cancel, fold(orderDecider, paid))).toThrow(IllegalStateError);
  });

  it('ships a PAID order, for an admin or the seller of every item', () => {
    const f = fixture();
    const history = [f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid];
    spec.given(history).when({ type: 'ShipOrder', orderId: f.orderId, by: f.seller, at }).then([{ type: 'OrderShipped', data: { orderId: f.orderId, shippedBy: f.seller.userId, shippedAt: at } }]);
    spec.given(history).when({ type: 'ShipOrder', orderId: f.orderId, by: { userId: randomUUID(), role: 'SELLER' }, at }).thenFails({ code: 'FORBIDDEN' });
    spec.given(history).when({ type: 'ShipOrder', orderId: f.orderId, by: f.customer, at }).thenFails({ code: 'FORBIDDEN' });
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed]).when({ type: 'ShipOrder', orderId: f.orderId, by: f.admin, at }).thenFails({ code: 'INVALID_STATE' });
  });
});

describe('placing: bad input', () => {
  it.each([
    ['no items', [], { code: 'INVALID_INPUT', field: ['input', 'items'] }],
    ['zero quantity', [{ productId: randomUUID(), quantity: 0 }], { code: 'INVALID_INPUT', field: ['input', 'items', '0', 'quantity'] }],
    ['fractional quantity', [{ productId: randomUUID(), quantity: 1.5 }], { code: 'INVALID_INPUT', field: ['input', 'items', '0', 'quantity'] }],
    ['an id that is no product id', [{ productId: 'lamp', quantity: 1 }], { code: 'NOT_FOUND', field: ['input', 'items', '0', 'productId'] }],
    ['more than 50 lines', Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })), { code: 'INVALID_INPUT', field: ['input', 'items'] }],
    ['merged lines over the per-product limit', ((id: string) => [{ productId: id, quantity: 6000 }, { productId: id, quantity: 6000 }])(randomUUID()), { code: 'INVALID_INPUT', field: ['input', 'items', '1', 'quantity'] }],
  ] as [string, { productId: string; quantity: number }[], { code: ErrorCode; field: string[] }][])('%s', (_, items, error) => {
    const f = fixture();
    spec.given([]).when({ ...f.place, items }).thenFails(error);
  });

  it('merges the same product on two lines into one line', () => {
    const f = fixture();
    spec
      .given([])
      .when({ ...f.place, items: [{ productId: f.a, quantity: 1 }, { productId: f.b, quantity: 1 }, { productId: f.a.toUpperCase(), quantity: 1 }] })
      .then([{ ...f.placed, data: { ...(f.placed.data as object), items: f.items } } as OrderEvent]);
  });

  it('lets only customers place orders', () => {
    const f = fixture();
    spec.given([]).when({ ...f.place, by: f.seller }).thenFails({ code: 'FORBIDDEN' });
  });

  it('answers the same idempotency key with the order it placed, and refuses it for a different order', () => {
    const f = fixture();
    spec.given([f.placed]).when(f.place).thenNothingHappens();
    spec.given([f.placed]).when({ ...f.place, items: [{ productId: f.a, quantity: 5 }] }).thenFails({ code: 'ALREADY_EXISTS', field: ['input', 'idempotencyKey'] });
  });
});

describe('expiry', () => {
  const later = '2026-11-23T11:00:00.000Z';
  const earlier = '2026-11-23T09:00:00.000Z';

  it('rejects an order PENDING since before the deadline, and cancels one CONFIRMED and unpaid since before its deadline', () => {
    const f = fixture();
    spec
      .given([f.placed, f.reservedA])
      .when({ type: 'ExpireOrder', orderId: f.orderId, pendingSince: later, confirmedSince: later, at: later })
      .then([{ type: 'OrderRejected', data: { orderId: f.orderId, reason: 'stock reservation did not complete in time', productId: null, items: f.items, rejectedAt: later } }]);
    spec
      .given([f.placed, f.reservedA, f.reservedB, f.confirmed])
      .when({ type: 'ExpireOrder', orderId: f.orderId, pendingSince: later, confirmedSince: later, at: later })
      .then([{ type: 'OrderCancelled', data: { orderId: f.orderId, cancelledBy: 'system', refundId: null, items: f.items, cancelledAt: later, reason: 'payment not received in time' } }]);
  });

  it('leaves orders alone that are younger than the deadline, paid, or already ended', () => {
    const f = fixture();
    const expire = { type: 'ExpireOrder' as const, orderId: f.orderId, pendingSince: earlier, confirmedSince: earlier, at: later };
    spec.given([f.placed]).when(expire).thenNothingHappens();
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed]).when(expire).thenNothingHappens();
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid]).when({ ...expire, pendingSince: later, confirmedSince: later }).thenNothingHappens();
    spec.given([]).when(expire).thenNothingHappens();
  });
});

describe('reconciling a charge the order never recorded', () => {
  it('pays a CONFIRMED order with the charge the provider holds, and changes nothing otherwise', () => {
    const f = fixture();
    const reconcile = { type: 'ReconcilePayment' as const, orderId: f.orderId, chargeId: 'ch_lost', amount: eur(1500), at };
    spec
      .given([f.placed, f.reservedA, f.reservedB, f.confirmed])
      .when(reconcile)
      .then([{ type: 'OrderPaid', data: { orderId: f.orderId, chargeId: 'ch_lost', amount: eur(1500), idempotencyKey: null, items: f.items, paidAt: at } }]);
    spec.given([f.placed, f.reservedA, f.reservedB, f.confirmed, f.paid]).when(reconcile).thenNothingHappens();
    spec.given([f.placed]).when(reconcile).thenNothingHappens();
  });
});
