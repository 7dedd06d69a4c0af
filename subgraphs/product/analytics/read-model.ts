import type { Doc } from '../../../platform/documents/document-store.js';
import type { Money } from '../events.js';

/**
 * The seller analytics read model (projection.ts). Figures are kept per 15-minute UTC slot
 * (days.ts), sparse (only slots in which something happened), grouped in one document per owner
 * and UTC day: a range of N days is N + 2 look-ups by `_id`, whatever the activity (FerretDB v1
 * answers `_id` look-ups quickly, but a range filter on other fields scans the owner's documents).
 */
export const ANALYTICS_LINES = 'analytics_lines';
export const ANALYTICS_SELLER_ORDERS = 'analytics_seller_orders';
export const ANALYTICS_PRODUCT_DAYS = 'analytics_product_days';
export const ANALYTICS_SELLER_DAYS = 'analytics_seller_days';
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

/** One slot's figures (views only for products). */
export interface SlotFigures extends Figures {
  views: number;
}

/**
 * An owner's (a product's or a seller's) slots of one UTC day (`<ownerId>:<YYYY-MM-DD>`), by
 * slot number in the day (0 for 00:00-00:15 UTC, up to 95).
 */
export interface DayDoc extends Doc {
  ownerId: string;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  slots: Record<string, SlotFigures>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where a slot (epoch ms) is kept: its owner's document of its UTC day, at its number in that day. */
export function dayKey(ownerId: string, slot: number): { id: string; day: string; index: string } {
  const dayStart = Math.floor(slot / DAY_MS) * DAY_MS;
  const day = new Date(dayStart).toISOString().slice(0, 10);
  return { id: `${ownerId}:${day}`, day, index: String(Math.round((slot - dayStart) / (15 * 60 * 1000))) };
}

/** A user's time zone, when not UTC (`_id`: user id). */
export interface TimeZoneDoc extends Doc {
  timeZone: string;
}
