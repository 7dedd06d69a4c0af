import type { Cache } from './cache/cache.js';
import type { DocumentStore } from './documents/document-store.js';
import type { EventStore } from './event-store/event-store.js';
import type { Logger } from './logging.js';
import type { Metrics } from './metrics/metrics.js';
import type { PubSub } from './pubsub/pubsub.js';

/** What a slice with read models needs: the event store, its read side, and its instruments. */
export interface ServicePorts {
  events: EventStore;
  documents: DocumentStore;
  cache: Cache;
  pubsub: PubSub;
  metrics: Metrics;
  logger: Logger;
}
