import type { Doc } from '../../../platform/documents/document-store.js';

/**
 * The recommendation read models, each projected from the recommendation service's own events
 * (see projections.ts) and rebuildable with `npm run replay -- <projection>`.
 */

/** Product facts: one document per product known from product.events.v1. */
export const PRODUCT_FACTS = 'rec_product_facts';
export interface ProductFactsDoc extends Doc {
  category: string;
  status: 'ACTIVE' | 'DISCONTINUED';
  inStock: boolean;
}

/**
 * Co-purchases: one document per product: in how many paid orders it is (`orders`), and with
 * which other products how often (`with`: product id -> orders containing both).
 */
export const CO_PURCHASES = 'rec_co_purchases';
export interface CoPurchaseDoc extends Doc {
  orders: number;
  with: Record<string, number>;
}

/** One document per user: what they bought (product id -> paid orders) and viewed (most recent first). */
export const USER_HISTORY = 'rec_user_history';
export interface UserHistoryDoc extends Doc {
  bought: Record<string, number>;
  viewed: { productId: string; at: string }[];
}
/** How many distinct recent views a user's history keeps. */
export const VIEWED_KEPT = 50;

/**
 * Trending: one document per product with its decayed interaction score. `score` is
 * log2(sum of weight * 2^((t - EPOCH) / halfLife)) over its interactions (null: none left), so
 * comparing two scores compares the decayed sums at any instant, and nothing needs rewriting as
 * time passes. `available` and `category` are copied from the product facts for the query's filter.
 */
export const TRENDING = 'rec_trending';
export interface TrendingDoc extends Doc {
  category: string | null;
  available: boolean;
  score: number | null;
}

/** A Product entity reference: the product subgraph resolves everything else. */
export interface ProductRef {
  id: string;
}

export interface UserRef {
  id: string;
}

// Cache tags. What the projections invalidate, and why, is in the README.
/** Every cached answer: any product becoming unavailable (discontinued, sold out) or available again, or changing category. */
export const AVAILABILITY_TAG = 'rec:availability';
/** A product's bought-together answer: its co-purchases changed. */
export const productRecsTag = (productId: string) => `rec:product:${productId}`;
/** A user's answer: their purchases or views changed. */
export const userRecsTag = (userId: string) => `rec:user:${userId}`;
