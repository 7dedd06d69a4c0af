import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry, type Metrics } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { eventually } from '../platform/testing/eventually.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { checkpointId } from './lag.js';
import type { Projection } from './projection.js';
import { Projector, type ProjectorOptions } from './projector.js';
import { startProjectorHttp } from './server.js';
import { liveVersion, PROJECTION_VERSIONS, RebuildLock } from './versions.js';

const COUNTS = 'test_versioned_counts';
const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs the replay CLI (`npm run replay -- <args>`) and collects what it says and how it exits. */
function replay(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const { ADMIN_TOKEN: _token, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'projections/replay.ts', ...args], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

interface CountDoc {
  _id: string;
  count: number;
  shape: 'v1' | 'v2';
  /** Only version 2 writes it. */
  label?: string;
}

/**
 * A read model of counters, one document per stream. Version 2 builds observably different
 * documents (shape 'v2' and a label). Every event waits for `gate` (to hold a rebuild back).
 */
function counter(version: 1 | 2, gate: Promise<void> = Promise.resolve()): Projection {
  return {
    name: 'versioned-counter',
    version,
    collections: [COUNTS],
    handles: (event) => event.type === 'Counted',
    apply: async (event, target) => {
      await gate;
      const counts = target.collection<CountDoc>(COUNTS);
      const count = ((await counts.get(event.streamName))?.count ?? 0) + 1;
      const doc: CountDoc = version === 1 ? { _id: event.streamName, count, shape: 'v1' } : { _id: event.streamName, count, shape: 'v2', label: `stream ${event.streamName}` };
      return { changed: await counts.upsertIfNewer(doc, event.position) };
    },
  };
}

/** A gate that holds a projection's events until opened. */
function closedGate(): { gate: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
}

const logger = createLogger('test', 'silent');

/**
 * `writer` is the projectors' document store; `reader` is what a query service (or a second
 * projector process) opens: on MongoDB a second connection, which resolves the live collection
 * through the versions pointer as another process does; embedded, the same store (one process).
 */
versionsSuite('embedded documents', () => {
  const store = new MemoryDocumentStore();
  return Promise.resolve({ writer: store, reader: store });
});
withServer('MONGODB_URL', 'versioned projections on MongoDB', (url) =>
  versionsSuite('MongoDB', async () => {
    const fresh = freshMongoUrl(url);
    const drop = async () => {
      const client = await MongoClient.connect(fresh.url);
      await client.db(fresh.database).dropDatabase();
      await client.close();
    };
    return { writer: await MongoDocumentStore.connect(fresh.url, logger), reader: await MongoDocumentStore.connect(fresh.url, logger), drop };
  }),
);

function versionsSuite(store: string, openDocuments: () => Promise<{ writer: DocumentStore; reader: DocumentStore; drop?: () => Promise<void> }>) {
  describe(`versioned projections (${store})`, () => {
    let dir: string;
    let events: EventStore;
    let documents: DocumentStore;
    let reader: DocumentStore;
    let drop: (() => Promise<void>) | undefined;
    let metrics: Metrics;
    const projectors: Projector[] = [];
    const closers: (() => Promise<void>)[] = [];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'projection-versions-'));
      events = await FileEventStore.open(dir, { fsync: false });
      ({ writer: documents, reader, drop } = await openDocuments());
      metrics = createMetrics(serviceRegistry('test', { processMetrics: false }));
    });
    afterEach(async () => {
      for (const close of closers.splice(0)) await close();
      for (const p of projectors.splice(0)) await p.stop();
      await events.close();
      await documents.close();
      if (reader !== documents) await reader.close();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    const projector = (projection: Projection, options: ProjectorOptions = {}, on: DocumentStore = documents) => {
      const p = new Projector(projection, { events, documents: on, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics, logger }, { lagIntervalMs: 50, versionRetryMs: 50, ...options });
      projectors.push(p);
      return p;
    };
    const append = async (stream: string, n = 1) => {
      const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 };
      const result = await events.appendToStream(stream, Array.from({ length: n }, () => ({ id: randomUUID(), type: 'Counted', data: {}, metadata })), { expectedRevision: 'any' });
      return result.position;
    };
    /** Builds the read model with `projection` up to the head, then stops its projector. */
    const build = async (projection: Projection, streams: number) => {
      let head = 0;
      for (let i = 0; i < streams; i++) head = await append(`s-${i}`, 2);
      const p = projector(projection);
      await p.start();
      await eventually(() => expect(p.currentPosition).toBe(head));
      await p.stop();
      return head;
    };
    const gauge = async (name: string) => (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.projection === 'versioned-counter')?.value ?? 0;

    it('given a read model built by version 1, when a projector of version 2 starts: it rebuilds aside while queries run (no error, every answer wholly v1 or wholly v2), then switches by itself', async () => {
      const streams = 12;
      await build(counter(1), streams);
      // A read model built before versions were recorded has no record: it counts as version 1.
      await documents.collection(PROJECTION_VERSIONS).deleteIfNewer(await checkpointId(documents, counter(1)), Number.MAX_SAFE_INTEGER);
      expect(await liveVersion(documents, counter(1))).toBe(1);

      // Queries in a loop, as the service reading the model runs them, until told to stop.
      const answers: { shapes: Set<string>; size: number; counts: Record<string, number>; labelled: number }[] = [];
      const errors: unknown[] = [];
      let querying = true;
      const queries = (async () => {
        while (querying) {
          try {
            const page = await reader.collection<CountDoc>(COUNTS).find({ first: 100 });
            answers.push({ shapes: new Set(page.items.map((d) => d.shape)), size: page.items.length, counts: Object.fromEntries(page.items.map((d) => [d._id, d.count])), labelled: page.items.filter((d) => d.label !== undefined).length });
          } catch (error) {
            errors.push(error);
          }
          await sleep(1); // yield to the projector
        }
      })();

      const { gate, open } = closedGate();
      const v2 = projector(counter(2, gate));
      await v2.start();
      await eventually(() => expect(v2.health.reason).toMatch(/^rebuilding the read model aside for version 2 \(position \d+ of \d+\); the version 1 read model serves meanwhile/));
      expect(v2.health.ok).toBe(true);
      expect(await gauge('storefront_projection_version_rebuild')).toBe(1);
      // An event appended during the rebuild is in the rebuilt model when it switches.
      const last = await append('s-0');
      const during = answers.length;
      await eventually(() => expect(answers.length).toBeGreaterThan(during + 10)); // the old model keeps answering while the rebuild is held
      expect(answers.every((a) => a.shapes.size === 1 && a.shapes.has('v1'))).toBe(true);

      open();
      await eventually(() => expect(v2.running).toBe(true));
      expect(v2.currentPosition).toBeGreaterThanOrEqual(last);
      await eventually(() => expect(answers[answers.length - 1]?.shapes.has('v2')).toBe(true));
      const switched = answers.length;
      await eventually(() => expect(answers.length).toBeGreaterThan(switched + 10));
      querying = false;
      await queries;

      expect(errors).toEqual([]);
      for (const answer of answers) {
        expect(answer.size).toBe(streams); // never empty, never partial
        expect(answer.shapes.size).toBe(1); // never a mix of versions
        expect(answer.labelled).toBe(answer.shapes.has('v2') ? streams : 0);
      }
      const firstV2 = answers.findIndex((a) => a.shapes.has('v2'));
      expect(firstV2).toBeGreaterThan(0);
      expect(answers.slice(0, firstV2).every((a) => a.shapes.has('v1'))).toBe(true);
      expect(answers.slice(firstV2).every((a) => a.shapes.has('v2') && a.counts['s-0'] === 3)).toBe(true); // all v2 after the switch, the last event in
      expect(await liveVersion(documents, counter(2))).toBe(2);
      expect(v2.health).toEqual({ ok: true });
      await eventually(async () => expect(await gauge('storefront_projection_version_rebuild')).toBe(0));
      expect(v2.rebuildProgress).toMatchObject({ state: 'done', reason: 'version', version: 2 });

      // And the new version projects live.
      const next = await append('s-1');
      await eventually(async () => expect(await reader.collection<CountDoc>(COUNTS).get('s-1')).toMatchObject({ count: 3, shape: 'v2', _position: next }));
    });

    it('refuses a second rebuild of a projection while one runs: in the same process, from a second projector on the same document store, over HTTP and from the replay CLI, with REBUILD_IN_PROGRESS', async () => {
      await build(counter(1), 3);
      const { gate, open } = closedGate();
      const held = { gate: Promise.resolve() };
      // The first projector's events wait for `held.gate` once the rebuild is under way.
      const first = projector({ ...counter(1), apply: async (event, target) => (await held.gate, counter(1).apply(event, target)) });
      await first.start();
      held.gate = gate;
      const running = await first.beginRebuild();

      await expect(first.beginRebuild()).rejects.toMatchObject({ code: 'REBUILD_IN_PROGRESS', message: 'a rebuild of versioned-counter is already running in this process' });
      const second = projector(counter(1), {}, reader); // another process: another connection to the same store
      await second.start();
      const refused = await second.rebuild().then(() => undefined, (error: unknown) => error);
      expect(refused).toMatchObject({ code: 'REBUILD_IN_PROGRESS' });
      expect((refused as Error).message).toMatch(/^a rebuild of versioned-counter is already running \(held by .+ until .+\)$/);
      const http = await startProjectorHttp({ projectors: [second], metrics, logger, production: false }, { port: 0, host: '127.0.0.1' });
      closers.push(() => http.close());
      const response = await fetch(`http://127.0.0.1:${http.port}/projections/rebuild?name=versioned-counter`, { method: 'POST' });
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'REBUILD_IN_PROGRESS' } }] });
      const cli = await replay(['versioned-counter'], { PROJECTOR_PORT: String(http.port) });
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/^replay: REBUILD_IN_PROGRESS: a rebuild of versioned-counter is already running \(held by .+\)\n$/);

      open();
      expect(await running.done).toMatchObject({ state: 'done' });
      // Once it is done, another one may run (the lock was given back).
      expect(await second.rebuild()).toMatchObject({ state: 'done' });
    });

    it("takes over a rebuild lock whose holder stopped renewing it (a crash) once it expired, and the old holder finds out before it would switch", async () => {
      let now = 1_000_000;
      const clock = () => now;
      const crashed = await RebuildLock.acquire(documents, 'p', 'crashed-holder', { ttlMs: 30_000, now: clock });
      await expect(RebuildLock.acquire(reader, 'p', 'other', { ttlMs: 30_000, now: clock })).rejects.toMatchObject({ code: 'REBUILD_IN_PROGRESS' });
      now += 30_001;
      const taker = await RebuildLock.acquire(reader, 'p', 'other', { ttlMs: 30_000, now: clock });
      await expect(crashed.confirm()).rejects.toMatchObject({ code: 'REBUILD_IN_PROGRESS', message: 'the rebuild lock of p was taken over by another process (it expired)' });
      await crashed.release(); // gives back nothing: the lock is not its any more
      await expect(RebuildLock.acquire(documents, 'p', 'third', { ttlMs: 30_000, now: clock })).rejects.toMatchObject({ code: 'REBUILD_IN_PROGRESS' });
      await taker.confirm();
      await taker.release();
      await (await RebuildLock.acquire(documents, 'p', 'third', { ttlMs: 30_000, now: clock })).release();
    });

    it('stops an older projector still running once a newer version has rebuilt and switched its read model', async () => {
      await build(counter(1), 3);
      const old = projector(counter(1));
      await old.start();
      const newer = projector(counter(2), {}, reader); // another process
      await newer.start();
      await eventually(() => expect(newer.running).toBe(true)); // rebuilt and switched
      await eventually(() => expect(old.running).toBe(false));
      expect(old.health.ok).toBe(false);
      expect(old.health.reason).toMatch(/^the read model was switched to one built by version 2 of versioned-counter; this projector runs version 1 and stopped writing it$/);
      const last = await append('s-0');
      await newer.waitFor(last);
      expect(await reader.collection<CountDoc>(COUNTS).get('s-0')).toMatchObject({ count: 3, shape: 'v2' });
    });

    it('never lets an older version write a read model built by a newer one: it refuses, says so and is not ready', async () => {
      await build(counter(2), 3);
      expect(await liveVersion(documents, counter(2))).toBe(2);

      const old = projector(counter(1));
      await old.start();
      expect(old.running).toBe(false);
      expect(old.health.ok).toBe(false);
      expect(old.health.reason).toMatch(/^the live read model was built by version 2 of versioned-counter; this projector runs version 1 and never downgrades it/);
      await expect(old.rebuild()).rejects.toMatchObject({ code: 'READ_MODEL_NEWER' });
      const http = await startProjectorHttp({ projectors: [old], metrics, logger, production: false }, { port: 0, host: '127.0.0.1' });
      closers.push(() => http.close());
      expect((await fetch(`http://127.0.0.1:${http.port}/health/ready`)).status).toBe(503);
      const response = await fetch(`http://127.0.0.1:${http.port}/projections/rebuild?name=versioned-counter`, { method: 'POST' });
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'READ_MODEL_NEWER' } }] });

      expect(await liveVersion(documents, counter(2))).toBe(2);
      // The newer release, started again, finds its read model intact and goes on.
      const last = await append('s-0');
      const current = projector(counter(2));
      await current.start();
      await eventually(() => expect(current.currentPosition).toBe(last));
      expect(await reader.collection<CountDoc>(COUNTS).get('s-0')).toMatchObject({ count: 3, shape: 'v2' });
    });
  });
}
