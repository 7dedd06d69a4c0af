import type { Metrics } from '../metrics/metrics.js';
import { endingIterator, type PubSub, type Subscription } from '../pubsub/pubsub.js';
import { cursorOf, encodeCursor, FeedEnd, interrupted, tooSlow, type Positioned } from '../subscriptions/cursor.js';

/**
 * A GraphQL subscription's source over a pub/sub subscription: only the notifications it wants,
 * counted (active subscriptions, events sent) and timed from when the change was recorded to
 * when it is sent. Unsubscribes as soon as the client goes away (not at the next event: a quiet
 * feed may never have one).
 *
 * Resuming: `catchUp` holds the events after the client's cursor up to `horizon`, read from the
 * event log after the live subscription was ready; live notifications at or before the horizon
 * are skipped, so the seam between the two has neither a gap nor a duplicate (positions are the
 * log's global order, and the projector publishes in that order). When the pub/sub subscription
 * lost messages because it was not read fast enough, the feed ends with SUBSCRIBER_TOO_SLOW and
 * the cursor of the last event delivered, instead of silently skipping; when the pub/sub's
 * connection dropped (messages may have been lost: `interruptions`), with SUBSCRIPTION_INTERRUPTED.
 */
export function liveFeed<T extends Positioned>(options: {
  field: string;
  subscription: Subscription<T>;
  metrics: Metrics;
  clock: () => Date;
  wanted: (notification: T) => boolean;
  /** Sent first: the current state, for feeds that start from it. */
  initial?: T;
  /** Sent next: the events after the client's cursor, up to `horizon`, in position order. */
  catchUp?: readonly T[];
  /** Live notifications at or before this position are skipped (catch-up covered them). */
  horizon?: number;
  /** The cursor to resume from when nothing was delivered yet. */
  startCursor: string;
  /** Tells when live notifications may have been lost (the pub/sub's connection dropped). */
  interruptions?: Pick<PubSub, 'onInterrupted'>;
}): AsyncIterableIterator<T | FeedEnd> {
  const { field, subscription, metrics, clock, wanted } = options;
  const queue: T[] = [...(options.initial !== undefined ? [options.initial] : []), ...(options.catchUp ?? [])];
  const horizon = Math.max(options.horizon ?? -1, ...queue.map((n) => n.position));
  let lastCursor = options.startCursor;
  let ended = false;
  let wasInterrupted = false;
  const stopListening = options.interruptions?.onInterrupted(() => {
    wasInterrupted = true;
    void subscription.return?.(); // wakes a pending next()
  });
  metrics.subscriptionsActive.inc({ field });
  if (options.catchUp?.length) metrics.subscriptionCatchUpEvents.inc({ field }, options.catchUp.length);
  const end = async () => {
    if (ended) return;
    ended = true;
    stopListening?.();
    metrics.subscriptionsActive.dec({ field });
    await subscription.return?.();
  };
  const deliver = (notification: T): IteratorResult<T> => {
    lastCursor = cursorOf(notification);
    metrics.subscriptionEvents.inc({ field });
    return { value: notification, done: false };
  };
  const done = (): IteratorResult<T | FeedEnd> => ({ value: undefined, done: true });
  return endingIterator(async (): Promise<IteratorResult<T | FeedEnd>> => {
    if (ended) return done();
    const queued = queue.shift();
    if (queued) return deliver(queued);
    while (!ended) {
      const result = await subscription.next();
      if (wasInterrupted) {
        await end();
        return { value: new FeedEnd(interrupted(lastCursor)), done: false };
      }
      if (result.done) break;
      if (subscription.dropped() > 0) {
        metrics.subscriptionOverflows.inc({ field, where: 'service' });
        await end();
        return { value: new FeedEnd(tooSlow(lastCursor, 'the service could not keep up with its live notifications')), done: false };
      }
      const notification = result.value;
      if (notification.position <= horizon || !wanted(notification)) continue;
      metrics.subscriptionDeliveryDuration.observe({ field }, Math.max(0, (clock().getTime() - Date.parse(notification.at)) / 1000));
      return deliver(notification);
    }
    await end();
    return done();
  }, end);
}

/** The cursor a subscription that has delivered nothing resumes from: the head of the log when it started. */
export function startCursor(head: number, now: Date): string {
  return encodeCursor(head, now.getTime());
}
