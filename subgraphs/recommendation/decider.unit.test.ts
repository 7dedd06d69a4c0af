import { describe, it } from 'vitest';
import { deciderSpec } from '../../platform/eventsourcing/testing.js';
import { productFactsDecider, purchaseDecider, viewDecider } from './decider.js';
import type { OrderPlacementNoted, ProductFactsRecorded, ProductViewed, PurchaseRecorded } from './events.js';

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 10, 0) + minutes * 60_000).toISOString();

describe('views (the view-flood rule)', () => {
  const spec = deciderSpec(viewDecider);
  const viewed = (minutes: number): ProductViewed => ({ type: 'ProductViewed', data: { userId: 'u', productId: 'p', viewedAt: at(minutes) } });
  const view = (minutes: number) => ({ type: 'RecordView' as const, userId: 'u', productId: 'p', at: at(minutes) });

  it('counts a first view', () => spec.given([]).when(view(0)).then([viewed(0)]));
  it('ignores views within the hour of the last counted one', () => spec.given([viewed(0)]).when(view(59)).thenNothingHappens());
  it('counts again an hour after the last counted view', () => spec.given([viewed(0)]).when(view(60)).then([viewed(60)]));
  it('measures the hour from the last counted view, not the last attempt', () => spec.given([viewed(0), viewed(60)]).when(view(119)).thenNothingHappens());
});

describe('purchases', () => {
  const spec = deciderSpec(purchaseDecider);
  const noted: OrderPlacementNoted = { type: 'OrderPlacementNoted', data: { orderId: 'o', customerId: 'c', productIds: ['p1', 'p2'], placedAt: at(0) } };
  const recorded: PurchaseRecorded = { type: 'PurchaseRecorded', data: { orderId: 'o', customerId: 'c', productIds: ['p1', 'p2'], paidAt: at(5) } };

  it('notes the placement once', () => {
    spec.given([]).when({ type: 'NotePlacement', orderId: 'o', customerId: 'c', productIds: ['p2', 'p1', 'p2'], at: at(0) }).then([noted]);
    spec.given([noted]).when({ type: 'NotePlacement', orderId: 'o', customerId: 'c', productIds: ['p1'], at: at(1) }).thenNothingHappens();
  });
  it('records a paid order once, as bought by the customer who placed it, each product once', () => {
    spec.given([noted]).when({ type: 'RecordPurchase', orderId: 'o', productIds: ['p2', 'p1', 'p1'], at: at(5) }).then([recorded]);
    spec.given([noted, recorded]).when({ type: 'RecordPurchase', orderId: 'o', productIds: ['p1', 'p2'], at: at(6) }).thenNothingHappens();
  });
  it('records a payment whose placement it never saw, with no customer', () =>
    spec.given([]).when({ type: 'RecordPurchase', orderId: 'o', productIds: ['p1'], at: at(5) }).then([{ type: 'PurchaseRecorded', data: { orderId: 'o', customerId: null, productIds: ['p1'], paidAt: at(5) } }]));
  it('withdraws a paid order that is cancelled, once; an unpaid order has nothing to withdraw', () => {
    spec
      .given([noted, recorded])
      .when({ type: 'WithdrawPurchase', orderId: 'o', at: at(9) })
      .then([{ type: 'PurchaseWithdrawn', data: { orderId: 'o', customerId: 'c', productIds: ['p1', 'p2'], paidAt: at(5), withdrawnAt: at(9) } }]);
    spec.given([noted]).when({ type: 'WithdrawPurchase', orderId: 'o', at: at(9) }).thenNothingHappens();
    spec
      .given([noted, recorded, { type: 'PurchaseWithdrawn', data: { orderId: 'o', customerId: 'c', productIds: ['p1', 'p2'], paidAt: at(5), withdrawnAt: at(9) } }])
      .when({ type: 'WithdrawPurchase', orderId: 'o', at: at(10) })
      .thenNothingHappens();
  });
});

describe('product facts', () => {
  const spec = deciderSpec(productFactsDecider);
  const facts = (data: Partial<ProductFactsRecorded['data']>): ProductFactsRecorded => ({
    type: 'ProductFactsRecorded',
    data: { productId: 'p', category: 'home', status: 'ACTIVE', inStock: true, sourcePosition: 10, recordedAt: at(0), ...data },
  });
  const record = (f: Partial<{ category: string; status: 'ACTIVE' | 'DISCONTINUED'; inStock: boolean }>, sourcePosition: number | null, listing = false) => ({ type: 'RecordProductFacts' as const, productId: 'p', facts: f, listing, sourcePosition, at: at(0) });

  it('records a listing', () => spec.given([]).when(record({ category: 'home', status: 'ACTIVE', inStock: true }, 10, true)).then([facts({})]));
  it('ignores news of a product it never saw listed', () => spec.given([]).when(record({ inStock: false }, 11)).thenNothingHappens());
  it('records a product selling out, and ignores stock movements that keep it in stock', () => {
    spec.given([facts({})]).when(record({ inStock: false }, 12)).then([facts({ inStock: false, sourcePosition: 12 })]);
    spec.given([facts({})]).when(record({ inStock: true }, 12)).thenNothingHappens();
  });
  it('ignores a message older than the last one recorded (a redelivery)', () => {
    spec.given([facts({}), facts({ inStock: false, sourcePosition: 12 })]).when(record({ inStock: true }, 11)).thenNothingHappens();
  });
  it('records a product discontinued, and nothing after that', () => {
    spec.given([facts({})]).when(record({ status: 'DISCONTINUED', inStock: false }, 13)).then([facts({ status: 'DISCONTINUED', inStock: false, sourcePosition: 13 })]);
    spec.given([facts({ status: 'DISCONTINUED', inStock: false, sourcePosition: 13 })]).when(record({ inStock: true }, 14)).thenNothingHappens();
  });
});
