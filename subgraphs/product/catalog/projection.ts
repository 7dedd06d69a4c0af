import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import { assertNever } from '../../../platform/errors.js';
import type { Projection } from '../../../projections/projection.js';
import { PRODUCT_EVENT_TYPES, type ProductEvent } from '../events.js';
import { anyTag, entityTag, listTag } from '../../../platform/cache/response-tags.js';
import { CATALOG, LIST_TAG, productTag, STOCK_CHANNEL, type ProductDoc, type StockChangeReason, type StockNotification } from './read-model.js';

/**
 * Whether lists of products may hold or order them differently after the change: they filter on
 * category, seller, price, name and stock > 0, and sort on creation, price and name.
 */
export function changesListings(before: ProductDoc | undefined, after: ProductDoc): boolean {
  return (
    !before ||
    before.category !== after.category ||
    before.sellerId !== after.sellerId ||
    before.price.amount !== after.price.amount ||
    before.name !== after.name ||
    before.status !== after.status ||
    before.createdAt !== after.createdAt ||
    before.stock > 0 !== after.stock > 0
  );
}

/** Applies one product event to the product's document (pure). */
export function evolveDoc(doc: ProductDoc | undefined, event: ProductEvent, recordedAt: string, revision: number): ProductDoc | undefined {
  switch (event.type) {
    case 'ProductCreated': {
      const d = event.data;
      return {
        _id: d.productId,
        sku: d.sku,
        name: d.name,
        nameKey: d.name.toLowerCase(),
        description: d.description,
        category: d.category,
        price: d.price,
        stock: d.initialStock,
        status: 'ACTIVE',
        sellerId: d.sellerId,
        version: revision,
        createdAt: d.createdAt,
        updatedAt: d.createdAt,
      };
    }
    case 'ProductUpdated': {
      if (!doc) return undefined;
      const c = event.data.changes;
      return {
        ...doc,
        ...(c.name !== undefined && { name: c.name, nameKey: c.name.toLowerCase() }),
        ...(c.description !== undefined && { description: c.description }),
        ...(c.category !== undefined && { category: c.category }),
        ...(c.price !== undefined && { price: c.price }),
        version: revision,
        updatedAt: event.data.updatedAt,
      };
    }
    case 'ProductRestocked':
      return doc && { ...doc, stock: event.data.stock, version: revision, updatedAt: event.data.restockedAt };
    case 'ProductDiscontinued':
      return doc && { ...doc, stock: 0, status: 'DISCONTINUED', version: revision, updatedAt: event.data.discontinuedAt || recordedAt };
    case 'StockReserved':
      return doc && { ...doc, stock: event.data.stock, version: revision, updatedAt: event.data.reservedAt };
    case 'StockReleased':
      return doc && { ...doc, stock: event.data.stock, version: revision, updatedAt: event.data.releasedAt };
    case 'StockSold':
      return doc && { ...doc, version: revision, updatedAt: event.data.soldAt };
    case 'StockReservationRejected':
      return doc && { ...doc, version: revision, updatedAt: event.data.rejectedAt };
    default:
      return assertNever(event, 'product event');
  }
}

export const STOCK_REASON: Partial<Record<ProductEvent['type'], StockChangeReason>> = {
  ProductCreated: 'CREATED',
  ProductRestocked: 'RESTOCKED',
  ProductDiscontinued: 'DISCONTINUED',
  StockReserved: 'RESERVED',
  StockReleased: 'RELEASED',
  StockSold: 'SOLD',
};

/**
 * The product catalog projection: product events -> one document per product, guarded by event
 * position. Its effects (cache invalidation, stock notifications) run only when a document
 * actually changed, and never while rebuilding a new version aside.
 */
export const catalogProjection: Projection = {
  name: 'product-catalog',
  version: 1,
  collections: [CATALOG],
  feedsGateway: true,
  indexes: {
    [CATALOG]: [
      { keys: [['createdAt', -1]] },
      { keys: [['price.amount', 1]] },
      { keys: [['nameKey', 1]] },
      { keys: [['category', 1], ['createdAt', -1]] },
      { keys: [['sellerId', 1], ['createdAt', -1]] },
    ],
  },
  handles: (event) => PRODUCT_EVENT_TYPES.has(event.type),
  documents: (event) => [{ collection: CATALOG, id: (event.data as ProductEvent['data']).productId }],
  async apply(event: RecordedEvent, target) {
    const productEvent = { type: event.type, data: event.data } as ProductEvent;
    const collection = target.collection<ProductDoc>(CATALOG);
    const id = productEvent.data.productId;
    const before = await collection.get(id);
    if (before && (before._position ?? -1) >= event.position) return { changed: false };
    const after = evolveDoc(before, productEvent, event.recordedAt, event.revision);
    if (!after) return { changed: false };
    const written = await collection.upsertIfNewer(after, event.position);
    if (!written) return { changed: false };
    const reason = STOCK_REASON[productEvent.type];
    const previousStock = before?.stock ?? 0;
    const notifications: { channel: string; message: StockNotification }[] = [];
    if (reason) {
      notifications.push({
        channel: STOCK_CHANNEL,
        message: { product: { ...after, _position: event.position }, previousStock, stock: after.stock, reason, at: event.metadata.occurredAt, position: event.position },
      });
    }
    const responseTags = [entityTag('Product', id), anyTag('Product'), ...(changesListings(before, after) ? [listTag('Product')] : [])];
    return { changed: true, invalidateTags: [productTag(id), LIST_TAG], responseTags, notifications };
  },
};
