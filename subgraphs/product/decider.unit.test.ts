import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fold } from '../../platform/eventsourcing/decider.js';
import { deciderSpec } from '../../platform/eventsourcing/testing.js';
import { productDecider, RESERVATION_MEMORY_MS, STALE_ORDER_MS, type Actor, type CreateProduct } from './decider.js';
import type { ProductCreated, ProductEvent } from './events.js';

const spec = deciderSpec(productDecider);
const at = '2026-11-23T10:00:00.000Z';

function fixture() {
  const productId = randomUUID();
  const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
  const create: CreateProduct = {
    type: 'CreateProduct',
    productId,
    by: seller,
    at,
    sku: ' mug-01 ',
    name: ' Mug ',
    description: 'A mug',
    category: 'kitchen',
    price: { amount: 1299, currency: 'eur' },
    initialStock: 10,
  };
  const created: ProductCreated = {
    type: 'ProductCreated',
    data: { productId, sku: 'MUG-01', name: 'Mug', description: 'A mug', category: 'kitchen', price: { amount: 1299, currency: 'EUR' }, initialStock: 10, sellerId: seller.userId, createdAt: at },
  };
  const discontinued: ProductEvent = { type: 'ProductDiscontinued', data: { productId, stockWithdrawn: 10, discontinuedAt: at } };
  const base = { productId, by: seller, at };
  return { productId, seller, create, created, discontinued, base };
}

describe('CreateProduct', () => {
  it('creates a product with trimmed, normalised values and the seller recorded', () => {
    const f = fixture();
    spec.given([]).when(f.create).then([f.created]);
  });

  it.each([
    ['empty name', { name: '  ' }, ['input', 'name']],
    ['empty SKU', { sku: '' }, ['input', 'sku']],
    ['SKU with spaces', { sku: 'a b' }, ['input', 'sku']],
    ['empty category', { category: '' }, ['input', 'category']],
    ['zero price', { price: { amount: 0, currency: 'EUR' } }, ['input', 'price', 'amount']],
    ['negative price', { price: { amount: -5, currency: 'EUR' } }, ['input', 'price', 'amount']],
    ['fractional price', { price: { amount: 12.5, currency: 'EUR' } }, ['input', 'price', 'amount']],
    ['bad currency', { price: { amount: 100, currency: 'EURO' } }, ['input', 'price', 'currency']],
    ['negative stock', { initialStock: -1 }, ['input', 'initialStock']],
    ['non-integer stock', { initialStock: 1.5 }, ['input', 'initialStock']],
  ] as const)('rejects %s with INVALID_INPUT at the field', (_, change, field) => {
    const f = fixture();
    spec.given([]).when({ ...f.create, ...change }).thenFails({ code: 'INVALID_INPUT', field: [...field] });
  });

  it('rejects a SKU that already exists', () => {
    const f = fixture();
    spec.given([f.created]).when(f.create).thenFails({ code: 'ALREADY_EXISTS', field: ['input', 'sku'] });
  });

  it('refuses customers', () => {
    const f = fixture();
    spec.given([]).when({ ...f.create, by: { userId: randomUUID(), role: 'CUSTOMER' } }).thenFails({ code: 'FORBIDDEN' });
  });
});

describe('UpdateProduct', () => {
  it('records only the fields that change', () => {
    const f = fixture();
    spec
      .given([f.created])
      .when({ ...f.base, type: 'UpdateProduct', changes: { name: 'Big mug', category: 'kitchen', price: { amount: 1499, currency: 'EUR' } } })
      .then([{ type: 'ProductUpdated', data: { productId: f.productId, changes: { name: 'Big mug', price: { amount: 1499, currency: 'EUR' } }, updatedAt: at } }]);
  });

  it('does nothing when every value is already as asked', () => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, type: 'UpdateProduct', changes: { name: 'Mug' } }).thenNothingHappens();
  });

  it('clears the description when it is set to empty', () => {
    const f = fixture();
    spec
      .given([f.created])
      .when({ ...f.base, type: 'UpdateProduct', changes: { description: '' } })
      .then([{ type: 'ProductUpdated', data: { productId: f.productId, changes: { description: null }, updatedAt: at } }]);
  });

  it('accepts the current expectedVersion and rejects a stale one with VERSION_CONFLICT', () => {
    const f = fixture();
    const restocked: ProductEvent = { type: 'ProductRestocked', data: { productId: f.productId, quantity: 1, stock: 11, restockedAt: at } };
    spec.given([f.created, restocked]).when({ ...f.base, type: 'UpdateProduct', changes: { name: 'New' }, expectedVersion: 1 }).then([
      { type: 'ProductUpdated', data: { productId: f.productId, changes: { name: 'New' }, updatedAt: at } },
    ]);
    spec.given([f.created, restocked]).when({ ...f.base, type: 'UpdateProduct', changes: { name: 'New' }, expectedVersion: 0 }).thenFails({ code: 'VERSION_CONFLICT', field: ['expectedVersion'] });
  });

  it.each([
    ['empty input', {}, ['input']],
    ['empty name', { name: ' ' }, ['input', 'name']],
    ['zero price', { price: { amount: 0, currency: 'EUR' } }, ['input', 'price', 'amount']],
    ['null price', { price: null }, ['input', 'price']],
  ] as const)('rejects %s', (_, changes, field) => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, type: 'UpdateProduct', changes }).thenFails({ code: 'INVALID_INPUT', field: [...field] });
  });

  it('rejects an unknown product with NOT_FOUND', () => {
    const f = fixture();
    spec.given([]).when({ ...f.base, type: 'UpdateProduct', changes: { name: 'x' } }).thenFails({ code: 'NOT_FOUND', field: ['id'] });
  });

  it('rejects another seller with FORBIDDEN, lets an admin through', () => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, by: { userId: randomUUID(), role: 'SELLER' }, type: 'UpdateProduct', changes: { name: 'x' } }).thenFails({ code: 'FORBIDDEN' });
    spec.given([f.created]).when({ ...f.base, by: { userId: randomUUID(), role: 'ADMIN' }, type: 'UpdateProduct', changes: { name: 'x' } }).then([
      { type: 'ProductUpdated', data: { productId: f.productId, changes: { name: 'x' }, updatedAt: at } },
    ]);
  });

  it('rejects changing a discontinued product with INVALID_STATE', () => {
    const f = fixture();
    spec.given([f.created, f.discontinued]).when({ ...f.base, type: 'UpdateProduct', changes: { name: 'x' } }).thenFails({ code: 'INVALID_STATE' });
  });
});

describe('RestockProduct', () => {
  it('adds the quantity and records the resulting stock', () => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, type: 'RestockProduct', quantity: 5 }).then([
      { type: 'ProductRestocked', data: { productId: f.productId, quantity: 5, stock: 15, restockedAt: at } },
    ]);
  });

  it.each([0, -3, 2.5])('rejects quantity %s with INVALID_INPUT', (quantity) => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, type: 'RestockProduct', quantity }).thenFails({ code: 'INVALID_INPUT', field: ['quantity'] });
  });

  it('rejects a discontinued product with INVALID_STATE', () => {
    const f = fixture();
    spec.given([f.created, f.discontinued]).when({ ...f.base, type: 'RestockProduct', quantity: 1 }).thenFails({ code: 'INVALID_STATE', field: ['id'] });
  });

  it('rejects an unknown product with NOT_FOUND', () => {
    const f = fixture();
    spec.given([]).when({ ...f.base, type: 'RestockProduct', quantity: 1 }).thenFails({ code: 'NOT_FOUND' });
  });

  it('rejects another seller with FORBIDDEN', () => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, by: { userId: randomUUID(), role: 'SELLER' }, type: 'RestockProduct', quantity: 1 }).thenFails({ code: 'FORBIDDEN' });
  });
});

describe('DiscontinueProduct', () => {
  it('withdraws the remaining stock', () => {
    const f = fixture();
    spec.given([f.created]).when({ ...f.base, type: 'DiscontinueProduct' }).then([f.discontinued]);
  });

  it('is idempotent', () => {
    const f = fixture();
    spec.given([f.created, f.discontinued]).when({ ...f.base, type: 'DiscontinueProduct' }).thenNothingHappens();
  });

  it('rejects an unknown product with NOT_FOUND and another seller with FORBIDDEN', () => {
    const f = fixture();
    spec.given([]).when({ ...f.base, type: 'DiscontinueProduct' }).thenFails({ code: 'NOT_FOUND' });
    spec.given([f.created]).when({ ...f.base, by: { userId: randomUUID(), role: 'SELLER' }, type: 'DiscontinueProduct' }).thenFails({ code: 'FORBIDDEN' });
  });
});

describe('inventory for the order saga', () => {
  const price = { amount: 1299, currency: 'EUR' };
  const inv = (f: ReturnType<typeof fixture>, orderId: string) => ({ productId: f.productId, orderId, at, placedAt: at });
  const reserved = (f: ReturnType<typeof fixture>, orderId: string, quantity: number, stock: number): ProductEvent => ({
    type: 'StockReserved',
    data: { productId: f.productId, orderId, quantity, unitPrice: price, sellerId: f.seller.userId, stock, reservedAt: at },
  });

  it('reserves units at the current price, taking them from the sellable stock', () => {
    const f = fixture();
    const orderId = randomUUID();
    spec.given([f.created]).when({ type: 'ReserveStock', ...inv(f, orderId), quantity: 4 }).then([reserved(f, orderId, 4, 6)]);
  });

  it('rejects a reservation the stock cannot cover, or of a discontinued product, taking nothing', () => {
    const f = fixture();
    const orderId = randomUUID();
    spec
      .given([f.created, reserved(f, randomUUID(), 8, 2)])
      .when({ type: 'ReserveStock', ...inv(f, orderId), quantity: 3 })
      .then([{ type: 'StockReservationRejected', data: { productId: f.productId, orderId, quantity: 3, reason: 'INSUFFICIENT_STOCK', available: 2, rejectedAt: at } }]);
    spec
      .given([f.created, f.discontinued])
      .when({ type: 'ReserveStock', ...inv(f, orderId), quantity: 1 })
      .then([{ type: 'StockReservationRejected', data: { productId: f.productId, orderId, quantity: 1, reason: 'DISCONTINUED', available: 0, rejectedAt: at } }]);
  });

  it('answers a product that does not exist with NOT_FOUND (the consumer rejects the line for it)', () => {
    const f = fixture();
    spec.given([]).when({ type: 'ReserveStock', ...inv(f, randomUUID()), quantity: 1 }).thenFails({ code: 'NOT_FOUND' });
  });

  it('is idempotent per order: a second request for the same order decides nothing, even after a release', () => {
    const f = fixture();
    const orderId = randomUUID();
    const released: ProductEvent = { type: 'StockReleased', data: { productId: f.productId, orderId, quantity: 4, stock: 10, releasedAt: at } };
    spec.given([f.created, reserved(f, orderId, 4, 6)]).when({ type: 'ReserveStock', ...inv(f, orderId), quantity: 4 }).thenNothingHappens();
    spec.given([f.created, reserved(f, orderId, 4, 6), released]).when({ type: 'ReserveStock', ...inv(f, orderId), quantity: 4 }).thenNothingHappens();
    spec.given([f.created, reserved(f, orderId, 4, 6), released]).when({ type: 'ReleaseStock', ...inv(f, orderId) }).thenNothingHappens();
  });

  it('releases reserved units back into stock, and sells them on payment', () => {
    const f = fixture();
    const orderId = randomUUID();
    spec
      .given([f.created, reserved(f, orderId, 4, 6)])
      .when({ type: 'ReleaseStock', ...inv(f, orderId) })
      .then([{ type: 'StockReleased', data: { productId: f.productId, orderId, quantity: 4, stock: 10, releasedAt: at } }]);
    const sold: ProductEvent = { type: 'StockSold', data: { productId: f.productId, orderId, quantity: 4, soldAt: at } };
    spec.given([f.created, reserved(f, orderId, 4, 6)]).when({ type: 'SellStock', ...inv(f, orderId) }).then([sold]);
    spec.given([f.created, reserved(f, orderId, 4, 6), sold]).when({ type: 'SellStock', ...inv(f, orderId) }).thenNothingHappens();
    // A paid order cancelled before shipping gives its sold units back.
    spec
      .given([f.created, reserved(f, orderId, 4, 6), sold])
      .when({ type: 'ReleaseStock', ...inv(f, orderId) })
      .then([{ type: 'StockReleased', data: { productId: f.productId, orderId, quantity: 4, stock: 10, releasedAt: at } }]);
  });

  it('releases nothing for an order it never reserved for (rejected, or unknown), and sells nothing unreserved', () => {
    const f = fixture();
    const orderId = randomUUID();
    const rejected: ProductEvent = { type: 'StockReservationRejected', data: { productId: f.productId, orderId, quantity: 30, reason: 'INSUFFICIENT_STOCK', available: 10, rejectedAt: at } };
    spec.given([f.created, rejected]).when({ type: 'ReleaseStock', ...inv(f, orderId) }).thenNothingHappens();
    spec.given([f.created]).when({ type: 'ReleaseStock', ...inv(f, orderId) }).thenNothingHappens();
    spec.given([f.created]).when({ type: 'SellStock', ...inv(f, orderId) }).thenNothingHappens();
  });

  describe('memory of finished reservations (RESERVATION_MEMORY_MS)', () => {
    const later = (ms: number) => new Date(Date.parse(at) + ms).toISOString();
    const afterMemory = later(RESERVATION_MEMORY_MS + 1);

    it('forgets a finished reservation after the memory: a redelivered release, sale or reservation decides nothing', () => {
      const f = fixture();
      const orderId = randomUUID();
      const sold: ProductEvent = { type: 'StockSold', data: { productId: f.productId, orderId, quantity: 4, soldAt: at } };
      const given = spec.given([f.created, reserved(f, orderId, 4, 6), sold]);
      given.when({ type: 'ReleaseStock', productId: f.productId, orderId, at: afterMemory }).thenNothingHappens();
      given.when({ type: 'SellStock', productId: f.productId, orderId, at: afterMemory }).thenNothingHappens();
      given.when({ type: 'ReserveStock', productId: f.productId, orderId, at: afterMemory, placedAt: at, quantity: 4 }).thenNothingHappens();
      // Within the memory, a paid order cancelled before shipping still gets its units back.
      given
        .when({ type: 'ReleaseStock', productId: f.productId, orderId, at: later(RESERVATION_MEMORY_MS) })
        .then([{ type: 'StockReleased', data: { productId: f.productId, orderId, quantity: 4, stock: 10, releasedAt: later(RESERVATION_MEMORY_MS) } }]);
    });

    it('does not reserve for an order placed before the stale horizon (it may have been forgotten), but does for one placed after it', () => {
      const f = fixture();
      const orderId = randomUUID();
      const now = later(STALE_ORDER_MS);
      spec.given([f.created]).when({ type: 'ReserveStock', productId: f.productId, orderId, at: now, placedAt: later(-1), quantity: 1 }).thenNothingHappens();
      spec
        .given([f.created])
        .when({ type: 'ReserveStock', productId: f.productId, orderId, at: now, placedAt: at, quantity: 1 })
        .then([{ type: 'StockReserved', data: { productId: f.productId, orderId, quantity: 1, unitPrice: price, sellerId: f.seller.userId, stock: 9, reservedAt: now } }]);
      expect(RESERVATION_MEMORY_MS).toBeGreaterThan(STALE_ORDER_MS); // an order is forgotten only once it is stale
    });

    it('remembers an open reservation however old: it is still sold or released, and never reserved twice', () => {
      const f = fixture();
      const orderId = randomUUID();
      const given = spec.given([f.created, reserved(f, orderId, 4, 6)]);
      given.when({ type: 'SellStock', productId: f.productId, orderId, at: afterMemory }).then([{ type: 'StockSold', data: { productId: f.productId, orderId, quantity: 4, soldAt: afterMemory } }]);
      given
        .when({ type: 'ReleaseStock', productId: f.productId, orderId, at: afterMemory })
        .then([{ type: 'StockReleased', data: { productId: f.productId, orderId, quantity: 4, stock: 10, releasedAt: afterMemory } }]);
      given.when({ type: 'ReserveStock', productId: f.productId, orderId, at: afterMemory, placedAt: afterMemory, quantity: 4 }).thenNothingHappens();
    });
  });

  it('answers from any state, older or newer, whichever was looked up first (the lookup index is only a memo)', () => {
    const f = fixture();
    const orderId = randomUUID();
    const older = fold(productDecider, [f.created, reserved(f, randomUUID(), 1, 9), reserved(f, orderId, 4, 5)]);
    const newer = productDecider.evolve(older, { type: 'StockSold', data: { productId: f.productId, orderId, quantity: 4, soldAt: at } });
    const sell = { type: 'SellStock' as const, ...inv(f, orderId) };
    expect(productDecider.decide(sell, older)).toHaveLength(1); // older first
    expect(productDecider.decide(sell, newer)).toEqual([]); // newer takes the older one's index over
    expect(productDecider.decide(sell, older)).toHaveLength(1); // older rebuilds its own
    expect(productDecider.decide(sell, newer)).toEqual([]);
  });

  it('does not return released units of a discontinued product to its sellable stock', () => {
    const f = fixture();
    const orderId = randomUUID();
    spec
      .given([f.created, reserved(f, orderId, 4, 6), { type: 'ProductDiscontinued', data: { productId: f.productId, stockWithdrawn: 6, discontinuedAt: at } }])
      .when({ type: 'ReleaseStock', ...inv(f, orderId) })
      .then([{ type: 'StockReleased', data: { productId: f.productId, orderId, quantity: 4, stock: 0, releasedAt: at } }]);
  });
});
