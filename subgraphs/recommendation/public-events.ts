import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import type { PublicContract, PublicEvent } from '../../projections/relay.js';
import type { ProductViewed } from './events.js';

/**
 * The recommendation service's public contract on the bus (topic `recommendation.events.v1`),
 * keyed by product id: the product views it counted (at most one per user, product and hour, the
 * view-flood rule), for seller analytics. Purchases and product facts are other services' facts
 * it only copied: it does not publish them again.
 */
export const RECOMMENDATION_TOPIC = 'recommendation.events.v1';

export type RecommendationPublicEvent = { type: 'ProductViewed.v1'; value: { userId: string; productId: string; viewedAt: string } };

export const recommendationPublicEvents: PublicContract = (event: RecordedEvent): PublicEvent | undefined => {
  if (event.type !== 'ProductViewed') return undefined;
  const { userId, productId, viewedAt } = event.data as ProductViewed['data'];
  const published: RecommendationPublicEvent = { type: 'ProductViewed.v1', value: { userId, productId, viewedAt } };
  return { topic: RECOMMENDATION_TOPIC, key: productId, ...published };
};
