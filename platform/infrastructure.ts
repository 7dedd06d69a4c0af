import { join } from 'node:path';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory-bus.js';
import type { Cache } from './cache/cache.js';
import { MemoryCache } from './cache/memory-cache.js';
import { ConfigError, type Config } from './config.js';
import type { DocumentStore } from './documents/document-store.js';
import { MemoryDocumentStore } from './documents/memory-document-store.js';
import type { EventStore } from './event-store/event-store.js';
import { FileEventStore } from './event-store/file-event-store.js';
import type { Logger } from './logging.js';
import type { PubSub } from './pubsub/pubsub.js';
import { MemoryPubSub } from './pubsub/memory-pubsub.js';

/** The adapters behind every port, picked from configuration (unset = embedded). */
export interface Infrastructure {
  events: EventStore;
  documents: DocumentStore;
  cache: Cache;
  pubsub: PubSub;
  bus: Bus;
  /** Which adapter each port uses, for the start-up banner. */
  describe: Record<string, string>;
  close(): Promise<void>;
}

export async function openInfrastructure(config: Config, logger: Logger): Promise<Infrastructure> {
  const configured = Object.entries(config.servers).filter(([, url]) => url !== undefined);
  if (configured.length > 0) {
    // The real adapters arrive with the infrastructure issue; refuse rather than silently embed.
    throw new ConfigError(`${configured.map(([name]) => name).join(', ')} configured, but this build has only the embedded adapters; unset ${configured.map(([name]) => envName(name)).join(', ')}`);
  }
  const events = await FileEventStore.open(join(config.dataDir, 'events'), { fsync: config.eventStoreFsync });
  const documents = new MemoryDocumentStore();
  const cache = new MemoryCache({ maxEntries: 50_000 });
  const pubsub = new MemoryPubSub();
  const bus = new MemoryBus();
  logger.debug({ dataDir: config.dataDir }, 'embedded infrastructure open');
  return {
    events,
    documents,
    cache,
    pubsub,
    bus,
    describe: {
      'event store': `embedded file log in ${join(config.dataDir, 'events')}`,
      documents: 'embedded in-memory (rebuilt from events at start)',
      cache: 'embedded LRU',
      'pub/sub': 'embedded in-process',
      bus: 'embedded in-process',
    },
    close: async () => {
      await bus.close();
      await pubsub.close();
      await cache.close();
      await documents.close();
      await events.close();
    },
  };
}

function envName(server: string): string {
  return { eventStore: 'EVENTSTORE_URL', mongodb: 'MONGODB_URL', redis: 'REDIS_URL', kafka: 'KAFKA_BROKERS' }[server] ?? server;
}
