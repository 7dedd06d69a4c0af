import { ConcurrencyError } from '../errors.js';
import type { EventStore } from '../event-store/event-store.js';
import type { Metrics } from './metrics.js';

/** Decorates any EventStore with append latency, conflict and volume metrics. */
export function instrumentEventStore(store: EventStore, metrics: Metrics): EventStore {
  return {
    async appendToStream(streamName, events, options) {
      const end = metrics.eventStoreAppendDuration.startTimer();
      try {
        const result = await store.appendToStream(streamName, events, options);
        metrics.eventStoreEventsAppended.inc(events.length);
        return result;
      } catch (error) {
        if (error instanceof ConcurrencyError) metrics.eventStoreAppendConflicts.inc();
        throw error;
      } finally {
        end();
      }
    },
    readStream: (streamName, options) => store.readStream(streamName, options),
    readLastEvent: (streamName) => store.readLastEvent(streamName),
    subscribeToAll: (options) => store.subscribeToAll(options),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
}
