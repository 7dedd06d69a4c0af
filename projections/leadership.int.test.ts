import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cache } from '../platform/cache/cache.js';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { Collection, Doc, DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { InfrastructureError } from '../platform/errors.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry, type Metrics } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { eventually } from '../platform/testing/eventually.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { checkpointPosition } from './lag.js';
import { ProjectorLeadership } from './leadership.js';
import { LEASES, ProjectionLease, type LeaseOptions } from './lease.js';
import type { Projection } from './projection.js';
import { collectionTag, Projector } from './projector.js';

const COUNTS = 'test_lease_counts';
/** Short, so that the test sees a lease run out; the same rules as the defaults. */
const LEASE: LeaseOptions = { ttlMs: 900, renewMs: 150 };
const logger = createLogger('test', 'silent');

interface CountDoc extends Doc {
  count: number;
}

/** Counts `Counted` events per stream; each write guarded by its position (a replay changes nothing). */
const counter: Projection = {
  name: 'lease-counter',
  collections: [COUNTS],
  handles: (event) => event.type === 'Counted',
  apply: async (event, target) => {
    const counts = target.collection<CountDoc>(COUNTS);
    const current = (await counts.get(event.streamName)) ?? { _id: event.streamName, count: 0 };
    return { changed: await counts.upsertIfNewer({ ...current, count: current.count + 1 }, event.position) };
  },
};

/**
 * One process's view of the shared document store: its lease operations fail while `cut` (a
 * partition between this process and the lease, as a process frozen in a GC pause or cut off
 * would see), and it counts the read-model writes it sends while its lease does not hold.
 */
function processView(documents: DocumentStore) {
  const view = { cut: false, lease: undefined as ProjectionLease | undefined, writesWithoutLease: 0 };
  const failing = new Proxy({} as Collection<Doc>, { get: () => () => Promise.reject(new InfrastructureError('mongodb', 'test://', 'partitioned')) });
  const store: DocumentStore = {
    collection: <T extends Doc>(name: string): Collection<T> => {
      if (name === LEASES && view.cut) return failing as unknown as Collection<T>;
      const real = documents.collection<T>(name);
      if (name !== COUNTS) return real;
      return {
        ...real,
        writeManyIfNewer: (writes) => {
          if (!view.lease?.holds) view.writesWithoutLease++;
          return real.writeManyIfNewer(writes);
        },
      };
    },
    ensureIndexes: (name, indexes) => documents.ensureIndexes(name, indexes),
    createVersion: (name) => documents.createVersion(name),
    activateTogether: (versions) => documents.activateTogether(versions),
    physicalName: (name) => documents.physicalName(name),
    close: () => Promise.resolve(),
  };
  return { view, store };
}

leadershipSuite('embedded documents', () => Promise.resolve(new MemoryDocumentStore()));
withServer('MONGODB_URL', 'projector leadership on MongoDB', (url) => leadershipSuite('MongoDB', () => MongoDocumentStore.connect(freshMongoUrl(url).url, logger)));

function leadershipSuite(name: string, openDocuments: () => Promise<DocumentStore>) {
  describe(`projector leadership (${name})`, () => {
    let dir: string;
    let events: EventStore;
    let documents: DocumentStore;
    const running: ProjectorLeadership[] = [];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'projector-lease-'));
      events = await FileEventStore.open(dir, { fsync: false });
      documents = await openDocuments();
    });
    afterEach(async () => {
      for (const l of running.splice(0)) await l.stop();
      await events.close();
      await documents.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A projector "process": its own owner id, metrics and view of the store. */
    const startProcess = async (owner: string, cache: Cache = new MemoryCache()) => {
      const { view, store } = processView(documents);
      const metrics: Metrics = createMetrics(serviceRegistry('test', { processMetrics: false }));
      const deps = { events, documents: store, cache, pubsub: new MemoryPubSub(), metrics, logger };
      const lease = new ProjectionLease(store, counter.name, owner, LEASE);
      view.lease = lease;
      const leadership = new ProjectorLeadership(new Projector(counter, deps, { fence: lease, checkpointEveryMs: 10 }), lease, deps, LEASE);
      running.push(leadership);
      await leadership.start();
      const metric = async (metricName: string) => (await metrics.registry.getSingleMetric(metricName)?.get())?.values.find((v) => v.labels.projection === counter.name)?.value ?? 0;
      return { view, lease, projector: leadership.projector, leadership, metric };
    };
    const append = async (stream: string, n: number) => {
      const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 };
      return (await events.appendToStream(stream, Array.from({ length: n }, () => ({ id: randomUUID(), type: 'Counted', data: {}, metadata })), { expectedRevision: 'any' })).position;
    };
    const count = async (stream: string) => (await documents.collection<CountDoc>(COUNTS).get(stream))?.count ?? 0;

    it('one process writes, the other stands by (healthy); when the writer loses its lease it writes nothing more, the standby takes over and every event counts once', async () => {
      const a = await startProcess('process-a');
      const b = await startProcess('process-b');
      expect(a.projector.role).toBe('active');
      expect(b.projector.role).toBe('standby');
      expect(b.projector.health).toMatchObject({ ok: true, reason: expect.stringMatching(/standby/) as string });
      expect(await a.metric('storefront_projection_lease_held')).toBe(1);
      expect(await b.metric('storefront_projection_lease_held')).toBe(0);

      await append('s-1', 5);
      await eventually(async () => expect(await count('s-1')).toBe(5));

      // a is cut off from its lease: it lapses, a stops, b takes over.
      a.view.cut = true;
      await eventually(() => expect(a.lease.holds).toBe(false), 5000);
      const last = await append('s-1', 7);
      await eventually(() => expect(b.projector.role).toBe('active'), 10_000);
      await eventually(async () => expect(await count('s-1')).toBe(12), 10_000);
      await eventually(async () => expect(await checkpointPosition(documents, counter)).toBe(last));
      expect(a.view.writesWithoutLease).toBe(0);
      expect(a.projector.running).toBe(false);
      expect(a.projector.role).toBe('standby');
      expect(await b.metric('storefront_projection_lease_takeovers_total')).toBe(1);
      expect(await b.metric('storefront_projection_lease_held')).toBe(1);
      expect(await a.metric('storefront_projection_lease_held')).toBe(0);

      // a reconnects: it stays a standby (b holds a newer epoch), and b's checkpoint is b's.
      a.view.cut = false;
      await append('s-1', 3);
      await eventually(async () => expect(await count('s-1')).toBe(15), 10_000);
      expect(a.projector.role).toBe('standby');
      expect(a.view.writesWithoutLease).toBe(0);
    });

    it('the process that takes over makes the cache entries read from the read model stale (the old holder may have died between a flush and its invalidations)', async () => {
      const cache = new MemoryCache(); // the processes share it, as they share Redis
      const a = await startProcess('process-a', cache);
      const b = await startProcess('process-b', cache);
      await append('s-3', 2);
      await eventually(async () => expect(await count('s-3')).toBe(2));
      // A query service caches what it read, under the read model's collection tag.
      const tags = [collectionTag(COUNTS)];
      await cache.setTagged('count:s-3', '2', (await cache.getTagged('count:s-3', tags)).stamp, 3600);
      expect((await cache.getTagged('count:s-3', tags)).value).toBe('2');

      a.view.cut = true;
      await eventually(() => expect(b.projector.role).toBe('active'), 10_000);
      await eventually(async () => expect((await cache.getTagged('count:s-3', tags)).value).toBeUndefined(), 5000);
    });

    it('a clean shutdown releases the lease: the standby takes over without waiting for it to expire', async () => {
      const a = await startProcess('process-a');
      const b = await startProcess('process-b');
      await append('s-2', 3);
      await eventually(async () => expect(await count('s-2')).toBe(3));
      await a.leadership.stop();
      const stoppedAt = Date.now();
      await append('s-2', 2);
      await eventually(async () => expect(await count('s-2')).toBe(5), 10_000);
      expect(b.projector.role).toBe('active');
      // Released, not expired: a's epoch says so, and b took the next one.
      expect(await documents.collection<Doc & { released: boolean; owner: string }>(LEASES).get(`${counter.name}#1`)).toMatchObject({ owner: 'process-a', released: true });
      expect(b.lease.epoch).toBe(2);
      console.log(`released lease taken over ${Date.now() - stoppedAt} ms after the holder stopped (TTL ${LEASE.ttlMs} ms)`);
    });
  });
}
