import type { DomainEvent } from '../../platform/eventsourcing/decider.js';

/**
 * The recommendation service's own events, in its own streams. Interactions (views, purchases)
 * and the product facts it needs are recorded here first; every read model is projected from
 * these events only, so any of them can be rebuilt from the event store alone.
 *
 * Streams:
 * - `productview-<uuidv5(user, product)>`: one user's counted views of one product;
 * - `purchase-<orderId>`: what the recommendation service learnt of one order;
 * - `productfacts-<productId>`: a product's category and availability, as product.events.v1 said.
 */
export const viewStream = (viewId: string) => `productview-${viewId}`;
export const purchaseStream = (orderId: string) => `purchase-${orderId}`;
export const productFactsStream = (productId: string) => `productfacts-${productId}`;

/** A signed-in user looked at a product (at most one counted view per user, product and hour). */
export type ProductViewed = DomainEvent<'ProductViewed', { userId: string; productId: string; viewedAt: string }>;

/** An order was placed: who placed it (OrderPaid.v1 does not say), and what is on it. */
export type OrderPlacementNoted = DomainEvent<'OrderPlacementNoted', { orderId: string; customerId: string; productIds: string[]; placedAt: string }>;

/** The order was paid: its products were bought together (`productIds` distinct, sorted). */
export type PurchaseRecorded = DomainEvent<'PurchaseRecorded', { orderId: string; customerId: string | null; productIds: string[]; paidAt: string }>;

/** A paid order was cancelled (refunded): the purchase no longer counts. */
export type PurchaseWithdrawn = DomainEvent<'PurchaseWithdrawn', { orderId: string; customerId: string | null; productIds: string[]; paidAt: string; withdrawnAt: string }>;

/**
 * What recommendations need to know of a product changed: its category, whether it is
 * discontinued, whether it has stock. `sourcePosition` is the product event's position in the
 * product service's log (the relay's `x-position` header), so an older message is recognised.
 */
export type ProductFactsRecorded = DomainEvent<
  'ProductFactsRecorded',
  { productId: string; category: string; status: 'ACTIVE' | 'DISCONTINUED'; inStock: boolean; sourcePosition: number | null; recordedAt: string }
>;

export type RecommendationEvent = ProductViewed | OrderPlacementNoted | PurchaseRecorded | PurchaseWithdrawn | ProductFactsRecorded;

export const RECOMMENDATION_EVENT_TYPES: ReadonlySet<string> = new Set<RecommendationEvent['type']>(['ProductViewed', 'OrderPlacementNoted', 'PurchaseRecorded', 'PurchaseWithdrawn', 'ProductFactsRecorded']);
