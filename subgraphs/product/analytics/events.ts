import type { DomainEvent } from '../../../platform/eventsourcing/decider.js';

/**
 * What the product slice records for seller analytics from other services' public events. Sales
 * need nothing of the kind: the product's own stream already says, per order, what was reserved
 * (quantity, unit price, seller), sold (the order was paid) and released (a paid order cancelled
 * and refunded). Views and sellers' time zones come over the bus and are recorded here first, so
 * the analytics read model is projected from this store alone (and `npm run replay` rebuilds it).
 *
 * Streams:
 * - `analyticsview-<uuidv5(user, product)>`: the views of one product by one user, as the
 *   recommendation service counted them (recommendation.events.v1);
 * - `sellerzone-<userId>`: a user's time zone, as user.events.v1 said.
 */
export const analyticsViewStream = (viewerId: string) => `analyticsview-${viewerId}`;
export const sellerZoneStream = (userId: string) => `sellerzone-${userId}`;

/** A counted view of a product (the recommendation service counts one per user, product and hour). */
export type ProductViewNoted = DomainEvent<'ProductViewNoted', { productId: string; userId: string; viewedAt: string }>;

/**
 * A user's time zone changed (from UTC, the default, or another zone). `sourcePosition`: the user
 * event's position in the user service's log (the relay's `x-position` header), when known, so an
 * older message delivered again is recognised.
 */
export type SellerTimeZoneNoted = DomainEvent<'SellerTimeZoneNoted', { userId: string; timeZone: string; sourcePosition: number | null; notedAt: string }>;

export type AnalyticsEvent = ProductViewNoted | SellerTimeZoneNoted;
