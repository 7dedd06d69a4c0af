import { join } from 'node:path';
import type { Bus, BusObserver } from './bus/bus.js';
import { KafkaBus } from './bus/kafka-bus.js';
import { MemoryBus } from './bus/memory-bus.js';
import type { Cache } from './cache/cache.js';
import { MemoryCache } from './cache/memory-cache.js';
import { RedisCache } from './cache/redis-cache.js';
import type { Config } from './config.js';
import type { DocumentStore } from './documents/document-store.js';
import { MemoryDocumentStore } from './documents/memory-document-store.js';
import { MongoDocumentStore } from './documents/mongo-document-store.js';
import type { EventStore } from './event-store/event-store.js';
import { EventStoreDBEventStore } from './event-store/eventstoredb-event-store.js';
import { FileEventStore } from './event-store/file-event-store.js';
import { versionedEventStore, type EventSchemas } from './eventsourcing/upcasting.js';
import type { Logger } from './logging.js';
import type { Metrics } from './metrics/metrics.js';
import type { PubSub } from './pubsub/pubsub.js';
import { MemoryPubSub } from './pubsub/memory-pubsub.js';
import { RedisPubSub } from './pubsub/redis-pubsub.js';
import { FallbackRateLimiter, MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './ratelimit/rate-limiter.js';
import { redactUrl } from './redact.js';
import { connectRedis, createRedis } from './redis/connection.js';

/** The adapters behind every port, picked from configuration (unset = embedded). */
export interface Infrastructure {
  events: EventStore;
  documents: DocumentStore;
  cache: Cache;
  pubsub: PubSub;
  bus: Bus;
  /** Rate limits shared by every process (Redis) or per process (embedded). */
  limiter: RateLimiter;
  /** Which adapter each port uses, for the start-up banner. */
  describe: Record<string, string>;
  /** One check per real server, for /health/ready. */
  readiness: Record<string, () => Promise<void>>;
  close(): Promise<void>;
}

export function busObserver(metrics: Metrics): BusObserver {
  return {
    published: (topic, count) => metrics.busPublished.inc({ topic }, count),
    consumed: (topic, group, outcome) => metrics.busConsumed.inc({ topic, group, outcome }),
  };
}

/**
 * The event store the configuration picks, alone (for tools that only append, such as the
 * product import CLI): EventStoreDB at EVENTSTORE_URL, else the embedded file log in DATA_DIR;
 * read and written through the event schemas (events upcast to their current version on read).
 */
export async function openEventStore(config: Config, schemas: EventSchemas): Promise<{ events: EventStore; description: string; real: boolean }> {
  if (config.servers.eventStore) {
    return { events: versionedEventStore(await EventStoreDBEventStore.connect(config.servers.eventStore), schemas), description: `EventStoreDB at ${config.servers.eventStore}`, real: true };
  }
  const dir = join(config.dataDir, 'events');
  return { events: versionedEventStore(await FileEventStore.open(dir, { fsync: config.eventStoreFsync }), schemas), description: `embedded file log in ${dir}`, real: false };
}

/**
 * Opens every port on the adapter the configuration picks. A configured server that cannot be
 * reached fails start-up with an InfrastructureError naming it and its URL (one line); anything
 * opened before it is closed again.
 */
export async function openInfrastructure(config: Config, logger: Logger, options: { eventSchemas: EventSchemas; metrics?: Metrics; clientId?: string }): Promise<Infrastructure> {
  const closers: (() => Promise<void>)[] = [];
  const readiness: Record<string, () => Promise<void>> = {};
  const describe: Record<string, string> = {};
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((error: unknown) => logger.warn({ err: error }, 'error while closing infrastructure'));
    closers.length = 0;
  };
  const { servers } = config;
  const namespace = config.namespace;
  try {
    const eventStore = await openEventStore(config, options.eventSchemas);
    const events = eventStore.events;
    closers.push(() => events.close());
    if (eventStore.real) readiness.eventStore = async () => void (await events.headPosition());
    describe['event store'] = eventStore.description;

    let documents: DocumentStore;
    if (servers.mongodb) {
      const mongo = await MongoDocumentStore.connect(servers.mongodb, logger, { timeoutMs: config.documentsTimeoutMs });
      closers.push(() => mongo.close());
      readiness.mongodb = () => mongo.ping();
      describe.documents = `MongoDB at ${redactUrl(servers.mongodb)}`;
      documents = mongo;
    } else {
      documents = new MemoryDocumentStore();
      describe.documents = 'embedded in-memory (rebuilt from events at start)';
    }

    let cache: Cache;
    let pubsub: PubSub;
    let limiter: RateLimiter;
    if (servers.redis) {
      const url = servers.redis;
      const client = createRedis(url, logger, 'commands');
      const subscriber = createRedis(url, logger, 'subscriber');
      closers.push(() => {
        client.disconnect();
        subscriber.disconnect();
        return Promise.resolve();
      });
      await connectRedis(client, url, 'redis');
      await connectRedis(subscriber, url, 'redis');
      readiness.redis = async () => {
        if (client.status !== 'ready' || subscriber.status !== 'ready') throw new Error(`connection ${client.status}/${subscriber.status}`);
        await client.ping();
      };
      cache = new RedisCache(client, namespace);
      limiter = new FallbackRateLimiter(new RedisRateLimiter(client, namespace), new MemoryRateLimiter(), (error) => logger.warn({ err: error }, 'rate limiting falls back to in-process windows while Redis is unreachable'));
      pubsub = new RedisPubSub(client, subscriber, namespace, logger);
      describe.cache = `Redis at ${redactUrl(url)} (keys prefixed ${namespace}:)`;
      describe['pub/sub'] = `Redis at ${redactUrl(url)}`;
    } else {
      cache = new MemoryCache({ maxEntries: 50_000 });
      limiter = new MemoryRateLimiter();
      pubsub = new MemoryPubSub();
      describe.cache = 'embedded LRU';
      describe['pub/sub'] = 'embedded in-process';
    }

    let bus: Bus;
    const observer = options.metrics ? busObserver(options.metrics) : undefined;
    if (servers.kafka) {
      const kafka = await KafkaBus.connect(servers.kafka, { clientId: options.clientId ?? namespace, namespace, logger, membership: config.kafkaMembership, ...(observer && { observer }) });
      closers.push(() => kafka.close());
      readiness.kafka = () => kafka.ping();
      describe.bus = `Kafka at ${servers.kafka}`;
      bus = kafka;
    } else {
      const memory = new MemoryBus(observer ? { observer } : {});
      closers.push(() => memory.close());
      describe.bus = 'embedded in-process';
      bus = memory;
    }
    return { events, documents, cache, pubsub, bus, limiter, describe, readiness, close };
  } catch (error) {
    await close();
    throw error;
  }
}
