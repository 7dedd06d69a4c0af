import type { EventStore } from '../../../platform/event-store/event-store.js';
import { scanLog } from '../../../platform/subscriptions/log-scan.js';
import { PRODUCT_EVENT_TYPES, productStream, type ProductEvent } from '../events.js';
import { evolveDoc, STOCK_REASON } from './projection.js';
import type { ProductDoc, StockNotification } from './read-model.js';

/**
 * The stock notifications a subscriber missed: every stock change after position `after` up to
 * `horizon`, read from the event log (not from memory), as the catalog projection published
 * them (the product as it was after each change).
 */
export async function stockChangesBetween(events: EventStore, options: { after: number; horizon: number; maxScanned: number; wanted: (productId: string) => boolean }): Promise<StockNotification[]> {
  const changes = await scanLog(events, {
    after: options.after,
    horizon: options.horizon,
    maxScanned: options.maxScanned,
    keep: (e) => PRODUCT_EVENT_TYPES.has(e.type) && STOCK_REASON[e.type as ProductEvent['type']] !== undefined && options.wanted((e.data as ProductEvent['data']).productId),
  });
  const byProduct = new Map<string, Set<number>>();
  for (const e of changes) {
    const id = (e.data as ProductEvent['data']).productId;
    let positions = byProduct.get(id);
    if (!positions) byProduct.set(id, (positions = new Set()));
    positions.add(e.position);
  }
  const notifications: StockNotification[] = [];
  for (const [productId, positions] of byProduct) {
    // Fold the product's stream up to each change, as the projection did when it happened.
    let doc: ProductDoc | undefined;
    for (const e of await events.readStream(productStream(productId))) {
      if (!PRODUCT_EVENT_TYPES.has(e.type)) continue;
      const event = { type: e.type, data: e.data } as ProductEvent;
      const before = doc;
      doc = evolveDoc(doc, event, e.recordedAt, e.revision) ?? doc;
      if (e.position > options.horizon) break;
      const reason = STOCK_REASON[event.type];
      if (!positions.has(e.position) || !reason || !doc) continue;
      notifications.push({ product: { ...doc, _position: e.position }, previousStock: before?.stock ?? 0, stock: doc.stock, reason, at: e.metadata.occurredAt, position: e.position });
    }
  }
  return notifications.sort((a, b) => a.position - b.position);
}
