import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { InfrastructureError } from '../platform/errors.js';
import type { AllSubscription, EventStore, RecordedEvent } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry, type Metrics } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { eventually } from '../platform/testing/eventually.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { readModelPositions, readModelReadiness } from './lag.js';
import type { Projection } from './projection.js';
import { Projector } from './projector.js';

const COUNTS = 'test_counts';

interface CountDoc {
  _id: string;
  count: number;
  seen: string[];
}

/**
 * A read model of counters: `Counted` adds one to its stream's counter. `Poison` events fail
 * while `poisoned` says so (a handler bug), `Flaky` ones fail with a server outage for a while,
 * and every event waits for `gate` (to hold the projection back).
 */
function counter(policy: 'stop' | 'park') {
  const state = { poisoned: true, outages: 0, gate: Promise.resolve() };
  const projection: Projection = {
    name: `counter-${policy}`,
    collections: [COUNTS],
    onPoison: policy,
    handles: (event) => ['Counted', 'Poison', 'Flaky'].includes(event.type),
    apply: async (event, target) => {
      await state.gate;
      if (event.type === 'Poison' && state.poisoned) throw new Error('cannot handle this event');
      if (event.type === 'Flaky' && state.outages-- > 0) throw new InfrastructureError('documents', 'test://', 'not reachable');
      const counts = target.collection<CountDoc>(COUNTS);
      const current = (await counts.get(event.streamName)) ?? { _id: event.streamName, count: 0, seen: [] };
      const changed = await counts.upsertIfNewer({ ...current, count: current.count + 1, seen: [...current.seen, event.type] }, event.position);
      return { changed };
    },
  };
  return { projection, state };
}

const logger = createLogger('test', 'silent');

projectorHealthSuite('embedded documents', () => Promise.resolve(new MemoryDocumentStore()));
withServer('MONGODB_URL', 'projector health and error policy on MongoDB', (url) => projectorHealthSuite('MongoDB', () => MongoDocumentStore.connect(freshMongoUrl(url).url, logger)));

function projectorHealthSuite(store: string, openDocuments: () => Promise<DocumentStore>) {
  describe(`projector health and error policy (${store})`, () => {
    let dir: string;
    let events: EventStore;
    let documents: DocumentStore;
    let metrics: Metrics;
    const projectors: Projector[] = [];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'projector-health-'));
      events = await FileEventStore.open(dir, { fsync: false });
      documents = await openDocuments();
      metrics = createMetrics(serviceRegistry('test', { processMetrics: false }));
    });
    afterEach(async () => {
      for (const p of projectors.splice(0)) await p.stop();
      await events.close();
      await documents.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const start = async (projection: Projection, options: ConstructorParameters<typeof Projector>[2] = {}, store: EventStore = events) => {
      const projector = new Projector(projection, { events: store, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics, logger }, { lagIntervalMs: 50, maxAttempts: 2, ...options });
      projectors.push(projector);
      await projector.start();
      return projector;
    };
    const append = async (stream: string, ...types: string[]) => {
      const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 };
      const result = await events.appendToStream(stream, types.map((type) => ({ id: randomUUID(), type, data: {}, metadata })), { expectedRevision: 'any' });
      return result.position;
    };
    const count = async (stream: string) => (await documents.collection<CountDoc>(COUNTS).get(stream))?.count ?? 0;
    const gauge = async (name: string, projection: string) => (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.projection === projection)?.value ?? 0;

    it('a batch that failed and was applied one event at a time leaves what the projector remembers of its documents true: the next batch counts on from what was stored', async () => {
      const { projection, state } = counter('stop');
      const stream = `s-${randomUUID().slice(0, 8)}`;
      await start(projection, { maxBatch: 2 });
      await events.appendToStream(stream, [0, 1].map(() => ({ id: randomUUID(), type: 'Counted', data: {}, metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 } })), { expectedRevision: 'any' });
      await eventually(async () => expect(await count(stream)).toBe(2)); // remembered as 2 by the projector
      // One append, so that the batches are [Counted, Flaky] (fails once: applied one by one) and [Counted, Counted].
      state.outages = 1;
      await events.appendToStream(stream, ['Counted', 'Flaky', 'Counted', 'Counted'].map((type) => ({ id: randomUUID(), type, data: {}, metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 } })), { expectedRevision: 'any' });
      await eventually(async () => expect((await documents.collection<CountDoc>(COUNTS).get(stream))?.seen).toHaveLength(6), 10_000);
      expect(await count(stream)).toBe(6);
    });

    it('given a handler that keeps failing, when the policy is stop: the event is parked, the projection stands at it and says so, and resumes once it is retried', async () => {
      const { projection, state } = counter('stop');
      const projector = await start(projection);
      const before = await append('s-1', 'Counted');
      const poison = await append('s-1', 'Poison');
      await append('s-1', 'Counted', 'Counted');

      await eventually(() => expect(projector.health.ok).toBe(false));
      expect(projector.health.reason).toMatch(/stopped at event .* \(position \d+\), parked after 2 failed attempts: cannot handle this event/);
      expect(projector.currentPosition).toBe(before);
      expect(await count('s-1')).toBe(1); // nothing after the poison event is applied
      const [parked] = await projector.parkedEvents();
      expect(parked).toMatchObject({ projection: 'counter-stop', position: poison, type: 'Poison', streamName: 's-1', error: 'cannot handle this event', attempts: 2 });
      expect(await gauge('storefront_projection_parked_events', 'counter-stop')).toBe(1);
      expect(await gauge('storefront_projection_halted', 'counter-stop')).toBe(1);

      state.poisoned = false; // the handler is fixed
      expect(await projector.retryParked()).toEqual({ retried: 1, parked: 0 });
      await eventually(async () => expect(await count('s-1')).toBe(4));
      expect(projector.health).toEqual({ ok: true });
      expect(await projector.parkedEvents()).toEqual([]);
      expect(await gauge('storefront_projection_halted', 'counter-stop')).toBe(0);
    });

    it('given a handler that keeps failing, when the policy is park: the event is parked and the projection moves on; a retry applies it later', async () => {
      const { projection, state } = counter('park');
      const projector = await start(projection);
      await append('s-1', 'Counted');
      const poison = await append('s-2', 'Poison');
      const last = await append('s-1', 'Counted');

      await eventually(() => expect(projector.currentPosition).toBe(last));
      expect(await count('s-1')).toBe(2);
      expect(await count('s-2')).toBe(0);
      expect(projector.health).toEqual({ ok: true });
      expect((await projector.parkedEvents()).map((p) => p.position)).toEqual([poison]);

      state.poisoned = false;
      expect(await projector.retryParked()).toEqual({ retried: 1, parked: 0 });
      expect(await count('s-2')).toBe(1);
      expect(await projector.parkedEvents()).toEqual([]);
    });

    it('never parks an event for a server outage, however long: it retries until the server is back', async () => {
      const { projection, state } = counter('stop');
      state.outages = 6; // three times maxAttempts
      const projector = await start(projection);
      const last = await append('s-1', 'Flaky', 'Counted');
      await eventually(() => expect(projector.currentPosition).toBe(last), 15_000);
      expect(await count('s-1')).toBe(2);
      expect(await projector.parkedEvents()).toEqual([]);
      expect(await metrics.registry.getSingleMetric('storefront_projection_errors_total')?.get()).toMatchObject({ values: [{ value: 6 }] });
    });

    it('is unready, naming its lag, while its oldest unapplied event is older than the limit, and ready once caught up; services reading the model see the same', async () => {
      const { projection, state } = counter('stop');
      let open = () => undefined as void;
      state.gate = new Promise<void>((resolve) => (open = resolve));
      const projector = await start(projection, { maxLagSeconds: 0.3 });
      const last = await append('s-1', 'Counted', 'Counted');
      const serviceCheck = readModelReadiness(documents, events, projection, 0.3);

      await eventually(() => expect(projector.health.reason).toMatch(/^\d+\.\d s \(2 events\) behind the event store; the limit is 0.3 s$/));
      await expect(serviceCheck()).rejects.toThrow(/behind the event store; the limit is 0.3 s/);
      open();
      await eventually(() => expect(projector.currentPosition).toBe(last));
      await eventually(() => expect(projector.health).toEqual({ ok: true }));
      await eventually(() => expect(serviceCheck()).resolves.toBeUndefined());
      await eventually(async () => expect(await readModelPositions(documents, [projection], { ttlMs: 0, waitMs: 5000 })()).toEqual({ 'counter-stop': last }));
    });

    it('restarts a subscription that stops delivering while events wait, and counts the restart', async () => {
      const { projection } = counter('stop');
      // The first subscription goes silent (as a dropped server subscription can); later ones work.
      let subscriptions = 0;
      const silentOnce: EventStore = Object.assign(Object.create(events) as EventStore, {
        subscribeToAll: (options: Parameters<EventStore['subscribeToAll']>[0]): AllSubscription => {
          if (subscriptions++ > 0) return events.subscribeToAll(options);
          let release = () => undefined as void;
          const closed = new Promise<void>((resolve) => (release = resolve));
          return {
            close: () => Promise.resolve(release()),
            [Symbol.asyncIterator]: () => ({ next: () => closed.then((): IteratorResult<RecordedEvent> => ({ done: true, value: undefined })) }),
          };
        },
      });
      const projector = await start(projection, { stallSeconds: 1 }, silentOnce);
      const last = await append('s-1', 'Counted');
      await eventually(() => expect(projector.currentPosition).toBe(last), 10_000);
      expect(await metrics.registry.getSingleMetric('storefront_projection_restarts_total')?.get()).toMatchObject({ values: [{ value: 1, labels: { projection: 'counter-stop', reason: 'stalled' } }] });
    });
  });
}
