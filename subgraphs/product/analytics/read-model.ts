import type { Doc } from '../../../platform/documents/document-store.js';
import type { Money } from '../events.js';

/**
 * The seller analytics read model (projection.ts), sparse: a slot document exists only for a
 * 15-minute UTC slot (days.ts) in which something happened.
 */
export const ANALYTICS_LINES = 'analytics_lines';
export const ANALYTICS_SELLER_ORDERS = 'analytics_seller_orders';
export const ANALYTICS_PRODUCT_SLOTS = 'analytics_product_slots';
export const ANALYTICS_SELLER_SLOTS = 'analytics_seller_slots';
export const ANALYTICS_TIME_ZONES = 'analytics_time_zones';

/** Revenue by currency (minor units): a product's price may change currency; sums never mix them. */
export type Revenue = Record<string, number>;

/** One order line of one product (`<productId>:<orderId>`), as the product stream told it. */
export interface LineDoc extends Doc {
  productId: string;
  orderId: string;
  sellerId: string;
  quantity: number;
  unitPrice: Money;
  state: 'reserved' | 'sold' | 'released';
  /** The slot it was sold in (while sold, and after a release of a sale: where it was withdrawn from). */
  soldSlot: number | null;
}

/** A seller's sold lines in one order (`<sellerId>:<orderId>`): the order counts once, in the slot of its first sold line. */
export interface SellerOrderDoc extends Doc {
  sellerId: string;
  orderId: string;
  soldLines: number;
  slot: number;
}

export interface Figures {
  unitsSold: number;
  revenue: Revenue;
  /** Paid orders (for a product: containing it; for a seller: with at least one of their lines). */
  orders: number;
}

/** A product's figures in one slot (`<productId>:<slot>`). */
export interface ProductSlotDoc extends Doc, Figures {
  productId: string;
  slot: number;
  views: number;
}

/** A seller's figures in one slot (`<sellerId>:<slot>`). */
export interface SellerSlotDoc extends Doc, Figures {
  sellerId: string;
  slot: number;
}

/** A user's time zone, when not UTC (`_id`: user id). */
export interface TimeZoneDoc extends Doc {
  timeZone: string;
}
