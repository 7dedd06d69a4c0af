import type { Bus, BusMessage } from '../platform/bus/bus.js';
import type { RecordedEvent } from '../platform/event-store/event-store.js';
import type { Projection } from './projection.js';

/** A public (integration) event: an explicit, versioned contract, not an internal event. */
export interface PublicEvent {
  topic: string;
  /** The aggregate id: one aggregate's events stay in order. */
  key: string;
  /** Versioned type, e.g. `StockLevelChanged.v1`. */
  type: string;
  value: unknown;
}

/** What a slice publishes: maps its internal events to public ones (or nothing). */
export type PublicContract = (event: RecordedEvent) => PublicEvent | undefined;

/**
 * The relay: follows the event store from its checkpoint and publishes the public events to the
 * bus, so no request ever writes to the event store and the bus at once. It runs as a projection
 * (same checkpointing, batching, retry and lag metrics); the message id is the event id, so a
 * redelivery after a crash (at-least-once) is recognisable by consumers.
 */
export function relayProjection(bus: Bus, contracts: readonly PublicContract[]): Projection {
  const map = (event: RecordedEvent) => {
    for (const contract of contracts) {
      const published = contract(event);
      if (published) return published;
    }
    return undefined;
  };
  // One batch of the projector, per topic in event order: published in one call per topic.
  const pending = new Map<string, BusMessage[]>();
  return {
    name: 'integration-relay',
    // Holds no documents; the collection name only scopes the checkpoint.
    collections: ['integration_relay'],
    rebuildable: false, // a replay would publish everything again
    onPoison: 'park', // each public message stands alone: one that cannot be built must not hold back the rest
    handles: (event) => map(event) !== undefined,
    apply(event) {
      const published = map(event)!;
      const messages = pending.get(published.topic) ?? [];
      pending.set(published.topic, messages);
      messages.push({
        id: event.id,
        key: published.key,
        type: published.type,
        value: published.value,
        headers: { 'x-correlation-id': event.metadata.correlationId, 'x-causation-id': event.id, 'x-occurred-at': event.metadata.occurredAt, 'x-position': String(event.position) },
      });
      return Promise.resolve({ changed: true });
    },
    async flush() {
      for (const [topic, messages] of pending) {
        await bus.publish(topic, messages);
        pending.delete(topic); // published: a retry after a later topic fails does not repeat it
      }
    },
    discard() {
      pending.clear();
    },
  };
}
