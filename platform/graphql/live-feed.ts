import type { Metrics } from '../metrics/metrics.js';
import { viewIterator, type Subscription } from '../pubsub/pubsub.js';

/**
 * A GraphQL subscription's source over a pub/sub subscription: only the notifications it wants,
 * counted (active subscriptions, events sent) and timed from when the change was recorded to
 * when it is sent. Unsubscribes as soon as the client goes away.
 */
export function liveFeed<T>(options: {
  field: string;
  subscription: Subscription<T>;
  metrics: Metrics;
  clock: () => Date;
  wanted: (notification: T) => boolean;
  /** When the change happened (ISO-8601), for the delivery latency. */
  at: (notification: T) => string;
  /** Sent first: the current state, for feeds that start from it. */
  initial?: T;
}): AsyncIterableIterator<T> {
  const { field, subscription, metrics, clock, wanted, at, initial } = options;
  metrics.subscriptionsActive.inc({ field });
  if (initial !== undefined) metrics.subscriptionEvents.inc({ field });
  return viewIterator(
    subscription,
    (notification: T) => {
      if (!wanted(notification)) return undefined;
      metrics.subscriptionDeliveryDuration.observe({ field }, Math.max(0, (clock().getTime() - Date.parse(at(notification))) / 1000));
      metrics.subscriptionEvents.inc({ field });
      return notification;
    },
    { onEnd: () => metrics.subscriptionsActive.dec({ field }), ...(initial !== undefined && { first: initial }) },
  );
}
