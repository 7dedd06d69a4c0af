import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { createLogger } from '../platform/logging.js';
import { digestDifference, readModelDigest, summarizeDigest, type ReadModelDigest } from '../platform/testing/read-model-hash.js';
import { writeSagaWorkload } from '../platform/testing/saga-workload.js';
import { freshMongoUrl, withAllServers } from '../platform/testing/servers.js';
import { hasExited, killChild, stopChild } from '../platform/testing/child-process.js';
import { freePort } from '../platform/testing/system-process.js';
import { CHECKPOINTS } from '../projections/lag.js';
import { DEFAULT_LEASE_OPTIONS, LEASES, takeoverBoundMs } from '../projections/lease.js';
import { READ_MODELS } from '../projections/registry.js';
import { eventsAfter } from '../platform/testing/suite-stores.js';

// Issue #15, "test that must exist": on the real servers, two projector processes share one
// event log (the embedded file event store, which several processes may now open) and one
// database; the active one is killed (SIGKILL) while it catches up under a live load (this test
// process appends through the real write paths meanwhile), the standby takes over within the
// stated bound, and every read model then equals one clean pass. It reports the takeover time:
// from the kill to the standby's first write (the lease taken, the checkpoint claimed under the
// new epoch, then the first checkpoint moved on).

const SEED = Number(process.env.TAKEOVER_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Orders the live load places (about 7 events each, plus the catalog's). */
const ORDERS = Number(process.env.TAKEOVER_ORDERS ?? 800);
/** The active projector is killed once its read models have got this far (mean position). */
const KILL_AT = Number(process.env.TAKEOVER_KILL_AT ?? 1200);

const quiet = createLogger('takeover-test', 'silent');

interface ProjectionStatus {
  name: string;
  role: 'active' | 'standby';
  position: number;
}

interface ProjectorProcess {
  url: string;
  child: ChildProcess;
  kill(): Promise<void>;
  stop(): Promise<void>;
  stderr(): string;
}

/** The projector process (`projections/index.ts`) on the shared log and database, listening on a free port. */
async function startProjector(env: Record<string, string>, dataDir: string): Promise<ProjectorProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'projections/index.ts'], {
    env: { ...process.env, EVENTSTORE_URL: '', PROJECTOR_PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-50_000)));
  const gone = () => hasExited(child);
  const url = `http://127.0.0.1:${port}`;
  const projector: ProjectorProcess = {
    url,
    child,
    stderr: () => stderr,
    kill: () => killChild(child),
    stop: async () => void (await stopChild(child)),
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone()) throw new Error(`the projector exited (${child.exitCode ?? child.signalCode}) during start-up:\n${stderr}`);
    if ((await fetch(`${url}/projections`).catch(() => undefined))?.ok) return projector;
    if (Date.now() > deadline) {
      await projector.kill();
      throw new Error(`the projector did not answer within 60 s:\n${stderr}`);
    }
    await sleep(50);
  }
}

async function statusOf(projector: ProjectorProcess): Promise<ProjectionStatus[]> {
  const response = await fetch(`${projector.url}/projections`, { signal: AbortSignal.timeout(5000) });
  return (await response.json()) as ProjectionStatus[];
}

const progressOf = (status: readonly ProjectionStatus[]) => READ_MODELS.reduce((sum, p) => sum + (status.find((s) => s.name === p.name)?.position ?? 0), 0) / READ_MODELS.length;

/** Waits until every projection of the process (read models, feeds, relay) has processed the event at `head`. */
async function caughtUp(projector: ProjectorProcess, head: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await statusOf(projector).catch(() => []);
    if (status.length > 0 && status.every((s) => s.position >= head)) return;
    if (Date.now() > deadline) throw new Error(`the projections did not reach ${head} within ${timeoutMs / 1000} s (at ${JSON.stringify(status.map((s) => [s.name, s.role, s.position]))}):\n${projector.stderr()}`);
    await sleep(50);
  }
}

async function digestOf(url: string): Promise<ReadModelDigest> {
  const store = await MongoDocumentStore.connect(url, quiet);
  try {
    return await readModelDigest(store);
  } finally {
    await store.close();
  }
}

interface Takeover {
  /** Kill to the lease document naming the next epoch. */
  leaseMs: number;
  /** Kill to the checkpoint claimed under the new epoch (the standby's first write). */
  claimMs: number;
  /** Kill to the first checkpoint moved on by the standby, if it had anything left to do before the test ended. */
  progressMs?: number;
}

/** The latest epoch of each projection's lease (the documents are `<projection>#<epoch>`). */
async function latestEpochs(url: string): Promise<Map<string, number>> {
  const client = await MongoClient.connect(url);
  try {
    const epochs = new Map<string, number>();
    for (const lease of await client.db().collection<{ _id: string; projection?: string; epoch: number }>(LEASES).find().toArray()) {
      if (lease.projection) epochs.set(lease.projection, Math.max(epochs.get(lease.projection) ?? 0, lease.epoch));
    }
    return epochs;
  } finally {
    await client.close();
  }
}

/**
 * Watches the shared database from the kill on (every 20 ms): per projection, when the lease
 * passed to the next epoch, when the checkpoint was claimed under it, and when the checkpoint
 * first moved past the claimed position; until every projection has been claimed and moved (or
 * `until` resolves and `graceMs` more passed).
 */
async function watchTakeover(url: string, epochs: ReadonlyMap<string, number>, killedAt: number, until: Promise<unknown>): Promise<Map<string, Takeover>> {
  const names = [...epochs.keys()];
  const client = await MongoClient.connect(url);
  const seen = new Map<string, Partial<Takeover> & { claimedAt?: number }>(names.map((n) => [n, {}]));
  let ended: number | undefined;
  void until.finally(() => (ended = performance.now()));
  try {
    for (;;) {
      const now = performance.now() - killedAt;
      const leases = await client.db().collection<{ _id: string; epoch: number }>(LEASES).find().toArray();
      const checkpoints = await client.db().collection<{ _id: string; epoch?: number; position: number }>(CHECKPOINTS).find().toArray();
      for (const name of names) {
        const entry = seen.get(name)!;
        const epoch = epochs.get(name)!;
        if (entry.leaseMs === undefined && leases.some((l) => l._id === `${name}#${epoch + 1}`)) entry.leaseMs = now;
        const checkpoint = checkpoints.find((c) => c._id.startsWith(`${name}@`) && (c.epoch ?? 0) > epoch);
        if (checkpoint && entry.claimMs === undefined) {
          entry.claimMs = now;
          entry.claimedAt = checkpoint.position;
        } else if (checkpoint && entry.progressMs === undefined && checkpoint.position > entry.claimedAt!) {
          entry.progressMs = now;
        }
      }
      const done = [...seen.values()].every((e) => e.claimMs !== undefined && e.progressMs !== undefined);
      if (done || (ended !== undefined && performance.now() - ended > 10_000)) break;
      if (now > 120_000) break;
      await sleep(20);
    }
  } finally {
    await client.close();
  }
  return new Map([...seen].map(([name, e]) => [name, { leaseMs: e.leaseMs ?? NaN, claimMs: e.claimMs ?? NaN, ...(e.progressMs !== undefined && { progressMs: e.progressMs }) }]));
}

withAllServers('projector takeover: two projector processes (MongoDB/FerretDB, Redis, Kafka)', (servers) => {
  describe('projector takeover: two projector processes (MongoDB/FerretDB, Redis, Kafka)', () => {
    let dataDir: string | undefined;
    const databases: string[] = [];
    const running: ProjectorProcess[] = [];
    afterAll(async () => {
      for (const p of running) await p.kill();
      for (const url of databases) {
        const client = await MongoClient.connect(url).catch(() => undefined);
        await client?.db().dropDatabase().catch(() => undefined);
        await client?.close();
      }
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });
    const start = async (env: Record<string, string>) => {
      const p = await startProjector(env, dataDir!);
      running.push(p);
      return p;
    };

    it(`the active projector killed (SIGKILL) under load: the standby takes over (stated bound ${takeoverBoundMs(DEFAULT_LEASE_OPTIONS) / 1000} s, measured and reported) and every read model equals a clean pass (seed ${SEED})`, async () => {
      console.log(`projector takeover seed: ${SEED} (replay with TAKEOVER_SEED=${SEED})`);
      dataDir = mkdtempSync(join(tmpdir(), 'projector-takeover-'));
      databases.push(servers.MONGODB_URL!);
      const env = { ...servers };

      // The first process takes every lease; the second stands by (and is ready).
      const active = await start(env);
      expect((await statusOf(active)).every((s) => s.role === 'active')).toBe(true);
      const standby = await start(env);
      const waiting = await statusOf(standby);
      const names = waiting.map((s) => s.name);
      expect(waiting.every((s) => s.role === 'standby'), JSON.stringify(waiting)).toBe(true);
      expect((await fetch(`${standby.url}/health/ready`)).status).toBe(200);

      // The live load: the real write paths append to the shared log while the active projector follows.
      let writing = true;
      const load = writeSagaWorkload(dataDir, { seed: SEED, orders: ORDERS }).finally(() => (writing = false));
      const deadline = Date.now() + 120_000;
      // A busy projector may answer /projections late: a look that times out is simply repeated.
      let before: ProjectionStatus[] = [];
      for (;;) {
        before = (await statusOf(active).catch(() => undefined)) ?? before;
        if (progressOf(before) >= KILL_AT || (!writing && progressOf(before) >= (await load).head)) break;
        if (Date.now() > deadline) throw new Error(`the active projector did not reach ${KILL_AT} within 120 s:\n${active.stderr()}`);
        await sleep(10);
      }
      const writingAtKill = writing;
      // What the killed process held: on a machine loaded enough that a renewal came too late, the
      // standby may already have taken a lease over before the kill (the lapse is the safe side).
      const atKill = await latestEpochs(servers.MONGODB_URL!);
      const held = new Map([...atKill].filter(([name]) => before.find((p) => p.name === name)?.role === 'active'));
      const killedAt = performance.now();
      await active.kill();
      const workloadDone = load.then(() => undefined);
      const takeovers = await watchTakeover(servers.MONGODB_URL!, held, killedAt, workloadDone);
      const workload = await load;
      await caughtUp(standby, workload.head, 180_000);

      const after = await statusOf(standby);
      const metrics = await (await fetch(`${standby.url}/metrics`)).text();
      const rows = names.map((name) => {
        const t = takeovers.get(name);
        if (!t) return `${name}: the standby already held it at the kill (epoch ${atKill.get(name)}: the killed process's lease had lapsed under load)`;
        return `${name}: lease ${t.leaseMs.toFixed(0)} ms, first write (checkpoint claimed) ${t.claimMs.toFixed(0)} ms, first progress ${t.progressMs === undefined ? '-' : `${t.progressMs.toFixed(0)} ms`} (killed at ${before.find((s) => s.name === name)?.position})`;
      });
      const claims = [...takeovers.values()].map((t) => t.claimMs);
      const leases = [...takeovers.values()].map((t) => t.leaseMs);
      console.log(
        [
          `load: ${workload.head} events (${workload.products} products, ${workload.orders} orders) in ${workload.elapsedMs} ms; the active projector was killed at read-model progress ${progressOf(before).toFixed(0)}, ${writingAtKill ? 'while the load was still writing' : 'after the load had finished writing'}`,
          `takeover (kill -> standby), lease TTL ${DEFAULT_LEASE_OPTIONS.ttlMs} ms, renewal ${DEFAULT_LEASE_OPTIONS.renewMs} ms, stated bound ${takeoverBoundMs(DEFAULT_LEASE_OPTIONS)} ms:`,
          ...rows.map((r) => `  ${r}`),
          `  lease taken: min ${Math.min(...leases).toFixed(0)} ms, max ${Math.max(...leases).toFixed(0)} ms; first write: min ${Math.min(...claims).toFixed(0)} ms, max ${Math.max(...claims).toFixed(0)} ms (${takeovers.size} of ${names.length} leases held by the killed process)`,
        ].join('\n'),
      );
      expect(after.every((s) => s.role === 'active'), JSON.stringify(after)).toBe(true);
      for (const name of names) expect(metrics).toMatch(new RegExp(`^storefront_projection_lease_takeovers_total\\{projection="${name}"[^}]*\\} [1-9]\\d*$`, 'm'));
      for (const name of names) expect(metrics).toMatch(new RegExp(`^storefront_projection_lease_held\\{projection="${name}"[^}]*\\} 1$`, 'm'));
      // Reported above against the stated bound; asserted only loosely (twice the bound): on a machine
      // this busy the standby's looks and its projector's start run late. The lease contract test
      // (projections/lease.int.test.ts) holds the timing rules exactly, on a clock of its own.
      expect(takeovers.size, 'the killed process held at least one lease').toBeGreaterThan(0);
      for (const [name, t] of takeovers) expect(t.claimMs, `${name} took over ${t.claimMs.toFixed(0)} ms after the kill`).toBeLessThanOrEqual(2 * takeoverBoundMs(DEFAULT_LEASE_OPTIONS));
      await standby.stop();

      // One clean pass over the same log into a fresh database, one projector process, undisturbed.
      const { url: cleanUrl } = freshMongoUrl(servers.MONGODB_URL!);
      databases.push(cleanUrl);
      const clean = await start({ ...env, MONGODB_URL: cleanUrl });
      await caughtUp(clean, workload.head, 180_000);
      await clean.stop();
      // Both passes read the same log: nothing was appended after the workload ended (the standby
      // and the clean pass each stop once they reach its head; a later event would be in one only).
      const appended = await eventsAfter(dataDir, workload.head);
      expect(appended, `appended after the workload ended (head ${workload.head})`).toEqual([]);
      const expected = await digestOf(cleanUrl);
      const actual = await digestOf(servers.MONGODB_URL!);
      console.log(`clean pass: ${summarizeDigest(expected)}\nafter the takeover: ${summarizeDigest(actual)}`);
      expect(Object.fromEntries(expected.collections.map((c) => [c.collection, c.count]))).toMatchObject({ product_catalog: workload.products, orders: workload.orders });
      expect(actual.hash, `the read models after the takeover differ from the clean pass (seed ${SEED}):\n${digestDifference(expected, actual)}`).toBe(expected.hash);
    }, 600_000);
  });
});
