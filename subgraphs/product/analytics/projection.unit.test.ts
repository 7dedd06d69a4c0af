import { describe, expect, it } from 'vitest';
import { MemoryDocumentStore } from '../../../platform/documents/memory-document-store.js';
import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import { deciderSpec } from '../../../platform/eventsourcing/testing.js';
import { timeZoneDecider, viewNoteDecider } from './decider.js';
import { productAnalyticsProjection } from './projection.js';
import { ANALYTICS_PRODUCT_DAYS, ANALYTICS_SELLER_DAYS, type DayDoc } from './read-model.js';

const SELLER = 'seller-1';
const ORDER = 'order-1';
let position = 0;
const event = (type: string, data: Record<string, unknown>): RecordedEvent =>
  ({ id: `e${++position}`, type, data, streamName: `product-${String(data.productId)}`, revision: 0, position, recordedAt: '', metadata: { correlationId: 'c', causationId: 'c', actor: 'a', occurredAt: '', schemaVersion: 1 } });
const reserved = (productId: string, quantity: number, amount: number) => event('StockReserved', { productId, orderId: ORDER, quantity, unitPrice: { amount, currency: 'EUR' }, sellerId: SELLER, stock: 10, reservedAt: '2026-03-10T10:00:00Z' });

describe('the product-analytics projection', () => {
  it('counts an order with two of a seller’s lines once, in the slot of its first sold line, and withdraws it with its last line', async () => {
    const documents = new MemoryDocumentStore();
    const target = { collection: <T extends { _id: string }>(name: string) => documents.collection<T>(name) };
    const apply = (e: RecordedEvent) => productAnalyticsProjection.apply(e, target);
    const sellerDay = async () => (await documents.collection<DayDoc>(ANALYTICS_SELLER_DAYS).get(`${SELLER}:2026-03-10`))?.slots;
    await apply(reserved('p1', 2, 1000));
    await apply(reserved('p2', 1, 250));
    const soldP1 = event('StockSold', { productId: 'p1', orderId: ORDER, quantity: 2, soldAt: '2026-03-10T10:14:00Z' }); // slot 40 (10:00)
    await apply(soldP1);
    await apply(event('StockSold', { productId: 'p2', orderId: ORDER, quantity: 1, soldAt: '2026-03-10T10:16:00Z' })); // slot 41 (10:15)
    expect(await sellerDay()).toEqual({
      40: { views: 0, unitsSold: 2, orders: 1, revenue: { EUR: 2000 } },
      41: { views: 0, unitsSold: 1, orders: 0, revenue: { EUR: 250 } },
    });
    expect((await documents.collection<DayDoc>(ANALYTICS_PRODUCT_DAYS).get('p2:2026-03-10'))?.slots).toEqual({ 41: { views: 0, unitsSold: 1, orders: 1, revenue: { EUR: 250 } } });
    // A replayed event changes nothing.
    expect((await apply(soldP1)).changed).toBe(false);

    // Refunded: the first line released leaves the order counted (p2 is still sold), the last one withdraws it.
    await apply(event('StockReleased', { productId: 'p1', orderId: ORDER, quantity: 2, stock: 10, releasedAt: '2026-03-11T08:00:00Z' }));
    expect(await sellerDay()).toEqual({
      40: { views: 0, unitsSold: 0, orders: 1, revenue: { EUR: 0 } },
      41: { views: 0, unitsSold: 1, orders: 0, revenue: { EUR: 250 } },
    });
    await apply(event('StockReleased', { productId: 'p2', orderId: ORDER, quantity: 1, stock: 10, releasedAt: '2026-03-11T08:00:00Z' }));
    expect(await sellerDay()).toEqual({
      40: { views: 0, unitsSold: 0, orders: 0, revenue: { EUR: 0 } },
      41: { views: 0, unitsSold: 0, orders: 0, revenue: { EUR: 0 } },
    });
  });

  it('releases a line never sold without counting anything', async () => {
    const documents = new MemoryDocumentStore();
    const target = { collection: <T extends { _id: string }>(name: string) => documents.collection<T>(name) };
    await productAnalyticsProjection.apply(reserved('p3', 1, 500), target);
    await productAnalyticsProjection.apply(event('StockReleased', { productId: 'p3', orderId: ORDER, quantity: 1, stock: 10, releasedAt: '2026-03-10T11:00:00Z' }), target);
    expect(await documents.collection(ANALYTICS_SELLER_DAYS).count()).toBe(0);
    expect(await documents.collection(ANALYTICS_PRODUCT_DAYS).count()).toBe(0);
  });
});

describe('the analytics deciders', () => {
  it('notes a view only when it is later than the last one noted', () => {
    const view = (viewedAt: string) => ({ type: 'NoteView' as const, productId: 'p', userId: 'u', viewedAt });
    const noted = (viewedAt: string) => ({ type: 'ProductViewNoted' as const, data: { productId: 'p', userId: 'u', viewedAt } });
    const spec = deciderSpec(viewNoteDecider);
    spec.given([]).when(view('2026-03-10T10:00:00Z')).then([noted('2026-03-10T10:00:00Z')]);
    spec.given([noted('2026-03-10T10:00:00Z')]).when(view('2026-03-10T10:00:00Z')).thenNothingHappens();
    spec.given([noted('2026-03-10T11:00:00Z')]).when(view('2026-03-10T10:00:00Z')).thenNothingHappens();
    spec.given([noted('2026-03-10T10:00:00Z')]).when(view('2026-03-10T11:00:00Z')).then([noted('2026-03-10T11:00:00Z')]);
  });

  it('notes a time zone that changes, and ignores messages no newer than the last one noted', () => {
    const note = (timeZone: string, sourcePosition: number | null) => ({ type: 'NoteTimeZone' as const, userId: 'u', timeZone, sourcePosition, at: 't' });
    const noted = (timeZone: string, sourcePosition: number | null) => ({ type: 'SellerTimeZoneNoted' as const, data: { userId: 'u', timeZone, sourcePosition, notedAt: 't' } });
    const spec = deciderSpec(timeZoneDecider);
    spec.given([]).when(note('UTC', 1)).thenNothingHappens();
    spec.given([]).when(note('Europe/Paris', 1)).then([noted('Europe/Paris', 1)]);
    spec.given([noted('Europe/Paris', 5)]).when(note('UTC', 3)).thenNothingHappens(); // an older registration delivered again
    spec.given([noted('Europe/Paris', 5)]).when(note('UTC', 7)).then([noted('UTC', 7)]);
  });
});
