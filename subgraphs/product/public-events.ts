import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import { assertNever } from '../../platform/errors.js';
import type { PublicContract, PublicEvent } from '../../projections/relay.js';
import { PRODUCT_EVENT_TYPES, type ProductEvent } from './events.js';

/**
 * The product service's public contract on the bus (topic `product.events.v1`), versioned and
 * separate from its internal events, which may change freely. Keyed by product id.
 */
export const PRODUCT_TOPIC = 'product.events.v1';

export type ProductPublicEvent =
  | { type: 'ProductListed.v1'; value: { productId: string; sku: string; name: string; category: string; price: { amount: number; currency: string }; sellerId: string; stock: number; occurredAt: string } }
  | { type: 'ProductDetailsChanged.v1'; value: { productId: string; name?: string; category?: string; price?: { amount: number; currency: string }; occurredAt: string } }
  | { type: 'StockLevelChanged.v1'; value: { productId: string; stock: number; delta: number; reason: 'RESTOCKED'; occurredAt: string } }
  | { type: 'ProductDiscontinued.v1'; value: { productId: string; occurredAt: string } }
  // The inventory side of the order saga: every one names its order.
  | { type: 'StockReserved.v1'; value: { productId: string; orderId: string; quantity: number; unitPrice: { amount: number; currency: string }; sellerId: string; stock: number; occurredAt: string } }
  | { type: 'StockReservationRejected.v1'; value: StockReservationRejectedV1 }
  | { type: 'StockReleased.v1'; value: { productId: string; orderId: string; quantity: number; stock: number; occurredAt: string } }
  | { type: 'StockSold.v1'; value: { productId: string; orderId: string; quantity: number; occurredAt: string } };

export interface StockReservationRejectedV1 {
  productId: string;
  orderId: string;
  quantity: number;
  /** UNKNOWN_PRODUCT: no product has this id (published by the reservation consumer itself). */
  reason: 'INSUFFICIENT_STOCK' | 'DISCONTINUED' | 'UNKNOWN_PRODUCT';
  available: number;
  occurredAt: string;
}

export const productPublicEvents: PublicContract = (event: RecordedEvent): PublicEvent | undefined => {
  if (!PRODUCT_EVENT_TYPES.has(event.type)) return undefined;
  const e = { type: event.type, data: event.data } as ProductEvent;
  const at = event.metadata.occurredAt;
  let published: ProductPublicEvent;
  switch (e.type) {
    case 'ProductCreated': {
      const d = e.data;
      published = { type: 'ProductListed.v1', value: { productId: d.productId, sku: d.sku, name: d.name, category: d.category, price: d.price, sellerId: d.sellerId, stock: d.initialStock, occurredAt: at } };
      break;
    }
    case 'ProductUpdated': {
      const { name, category, price } = e.data.changes;
      if (name === undefined && category === undefined && price === undefined) return undefined; // description only: not public
      published = { type: 'ProductDetailsChanged.v1', value: { productId: e.data.productId, ...(name !== undefined && { name }), ...(category !== undefined && { category }), ...(price !== undefined && { price }), occurredAt: at } };
      break;
    }
    case 'ProductRestocked':
      published = { type: 'StockLevelChanged.v1', value: { productId: e.data.productId, stock: e.data.stock, delta: e.data.quantity, reason: 'RESTOCKED', occurredAt: at } };
      break;
    case 'ProductDiscontinued':
      published = { type: 'ProductDiscontinued.v1', value: { productId: e.data.productId, occurredAt: at } };
      break;
    case 'StockReserved': {
      const { productId, orderId, quantity, unitPrice, sellerId, stock } = e.data;
      published = { type: 'StockReserved.v1', value: { productId, orderId, quantity, unitPrice, sellerId, stock, occurredAt: at } };
      break;
    }
    case 'StockReservationRejected': {
      const { productId, orderId, quantity, reason, available } = e.data;
      published = { type: 'StockReservationRejected.v1', value: { productId, orderId, quantity, reason, available, occurredAt: at } };
      break;
    }
    case 'StockReleased': {
      const { productId, orderId, quantity, stock } = e.data;
      published = { type: 'StockReleased.v1', value: { productId, orderId, quantity, stock, occurredAt: at } };
      break;
    }
    case 'StockSold': {
      const { productId, orderId, quantity } = e.data;
      published = { type: 'StockSold.v1', value: { productId, orderId, quantity, occurredAt: at } };
      break;
    }
    default:
      return assertNever(e, 'product event');
  }
  return { topic: PRODUCT_TOPIC, key: published.value.productId, ...published };
};
