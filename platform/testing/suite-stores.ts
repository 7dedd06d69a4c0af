import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { Bus, BusObserver } from '../bus/bus.js';
import { KafkaBus } from '../bus/kafka-bus.js';
import { MemoryBus } from '../bus/memory-bus.js';
import type { DocumentStore } from '../documents/document-store.js';
import { MemoryDocumentStore } from '../documents/memory-document-store.js';
import { MongoDocumentStore } from '../documents/mongo-document-store.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { FileEventStore } from '../event-store/file-event-store.js';
import { createLogger } from '../logging.js';
import { freshMongoUrl, withServer } from './servers.js';

/** A suite's document store, and how to get rid of it afterwards. */
export interface SuiteDocuments {
  documents: DocumentStore;
  drop: () => Promise<void>;
}

export type OpenBus = (observer: BusObserver) => Promise<Bus>;
export type OpenDocuments = () => Promise<SuiteDocuments>;

/** The embedded document store (nothing to drop). */
export const memoryDocuments: OpenDocuments = () => Promise.resolve({ documents: new MemoryDocumentStore(), drop: () => Promise.resolve() });

/** A fresh database on the MongoDB server `mongo` names (FerretDB in CI), dropped by `drop`. */
export async function freshMongoDocuments(mongo: string): Promise<SuiteDocuments> {
  const { url } = freshMongoUrl(mongo);
  const documents = await MongoDocumentStore.connect(url, createLogger('test', 'silent'));
  return {
    documents,
    drop: async () => {
      await documents.close();
      const client = await MongoClient.connect(url);
      try {
        await client.db().dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

/**
 * Registers `suite` on the embedded bus and document store, and — when KAFKA_BROKERS and
 * MONGODB_URL are set — on Kafka (a namespace of its own per bus) and a fresh FerretDB database;
 * otherwise a plainly named skipped test says which server is missing.
 */
export function onEmbeddedAndRealServers(subject: string, clientId: string, suite: (name: string, openBus: OpenBus, openDocuments: OpenDocuments) => void): void {
  suite('embedded bus, embedded documents', (observer) => Promise.resolve(new MemoryBus({ observer })), memoryDocuments);
  withServer('KAFKA_BROKERS', `${subject} over Kafka`, (brokers) => {
    const kafka: OpenBus = (observer) => KafkaBus.connect(brokers, { clientId, logger: createLogger('test', 'silent'), observer, namespace: `${clientId}-${randomUUID().slice(0, 8)}` });
    withServer('MONGODB_URL', `${subject} on FerretDB`, (mongo) => suite('Kafka, FerretDB', kafka, () => freshMongoDocuments(mongo)));
  });
}

/** Every event in the store up to its head when called, in log order. */
export async function readAllEvents(events: EventStore): Promise<RecordedEvent[]> {
  const head = await events.headPosition();
  const all: RecordedEvent[] = [];
  if (head === 0) return all;
  const subscription = events.subscribeToAll({ from: 'start' });
  try {
    for await (const e of subscription) {
      all.push(e);
      if (e.position >= head) break;
    }
  } finally {
    await subscription.close();
  }
  return all;
}

/**
 * The events of a system's file log (`<dataDir>/events`) after `position`, as
 * "<position> <type> <stream> by <actor>": what appended them, should the log have grown.
 */
export async function eventsAfter(dataDir: string, position: number): Promise<string[]> {
  const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
  const found: string[] = [];
  const head = await events.headPosition();
  if (head <= position) {
    await events.close();
    return found;
  }
  const subscription = events.subscribeToAll({ from: { after: position } });
  try {
    for await (const event of subscription) {
      found.push(`${event.position} ${event.type} ${event.streamName} by ${event.metadata.actor}`);
      if (event.position >= head) break;
    }
    return found;
  } finally {
    await subscription.close();
    await events.close();
  }
}
