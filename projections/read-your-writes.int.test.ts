import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphQLError } from 'graphql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import type { PubSub } from '../platform/pubsub/pubsub.js';
import { RedisPubSub } from '../platform/pubsub/redis-pubsub.js';
import { connectRedis, createRedis } from '../platform/redis/connection.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import type { Projection } from './projection.js';
import { Projector } from './projector.js';
import { readAfterPositions, ReadModelWatermarks } from './read-your-writes.js';

const NOTES = 'test_notes';
const logger = createLogger('test', 'silent');

/** A read model of one document per stream; `gate` holds the projection back. */
function notes() {
  const state = { gate: Promise.resolve() };
  const projection: Projection = {
    name: 'notes',
    collections: [NOTES],
    handles: (event) => event.type === 'Noted',
    apply: async (event, target) => {
      await state.gate;
      return { changed: await target.collection<{ _id: string }>(NOTES).upsertIfNewer({ _id: event.streamName }, event.position) };
    },
  };
  return { projection, state };
}

readYourWritesSuite('embedded documents and pub/sub', () => Promise.resolve(new MemoryDocumentStore()), () => Promise.resolve(new MemoryPubSub()));
withServer('MONGODB_URL', 'read-your-writes watermarks on MongoDB', (url) =>
  readYourWritesSuite('MongoDB, embedded pub/sub', () => MongoDocumentStore.connect(freshMongoUrl(url).url, logger), () => Promise.resolve(new MemoryPubSub())),
);
withServer('REDIS_URL', 'read-your-writes watermarks over Redis pub/sub', (url) =>
  readYourWritesSuite('embedded documents, Redis pub/sub', () => Promise.resolve(new MemoryDocumentStore()), async () => {
    const [publisher, subscriber] = [createRedis(url, logger, 'publisher'), createRedis(url, logger, 'subscriber')];
    await connectRedis(publisher, url, 'redis');
    await connectRedis(subscriber, url, 'redis');
    return new RedisPubSub(publisher, subscriber, `t-${randomUUID().slice(0, 8)}`, logger, {
      onClose: () => {
        publisher.disconnect();
        subscriber.disconnect();
      },
    });
  }),
);

function readYourWritesSuite(mode: string, openDocuments: () => Promise<DocumentStore>, openPubSub: () => Promise<PubSub>) {
  describe(`read-your-writes watermarks (${mode})`, () => {
    let dir: string;
    let events: EventStore;
    let documents: DocumentStore;
    let pubsub: PubSub;
    const closers: (() => Promise<void>)[] = [];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ryw-'));
      events = await FileEventStore.open(dir, { fsync: false });
      documents = await openDocuments();
      pubsub = await openPubSub();
    });
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await pubsub.close();
      await events.close();
      await documents.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const startProjector = async (projection: Projection, feed: PubSub = pubsub) => {
      const projector = new Projector(projection, { events, documents, cache: new MemoryCache(), pubsub: feed, metrics: createMetrics(serviceRegistry('test', { processMetrics: false })), logger }, { checkpointEveryMs: 20 });
      closers.push(() => projector.stop());
      await projector.start();
      return projector;
    };
    const watermarks = (options: ConstructorParameters<typeof ReadModelWatermarks>[2] = {}) => {
      const w = new ReadModelWatermarks({ documents, pubsub, logger }, [notes().projection], options);
      w.start();
      closers.push(() => w.close());
      return w;
    };
    const append = async (stream: string) => {
      const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 };
      return (await events.appendToStream(stream, [{ id: randomUUID(), type: 'Noted', data: {}, metadata }], { expectedRevision: 'any' })).position;
    };

    it('a query waiting for a position is released when the projector announces it reached it, not before', async () => {
      const { projection, state } = notes();
      let open!: () => void;
      state.gate = new Promise<void>((resolve) => (open = resolve));
      await startProjector(projection);
      const w = watermarks({ slowPollMs: 60_000, pollMs: 60_000 }); // announcements only
      const position = await append('n-1');
      let released = false;
      const waiting = w.waitFor(position, 10_000).then((behind) => {
        released = true;
        return behind;
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(released).toBe(false);
      open();
      expect(await waiting).toEqual([]);
      expect(await documents.collection(NOTES).get('n-1')).toBeDefined(); // the read model holds it once released
      expect(w.positions().notes).toBeGreaterThanOrEqual(position);
    });

    it('with the projector on another feed (another process, another Redis), the checkpoints release it', async () => {
      const { projection } = notes();
      const elsewhere = new MemoryPubSub();
      await startProjector(projection, elsewhere);
      const w = watermarks({ pollMs: 20 });
      const position = await append('n-2');
      expect(await w.waitFor(position, 5000)).toEqual([]);
      await elsewhere.close();
    });

    it('times out naming the read model behind and where it is; READ_MODEL_BEHIND from readAfterPositions', async () => {
      const { projection, state } = notes();
      let open!: () => void;
      state.gate = new Promise<void>((resolve) => (open = resolve)); // applies nothing until the end
      const projector = await startProjector(projection);
      closers.push(() => Promise.resolve(open()));
      const position = await append('n-3');
      const w = watermarks({ pollMs: 20 });
      const started = Date.now();
      expect(await w.waitFor(position, 300)).toEqual([{ readModel: 'notes', position: projector.currentPosition }]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);

      const readAfter = readAfterPositions({ documents, pubsub, logger }, [projection], 200);
      closers.push(() => readAfter.close());
      const error = await readAfter.wait(position).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GraphQLError);
      expect((error as GraphQLError).extensions).toMatchObject({ code: 'READ_MODEL_BEHIND', requiredPosition: String(position), readModels: { notes: String(projector.currentPosition) } });
      expect((error as GraphQLError).message).toMatch(new RegExp(`did not reach position ${position} within \\d+ ms: notes is at position ${projector.currentPosition}, ${position - projector.currentPosition} behind`));
    });
  });
}
