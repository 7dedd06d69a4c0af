import type { Collection, Doc } from '../../../platform/documents/document-store.js';
import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import type { ApplyResult, Projection, ProjectionTarget } from '../../../projections/projection.js';
import type { StockReleased, StockReserved, StockSold } from '../events.js';
import { slotOf } from './days.js';
import type { ProductViewNoted, SellerTimeZoneNoted } from './events.js';
import {
  ANALYTICS_LINES,
  ANALYTICS_PRODUCT_DAYS,
  ANALYTICS_SELLER_DAYS,
  ANALYTICS_SELLER_ORDERS,
  ANALYTICS_TIME_ZONES,
  dayKey,
  type DayDoc,
  type LineDoc,
  type Revenue,
  type SellerOrderDoc,
  type SlotFigures,
  type TimeZoneDoc,
} from './read-model.js';

const UNCHANGED: ApplyResult = { changed: false };
const TYPES: ReadonlySet<string> = new Set(['StockReserved', 'StockSold', 'StockReleased', 'ProductViewNoted', 'SellerTimeZoneNoted']);

const lineId = (productId: string, orderId: string) => `${productId}:${orderId}`;

/**
 * Reads a document, derives the next one (a new object: the projector may remember what it read)
 * and writes it guarded by the event's position; false when the event was already applied to it.
 */
async function update<T extends Doc>(docs: Collection<T>, id: string, position: number, change: (before: Readonly<T> | undefined) => T): Promise<boolean> {
  const before = await docs.get(id);
  if (before && (before._position ?? -1) >= position) return false;
  return docs.upsertIfNewer(change(before), position);
}

interface Delta {
  units: number;
  revenue: Revenue;
  orders: number;
  views: number;
}

const addRevenue = (a: Revenue, b: Revenue): Revenue => {
  const sum = { ...a };
  for (const [currency, amount] of Object.entries(b)) sum[currency] = (sum[currency] ?? 0) + amount;
  return sum;
};

const plus = (figures: SlotFigures | undefined, d: Delta): SlotFigures => ({
  views: (figures?.views ?? 0) + d.views,
  unitsSold: (figures?.unitsSold ?? 0) + d.units,
  revenue: addRevenue(figures?.revenue ?? {}, d.revenue),
  orders: (figures?.orders ?? 0) + d.orders,
});

function lineDelta(line: LineDoc, sign: 1 | -1, orders: number): Delta {
  return { units: sign * line.quantity, revenue: { [line.unitPrice.currency]: sign * line.quantity * line.unitPrice.amount }, orders, views: 0 };
}

/**
 * Seller analytics, from the product streams' inventory events (a line reserved at a price, sold
 * when its order is paid, released when a paid order is cancelled and refunded: the sale is
 * withdrawn from the slot it was counted in) and the product slice's notes of views and time
 * zones. Every write is guarded by the event's position: a replayed event changes nothing. The
 * line document is written last, so an event whose other writes failed half-way is applied again
 * from the same line state; likewise for a whole batch (`flushOrder`): the figures reach the
 * store first, then the sellers' orders (which decide whether a sale counts an order), the lines
 * (which decide whether an event still counts) last. Flushed the other way round, a projector
 * killed between the lines and the figures left sales marked counted that no figure held, and
 * the next holder, applying the batch again, skipped them for good.
 */
export const productAnalyticsProjection: Projection = {
  name: 'product-analytics',
  version: 1,
  collections: [ANALYTICS_LINES, ANALYTICS_SELLER_ORDERS, ANALYTICS_PRODUCT_DAYS, ANALYTICS_SELLER_DAYS, ANALYTICS_TIME_ZONES],
  flushOrder: [ANALYTICS_PRODUCT_DAYS, ANALYTICS_SELLER_DAYS, ANALYTICS_TIME_ZONES, ANALYTICS_SELLER_ORDERS, ANALYTICS_LINES],
  handles: (event) => TYPES.has(event.type),
  documents(event) {
    switch (event.type) {
      case 'StockReserved':
      case 'StockSold':
      case 'StockReleased': {
        const d = event.data as StockReserved['data'];
        return [{ collection: ANALYTICS_LINES, id: lineId(d.productId, d.orderId) }];
      }
      case 'ProductViewNoted': {
        const d = event.data as ProductViewNoted['data'];
        return [{ collection: ANALYTICS_PRODUCT_DAYS, id: dayKey(d.productId, slotOf(d.viewedAt)).id }];
      }
      default:
        return [{ collection: ANALYTICS_TIME_ZONES, id: (event.data as SellerTimeZoneNoted['data']).userId }];
    }
  },
  apply(event: RecordedEvent, target: ProjectionTarget): Promise<ApplyResult> {
    switch (event.type) {
      case 'StockReserved':
        return reserved(event.data as StockReserved['data'], event.position, target);
      case 'StockSold':
        return sold(event.data as StockSold['data'], event.position, target);
      case 'StockReleased':
        return released(event.data as StockReleased['data'], event.position, target);
      case 'ProductViewNoted':
        return viewed(event.data as ProductViewNoted['data'], event.position, target);
      default:
        return timeZone(event.data as SellerTimeZoneNoted['data'], event.position, target);
    }
  },
};

async function reserved(d: StockReserved['data'], position: number, target: ProjectionTarget): Promise<ApplyResult> {
  const id = lineId(d.productId, d.orderId);
  const written = await update(target.collection<LineDoc>(ANALYTICS_LINES), id, position, () => ({
    _id: id,
    productId: d.productId,
    orderId: d.orderId,
    sellerId: d.sellerId,
    quantity: d.quantity,
    unitPrice: d.unitPrice,
    state: 'reserved' as const,
    soldSlot: null,
  }));
  return { changed: written };
}

async function sold(d: StockSold['data'], position: number, target: ProjectionTarget): Promise<ApplyResult> {
  const lines = target.collection<LineDoc>(ANALYTICS_LINES);
  const line = await lines.get(lineId(d.productId, d.orderId));
  if (line?.state !== 'reserved') return UNCHANGED; // never reserved here, or already sold (a replay)
  const slot = slotOf(d.soldAt);
  // The seller's order counts once: in the slot of its first sold line.
  const orderId = `${line.sellerId}:${d.orderId}`;
  const sellerOrder = await target.collection<SellerOrderDoc>(ANALYTICS_SELLER_ORDERS).get(orderId);
  // (Or this very event counted it already, before a failure stopped it half-way.)
  const firstOfOrder = !sellerOrder || sellerOrder.soldLines === 0 || (sellerOrder._position === position && sellerOrder.soldLines === 1);
  await update(target.collection<SellerOrderDoc>(ANALYTICS_SELLER_ORDERS), orderId, position, (before) =>
    !before || before.soldLines === 0 ? { _id: orderId, sellerId: line.sellerId, orderId: d.orderId, soldLines: 1, slot } : { ...before, soldLines: before.soldLines + 1 },
  );
  await bumpProduct(target, line.productId, slot, lineDelta(line, 1, 1), position);
  await bumpSeller(target, line.sellerId, new Map([[slot, lineDelta(line, 1, firstOfOrder ? 1 : 0)]]), position);
  await update(lines, line._id, position, (before) => ({ ...(before ?? line), state: 'sold' as const, soldSlot: slot }));
  return { changed: true };
}

async function released(d: StockReleased['data'], position: number, target: ProjectionTarget): Promise<ApplyResult> {
  const lines = target.collection<LineDoc>(ANALYTICS_LINES);
  const line = await lines.get(lineId(d.productId, d.orderId));
  if (!line || line.state === 'released') return UNCHANGED;
  if (line.state === 'sold' && line.soldSlot !== null) {
    // A paid order cancelled (refunded): its sale is withdrawn from the slot it was counted in.
    const orderId = `${line.sellerId}:${d.orderId}`;
    const sellerOrder = await target.collection<SellerOrderDoc>(ANALYTICS_SELLER_ORDERS).get(orderId);
    const lastOfOrder = sellerOrder !== undefined && (sellerOrder.soldLines === 1 || (sellerOrder._position === position && sellerOrder.soldLines === 0));
    if (sellerOrder) await update(target.collection<SellerOrderDoc>(ANALYTICS_SELLER_ORDERS), orderId, position, (before) => ({ ...(before ?? sellerOrder), soldLines: Math.max(0, (before ?? sellerOrder).soldLines - 1) }));
    await bumpProduct(target, line.productId, line.soldSlot, lineDelta(line, -1, -1), position);
    const deltas = new Map([[line.soldSlot, lineDelta(line, -1, 0)]]);
    if (lastOfOrder) {
      const at = deltas.get(sellerOrder.slot);
      if (at) at.orders -= 1;
      else deltas.set(sellerOrder.slot, { units: 0, revenue: {}, orders: -1, views: 0 });
    }
    await bumpSeller(target, line.sellerId, deltas, position);
  }
  await update(lines, line._id, position, (before) => ({ ...(before ?? line), state: 'released' as const }));
  return { changed: true };
}

async function viewed(d: ProductViewNoted['data'], position: number, target: ProjectionTarget): Promise<ApplyResult> {
  return { changed: await bumpProduct(target, d.productId, slotOf(d.viewedAt), { units: 0, revenue: {}, orders: 0, views: 1 }, position) };
}

async function timeZone(d: SellerTimeZoneNoted['data'], position: number, target: ProjectionTarget): Promise<ApplyResult> {
  const docs = target.collection<TimeZoneDoc>(ANALYTICS_TIME_ZONES);
  const written = await update(docs, d.userId, position, () => ({ _id: d.userId, timeZone: d.timeZone }));
  return { changed: written };
}

function bumpProduct(target: ProjectionTarget, productId: string, slot: number, delta: Delta, position: number): Promise<boolean> {
  return bumpDays(target.collection<DayDoc>(ANALYTICS_PRODUCT_DAYS), productId, new Map([[slot, delta]]), position);
}

function bumpSeller(target: ProjectionTarget, sellerId: string, deltas: ReadonlyMap<number, Delta>, position: number): Promise<boolean> {
  return bumpDays(target.collection<DayDoc>(ANALYTICS_SELLER_DAYS), sellerId, deltas, position);
}

/** Adds each slot's delta to its day document (one write per document, however many of its slots change). */
async function bumpDays(docs: Collection<DayDoc>, ownerId: string, deltas: ReadonlyMap<number, Delta>, position: number): Promise<boolean> {
  const byDoc = new Map<string, { day: string; slots: [string, Delta][] }>();
  for (const [slot, delta] of deltas) {
    const { id, day, index } = dayKey(ownerId, slot);
    const entry = byDoc.get(id) ?? { day, slots: [] };
    entry.slots.push([index, delta]);
    byDoc.set(id, entry);
  }
  let changed = false;
  for (const [id, { day, slots }] of byDoc) {
    const written = await update(docs, id, position, (before) => {
      const next: Record<string, SlotFigures> = { ...before?.slots };
      for (const [index, delta] of slots) next[index] = plus(next[index], delta);
      return { _id: id, ownerId, day, slots: next };
    });
    changed ||= written;
  }
  return changed;
}
