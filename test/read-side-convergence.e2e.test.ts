import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import type { Doc } from '../platform/documents/document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { loadState } from '../platform/eventsourcing/command-handler.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { OwnServer } from '../platform/testing/own-server.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { digestDifference, readModelDigest, summarizeDigest, type ReadModelDigest } from '../platform/testing/read-model-hash.js';
import { writeSagaWorkload } from '../platform/testing/saga-workload.js';
import { SeededRandom } from '../platform/testing/seeded-random.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { freePort, startSystemProcess, type SystemProcess } from '../platform/testing/system-process.js';
import { READ_MODELS } from '../projections/registry.js';
import { orderDecider, type OrderStatus, type PlacedOrder } from '../subgraphs/order/decider.js';
import { orderStream } from '../subgraphs/order/events.js';
import { ORDERS } from '../subgraphs/order/read-model/read-model.js';
import { CATALOG } from '../subgraphs/product/catalog/read-model.js';
import { productDecider, reservationsOf } from '../subgraphs/product/decider.js';
import { productStream } from '../subgraphs/product/events.js';
import { eventsAfter } from '../platform/testing/suite-stores.js';

// Issue #10, "tests that must exist": the read side converges on the real document store.
// Every comparison is a content hash of every read model (platform/testing/read-model-hash.ts:
// each document as canonical JSON, `_position` included, sorted by _id).
//
// Seeded: the seed is printed; READ_SIDE_SEED=<seed> npx vitest run test/read-side-convergence.e2e.test.ts
// makes the same choices again (the workload's and the kill points'; timing still varies).

const SEED = Number(process.env.READ_SIDE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = 20;
/** Orders the workload places (about 7 events each, plus the catalog's). */
const WORKLOAD_ORDERS = Number(process.env.READ_SIDE_ORDERS ?? 3000);

const quiet = createLogger('read-side-test', 'silent');
/** Timeouts of the order sweeper that never fire in these tests: it would append events while the projections catch up. */
// No order expires and no notification is delivered (a delivery appends its outcome) while the systems replay the log.
const NO_EXPIRY = { ORDER_PENDING_TIMEOUT_SECONDS: '100000000', ORDER_PAYMENT_TIMEOUT_SECONDS: '100000000', NOTIFICATION_DISPATCH: 'false' };

interface ProjectionStatus {
  name: string;
  position: number;
}

async function positions(system: SystemProcess): Promise<Map<string, number>> {
  const response = await fetch(`${system.projectorUrl}/projections`, { signal: AbortSignal.timeout(5000) });
  return new Map(((await response.json()) as ProjectionStatus[]).map((p) => [p.name, p.position]));
}

/**
 * How far the read models have got together: the mean of their positions. (The catalog, which
 * skips order events, runs ahead of the orders; a mean spreads kill points over both catch-ups.)
 */
const readModelProgress = (at: ReadonlyMap<string, number>) => READ_MODELS.reduce((sum, p) => sum + (at.get(p.name) ?? 0), 0) / READ_MODELS.length;

/**
 * Waits until every projection (read models and relay) has processed the event at `head`;
 * resolves with the milliseconds between successive moves of the read models' progress.
 */
async function caughtUp(system: SystemProcess, head: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  const moves: number[] = [];
  let last: { progress: number; at: number } | undefined;
  for (;;) {
    const at = await positions(system).catch(() => new Map<string, number>());
    if (at.size > 0) {
      const progress = readModelProgress(at);
      if (last && progress > last.progress) moves.push(Date.now() - last.at);
      if (!last || progress > last.progress) last = { progress, at: Date.now() };
    }
    if (at.size > 0 && [...at.values()].every((p) => p >= head)) return moves;
    if (system.child.exitCode !== null || system.child.signalCode !== null) throw new Error(`the system exited while catching up:\n${system.stderr()}`);
    if (Date.now() > deadline) throw new Error(`the projections did not reach ${head} within ${timeoutMs / 1000} s (at ${JSON.stringify(Object.fromEntries(at))}):\n${system.stderr()}`);
    await sleep(20);
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

async function headOf(dataDir: string): Promise<number> {
  const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
  try {
    return await events.headPosition();
  } finally {
    await events.close();
  }
}

async function dropDatabase(url: string): Promise<void> {
  const client = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000, socketTimeoutMS: 30_000 });
  try {
    await client.db().dropDatabase();
  } finally {
    await client.close();
  }
}

// Kill -9 during catch-up. The system runs in a child process on an event log written beforehand
// (DATA_DIR) and catches up into a fresh database. Only MongoDB (FerretDB) keeps read models and
// checkpoints across a kill; the embedded read models live in memory and are rebuilt from the log
// at every start, so there every start is a clean pass by construction and nothing to compare.
withServer('MONGODB_URL', 'read models after kills during catch-up (MongoDB/FerretDB)', (mongoUrl) => {
  describe('read models after kills during catch-up (MongoDB/FerretDB)', () => {
    let dataDir: string | undefined;
    const databases: string[] = [];
    const fresh = () => {
      const { url } = freshMongoUrl(mongoUrl);
      databases.push(url);
      return url;
    };
    afterAll(async () => {
      for (const url of databases) await dropDatabase(url).catch(() => undefined);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it(`kill -9 at ${KILLS} random points during catch-up, restarting each time: every read model hashes as one clean pass (seed ${SEED})`, async () => {
      console.log(`read-side convergence seed: ${SEED} (replay with READ_SIDE_SEED=${SEED})`);
      const rng = new SeededRandom(SEED);
      const started = Date.now();
      dataDir = mkdtempSync(join(tmpdir(), 'read-side-kills-'));

      // An event log through the real write paths: catalog, orders through the whole saga.
      const workload = await writeSagaWorkload(dataDir, { seed: SEED, orders: WORKLOAD_ORDERS });
      const head = workload.head;
      console.log(`workload: ${head} events (${workload.products} products, ${workload.orders} orders: ${JSON.stringify(workload.statuses)}) in ${workload.elapsedMs} ms`);

      // One clean pass: the system on a fresh database catches up from the first event, undisturbed.
      const cleanUrl = fresh();
      const cleanStarted = Date.now();
      // Every system of this test runs on the log the workload wrote and adds nothing to it (no
      // demo data: the workload seeded the catalog; the demo seller's account would be appended).
      const clean = await startSystemProcess({ MONGODB_URL: cleanUrl, ...NO_EXPIRY, SEED_DEMO_DATA: 'false' }, { dataDir, waitFor: 'projector', forwardStderr: false });
      let moves: number[];
      try {
        moves = await caughtUp(clean, head, 120_000);
      } finally {
        await clean.stop();
      }
      const cleanMs = Date.now() - cleanStarted;
      const expected = await digestOf(cleanUrl);
      // How long the read models work between two visible moves (a batch written and its position
      // taken): a kill that long after a move lands anywhere in the next batch, its writes included.
      const step = Math.min(2000, Math.max(10, [...moves].sort((a, b) => a - b)[Math.floor(moves.length / 2)] ?? 500));
      console.log(`clean pass: ${cleanMs} ms from spawn to caught up (the read models' progress moved every ${step} ms, median); ${summarizeDigest(expected)}`);
      // The recommendation read models hold one facts and one trending document per product; their co-purchases and histories depend on the orders paid.
      expect(Object.fromEntries(expected.collections.map((c) => [c.collection, c.count]))).toMatchObject({ product_catalog: workload.products, orders: workload.orders, rec_product_facts: workload.products, rec_trending: workload.products });

      // The same catch-up into another fresh database, killed with SIGKILL at random points and
      // restarted each time: kill i comes once the read models' progress has passed a random
      // position (sorted, below 75% of the head, so there is work left), plus a random part of
      // the time between two moves.
      const resumedUrl = fresh();
      const thresholds = Array.from({ length: KILLS }, () => Math.floor(rng.next() * 0.75 * head)).sort((a, b) => a - b);
      const delays = thresholds.map(() => Math.floor(rng.next() * step));
      const kills: { threshold: number; delayMs: number; at: Record<string, number>; uptimeMs: number }[] = [];
      const resumedStarted = Date.now();
      for (let i = 0; i < KILLS; i++) {
        const spawned = Date.now();
        const system = await startSystemProcess({ MONGODB_URL: resumedUrl, ...NO_EXPIRY, SEED_DEMO_DATA: 'false' }, { dataDir, waitFor: 'projector', forwardStderr: false });
        try {
          const deadline = Date.now() + 60_000;
          while (readModelProgress(await positions(system)) < thresholds[i]!) {
            if (Date.now() > deadline) throw new Error(`run ${i + 1} did not pass position ${thresholds[i]} within 60 s:\n${system.stderr()}`);
            await sleep(10);
          }
          await sleep(delays[i]);
          const at = Object.fromEntries(await positions(system));
          await system.kill();
          kills.push({ threshold: thresholds[i]!, delayMs: delays[i]!, at, uptimeMs: Date.now() - spawned });
        } catch (error) {
          await system.kill();
          throw error;
        }
      }
      const last = await startSystemProcess({ MONGODB_URL: resumedUrl, ...NO_EXPIRY, SEED_DEMO_DATA: 'false' }, { dataDir, waitFor: 'projector', forwardStderr: false });
      try {
        await caughtUp(last, head, 120_000);
      } finally {
        await last.stop();
      }
      const resumedMs = Date.now() - resumedStarted;
      const actual = await digestOf(resumedUrl);
      const during = kills.filter((k) => READ_MODELS.some((p) => (k.at[p.name] ?? 0) < head)).length;
      console.log(
        [
          `resumed pass: ${KILLS} kills, ${during} of them with a read model still behind the head; ${READ_MODELS.map((p) => p.name).join('/')} positions just before each kill: ${kills.map((k) => READ_MODELS.map((p) => k.at[p.name]).join('/')).join(' ')}; ${resumedMs} ms in all`,
          `resumed: ${summarizeDigest(actual)}`,
          `whole test: ${Date.now() - started} ms`,
        ].join('\n'),
      );

      // Nothing appended while catching up (a redelivered integration event changes nothing), so
      // both passes read the same log.
      const headAfter = await headOf(dataDir);
      if (headAfter !== head) console.log(`appended after the workload ended: ${(await eventsAfter(dataDir, head)).join('; ')}`);
      expect(headAfter).toBe(head);
      // Most kills land while a read model is still catching up; the last ones may come after the
      // slowest has caught up (a restarted system catches up within its start-up time and the
      // random delay once little is left): those restart at the head, also a case worth a kill.
      expect(during, 'at least three kills in four came while a read model was still catching up').toBeGreaterThanOrEqual(Math.ceil(0.75 * KILLS));
      expect(actual.hash, `the resumed read models differ from the clean pass (seed ${SEED}):\n${digestDifference(expected, actual)}`).toBe(expected.hash);
    }, 300_000);
  });
});

// ---------------------------------------------------------------------------------------------
// A 30 s Kafka outage under load, then recovery: the saga settles, the projections catch up, and
// every read model equals a rebuild from the log. The system runs in this process (its event
// store, read models and projectors at hand) on a private Kafka that the test stops and starts,
// and FerretDB in a fresh database. For investigating: READ_SIDE_LOG_FILE=<file> (with
// READ_SIDE_LOG_LEVEL) keeps the system's log; READ_SIDE_OUTAGE_SECONDS and
// READ_SIDE_LOAD_CLIENTS change the outage and the load (30 s and 4 customers, about 28 orders/s,
// by default).

const OUTAGE_MS = Number(process.env.READ_SIDE_OUTAGE_SECONDS ?? 30) * 1000;
/** The system's last warnings and errors, printed if the test fails (CI keeps no other log). */
const recentProblems: string[] = [];
/** The in-process system's log: its warnings kept in memory, or everything in READ_SIDE_LOG_FILE (READ_SIDE_LOG_LEVEL, default info). */
const systemLogger = () => {
  const file = process.env.READ_SIDE_LOG_FILE;
  if (file) return createLogger('read-side-outage', process.env.READ_SIDE_LOG_LEVEL ?? 'info', pino.destination({ dest: file, sync: true }));
  return createLogger('read-side-outage', 'warn', {
    write: (line: string) => {
      recentProblems.push(line.length > 600 ? `${line.slice(0, 600)}…\n` : line);
      if (recentProblems.length > 80) recentProblems.shift();
    },
  });
};
/** Customers placing orders side by side (each one every 50-250 ms), about 7 orders/s each. */
const LOAD_CLIENTS = Number(process.env.READ_SIDE_LOAD_CLIENTS ?? 4);

const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status } userErrors { code message } } }';
const PAY = 'mutation($id: ID!, $payment: PaymentInput!) { payOrder(id: $id, payment: $payment) { order { status } userErrors { code message } } }';
const CANCEL = 'mutation($id: ID!) { cancelOrder(id: $id) { order { status } userErrors { code message } } }';
const SHIP = 'mutation($id: ID!) { shipOrder(id: $id) { order { status } userErrors { code message } } }';
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const RESTOCK = 'mutation($id: ID!, $q: Int!) { restockProduct(id: $id, quantity: $q) { product { stock } userErrors { code message } } }';

type Headers = Record<string, string>;

const orderState = async (events: EventStore, id: string) => loadState(events, orderDecider, orderStream(id));
const productState = async (events: EventStore, id: string) => loadState(events, productDecider, productStream(id));

/** Positions of every projector in the process, and the log's head. */
async function projectionLag(system: RunningSystem): Promise<{ head: number; behind: string[] }> {
  const head = await system.infrastructure.events.headPosition();
  return { head, behind: system.projectors.filter((p) => p.currentPosition < head).map((p) => `${p.name} at ${p.currentPosition} of ${head}${p.running ? '' : ' (not running)'}`) };
}

/** Every service's /health/ready that does not answer 200, with what it names. */
async function notReady(system: RunningSystem): Promise<string[]> {
  const base = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '');
  const services = { gateway: base(system.gatewayUrl), product: base(system.productUrl), order: base(system.orderUrl), user: base(system.userUrl), projector: system.projectorUrl };
  const failing: string[] = [];
  for (const [service, url] of Object.entries(services)) {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) }).catch((error: unknown) => error as Error);
    if (response instanceof Error) failing.push(`${service}: ${response.message}`);
    else if (response.status !== 200) failing.push(`${service}: ${response.status} ${await response.text()}`);
  }
  return failing;
}

/** Starts a rebuild of `name` through the projector's endpoint (what `npm run replay` does) and waits until it has switched over. */
async function rebuild(projectorUrl: string, name: string): Promise<{ applied: number; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${projectorUrl}/projections/rebuild?name=${encodeURIComponent(name)}`, { method: 'POST' });
  expect(response.status, await response.clone().text()).toBe(202);
  for (;;) {
    await sleep(100);
    const all = (await (await fetch(`${projectorUrl}/projections`)).json()) as { name: string; rebuild: { state: string; applied: number; error?: string } }[];
    const { state, applied, error } = all.find((p) => p.name === name)!.rebuild;
    if (state === 'done') return { applied, ms: Date.now() - started };
    if (state === 'failed') throw new Error(`rebuilding ${name} failed: ${error}`);
    if (Date.now() - started > 120_000) throw new Error(`rebuilding ${name} did not finish within 120 s (${state}, ${applied} applied)`);
  }
}

withServer('MONGODB_URL', 'a Kafka outage under load, then a rebuild (MongoDB/FerretDB, Kafka)', (mongoUrl) => {
  withServer('KAFKA_BROKERS', 'a Kafka outage under load, then a rebuild (MongoDB/FerretDB, Kafka)', () => {
    describe('a Kafka outage under load, then a rebuild (MongoDB/FerretDB, Kafka)', () => {
      // A private Kafka (the shared one is not ours to stop), FerretDB in a fresh database.
      let kafka: OwnServer | undefined;
      let system: RunningSystem | undefined;
      let dataDir: string | undefined;
      const { url: databaseUrl } = freshMongoUrl(mongoUrl);

      beforeAll(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'read-side-outage-'));
        const [port, controller] = [await freePort(), await freePort()];
        kafka = new OwnServer('kafka', { KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller) });
        await kafka.start();
        system = await startSystem(
          testSystemConfig(dataDir, {
            RATE_LIMIT_PER_MINUTE: '1000000',
            ...NO_EXPIRY,
            MONGODB_URL: databaseUrl,
            KAFKA_BROKERS: `127.0.0.1:${port}`,
            NAMESPACE: `outage-${SEED}-${Date.now().toString(36)}`,
          }),
          { logger: systemLogger() },
        );
      }, 240_000);
      afterAll(async () => {
        // Each step bounded and on its own, so a stuck one (a frozen server) does not leave the
        // private Kafka running or the database behind.
        const bounded = (step: Promise<unknown>) => Promise.race([step.catch(() => undefined), sleep(40_000)]);
        await bounded(system?.stop() ?? Promise.resolve());
        await bounded(kafka?.dispose() ?? Promise.resolve());
        await bounded(dropDatabase(databaseUrl));
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      }, 150_000);

      it(`orders keep coming through a ${OUTAGE_MS / 1000} s Kafka outage; afterwards the saga settles with its invariants, the projections catch up, and every read model equals its rebuild (seed ${SEED})`, async () => {
        onTestFailed(() => console.log(`the system's last ${recentProblems.length} warnings and errors:\n${recentProblems.join('')}`));
        const sys = system!;
        const { events, documents } = sys.infrastructure;
        console.log(`Kafka outage test: seed ${SEED} (replay with READ_SIDE_SEED=${SEED}), database ${new URL(databaseUrl).pathname.slice(1)}`);
        const rng = new SeededRandom(SEED);
        const started = Date.now();
        const errors: string[] = [];
        const call = async <T>(query: string, variables: Record<string, unknown>, headers: Headers, what: string) => {
          const r = await graphql<T>(sys.gatewayUrl, query, variables, headers);
          if (r.errors) errors.push(`${what}: ${JSON.stringify(r.errors)}`);
          return r.data;
        };

        const seller = await signUp(sys.gatewayUrl, 'SELLER');
        const customers = await Promise.all(Array.from({ length: LOAD_CLIENTS }, () => signUp(sys.gatewayUrl, 'CUSTOMER')));
        // Most products have plenty; a few run out (rejections, releases of the other lines).
        const products: { id: string; initial: number; restocked: number }[] = [];
        for (let i = 0; i < 12; i++) {
          const initial = i < 3 ? 12 : 5000;
          const data = await call<{ createProduct: { product: { id: string } | null } }>(
            CREATE,
            { input: { sku: `OUT-${SEED}-${i}-${Date.now().toString(36)}`, name: `Outage item ${i}`, category: 'home', price: { amount: 100 + i * 10, currency: 'EUR' }, initialStock: initial } },
            seller.headers,
            'createProduct',
          );
          products.push({ id: data!.createProduct.product!.id, initial, restocked: 0 });
        }

        const orders: { id: string; customer: Headers }[] = [];
        const settled = new Set<string>(); // orders the follow-up loop is done with
        let loading = true;
        let kafkaUp = true;
        const place = async (customer: Headers) => {
          const lines = Array.from({ length: rng.int(1, 3) }, () => ({ productId: rng.pick(products).id, quantity: rng.int(1, 2) }));
          const data = await call<{ placeOrder: { order: { id: string } | null; userErrors: unknown[] } }>(PLACE, { input: { items: lines } }, customer, 'placeOrder');
          const id = data?.placeOrder.order?.id;
          if (!id) return;
          orders.push({ id, customer });
          // Now and then the customer changes their mind at once (usually while PENDING).
          if (rng.chance(0.05)) await call(CANCEL, { id }, customer, 'cancelOrder');
        };
        // What a storefront does next with each order: pay most confirmed ones (a few with a card
        // that is declined), cancel some, ship some paid ones.
        const followUp = async (final: boolean) => {
          for (const { id, customer } of orders.filter((o) => !settled.has(o.id))) {
            const state = await orderState(events, id);
            if (state.status === 'CONFIRMED') {
              const roll = rng.next();
              if (roll < 0.7) {
                await call(PAY, { id, payment: { token: rng.chance(0.1) ? 'tok_declined' : 'tok_visa' } }, customer, 'payOrder');
                continue; // PAID (or PAYMENT_FAILED) next time round
              }
              if (roll < 0.8) await call(CANCEL, { id }, customer, 'cancelOrder');
              else if (!final) continue; // maybe later
              settled.add(id);
            } else if (state.status === 'PAID') {
              if (rng.chance(0.3)) await call(SHIP, { id }, seller.headers, 'shipOrder');
              else if (rng.chance(0.1)) await call(CANCEL, { id }, customer, 'cancelOrder');
              settled.add(id);
            } else if (state.status !== 'PENDING') settled.add(id);
          }
        };
        const load = [
          ...customers.map(async (c) => {
            while (loading) {
              await place(c.headers);
              await sleep(rng.int(50, 250));
            }
          }),
          (async () => {
            while (loading) {
              await followUp(false);
              await sleep(300);
            }
          })(),
          (async () => {
            while (loading) {
              const p = rng.pick(products);
              const q = rng.int(1, 5);
              const data = await call<{ restockProduct: { product: { stock: number } | null } }>(RESTOCK, { id: p.id, q }, seller.headers, 'restockProduct');
              if (data?.restockProduct.product) p.restocked += q;
              await sleep(1000);
            }
          })(),
        ];

        // Under load: a while with Kafka, OUTAGE_MS without it, a while with it again.
        await sleep(8000);
        const beforeOutage = orders.length;
        await kafka!.stop();
        kafkaUp = false;
        const outageStarted = Date.now();
        await sleep(OUTAGE_MS);
        const duringOutage = orders.length - beforeOutage;
        const pendingAtRestart = (await Promise.all(orders.map(async (o) => (await orderState(events, o.id)).status))).filter((s) => s === 'PENDING').length;
        await kafka!.start();
        kafkaUp = true;
        const outageMs = Date.now() - outageStarted;
        const recovered = Date.now();
        await sleep(8000);
        loading = false;
        await Promise.all(load);
        console.log(`outage: Kafka down ${outageMs} ms (incl. restart); ${beforeOutage} orders before, ${duringOutage} during (${pendingAtRestart} PENDING when Kafka came back), ${orders.length} in all`);

        // The saga settles: no order PENDING, then the follow-ups done and their effects (sales,
        // releases) through the bus, nothing appended any more, every projection at the head.
        await eventually(async () => {
          const pending = (await Promise.all(orders.map(async (o) => (await orderState(events, o.id)).status))).filter((s) => s === 'PENDING');
          if (pending.length > 0) expect.fail(`${pending.length} orders still PENDING; not ready: ${JSON.stringify(await notReady(sys))}`);
        }, 120_000, 500);
        const sagaSettledMs = Date.now() - recovered;
        await followUp(true);
        await followUp(true); // what the first round paid: shipped or cancelled now
        await eventually(async () => {
          const before = await projectionLag(sys);
          await sleep(1500);
          const after = await projectionLag(sys);
          expect(after.head, 'events still being appended').toBe(before.head);
          if (after.behind.length > 0) expect.fail(`projections behind the head: ${after.behind.join(', ')}; not ready: ${JSON.stringify(await notReady(sys))}`);
        }, 120_000, 100);
        const caughtUpMs = Date.now() - recovered;
        expect(kafkaUp).toBe(true);

        // The saga's invariants, from the streams themselves (eventually: a release or sale may
        // still be on its way through the bus).
        const counts: Partial<Record<OrderStatus, number>> = {};
        await eventually(async () => {
          const statuses = new Map<string, OrderStatus>();
          const placed = new Map<string, PlacedOrder>();
          for (const o of orders) {
            const state = await orderState(events, o.id);
            if (state.status === 'none') throw new Error(`order ${o.id} has no stream`);
            statuses.set(o.id, state.status);
            placed.set(o.id, state);
          }
          for (const key of Object.keys(counts)) delete counts[key as OrderStatus];
          for (const s of statuses.values()) counts[s] = (counts[s] ?? 0) + 1;
          for (const p of products) {
            const stream = await events.readStream(productStream(p.id));
            for (const e of stream) {
              const stock = (e.data as { stock?: unknown }).stock;
              if (typeof stock === 'number') expect(stock, `${e.type} of ${p.id} at ${e.position}`).toBeGreaterThanOrEqual(0);
            }
            const state = await productState(events, p.id);
            if (state.status === 'none') throw new Error(`product ${p.id} has no stream`);
            const reservations = reservationsOf(state);
            let held = 0;
            for (const [orderId, r] of reservations) {
              const status = statuses.get(orderId);
              const line = placed.get(orderId)?.items.find((i) => i.productId === p.id);
              if (r.state === 'reserved' || r.state === 'sold') {
                held += r.quantity;
                // Units are held only for an order that holds them: reserved while CONFIRMED, sold once PAID (or SHIPPED).
                expect(status, `order ${orderId} holds ${r.quantity} of ${p.id} (${r.state})`).toBe(r.state === 'reserved' ? 'CONFIRMED' : status === 'SHIPPED' ? 'SHIPPED' : 'PAID');
                expect(r.quantity).toBe(line?.quantity);
              }
            }
            // Every CONFIRMED, PAID or SHIPPED order holds each of its lines.
            for (const [orderId, order] of placed) {
              const line = order.items.find((i) => i.productId === p.id);
              if (!line) continue;
              const expected = order.status === 'CONFIRMED' ? 'reserved' : order.status === 'PAID' || order.status === 'SHIPPED' ? 'sold' : undefined;
              if (expected) expect(reservations.get(orderId)?.state, `order ${orderId} (${order.status}), product ${p.id}`).toBe(expected);
            }
            expect(state.stock).toBeGreaterThanOrEqual(0);
            expect(state.stock, `stock of ${p.id}: ${p.initial} + ${p.restocked} restocked - ${held} held`).toBe(p.initial + p.restocked - held);
            // The catalog read model agrees with the stream.
            expect((await documents.collection<Doc & { stock: number }>(CATALOG).get(p.id))?.stock, `catalog stock of ${p.id}`).toBe(state.stock);
          }
          for (const [id, status] of statuses) expect((await documents.collection<Doc & { status: string }>(ORDERS).get(id))?.status, `order ${id} in the read model`).toBe(status);
        }, 60_000, 1000);
        expect(errors, 'GraphQL errors during the run').toEqual([]);
        // Recovered: every service is ready again.
        await eventually(async () => expect(await notReady(sys)).toEqual([]), 30_000, 500);

        // Every read model equals a rebuild from the first event (through the projector's endpoint).
        const { head } = await projectionLag(sys);
        const live = await readModelDigest(documents);
        const rebuilt: string[] = [];
        for (const projector of sys.projectors.filter((p) => p.rebuildable)) {
          const r = await rebuild(sys.projectorUrl, projector.name);
          rebuilt.push(`${projector.name}: ${r.applied} events in ${r.ms} ms`);
        }
        const after = await readModelDigest(documents);
        console.log(
          [
            `after the outage: saga settled ${sagaSettledMs} ms after Kafka was back, everything caught up after ${caughtUpMs} ms; ${head} events; orders ${JSON.stringify(counts)}`,
            `live:    ${summarizeDigest(live)}`,
            `rebuilt: ${summarizeDigest(after)} (${rebuilt.join('; ')})`,
            `whole test: ${Date.now() - started} ms`,
          ].join('\n'),
        );
        expect((await projectionLag(sys)).head, 'nothing appended while rebuilding').toBe(head);
        expect(Object.fromEntries(live.collections.map((c) => [c.collection, c.count]))).toMatchObject({ product_catalog: products.length, orders: orders.length, rec_product_facts: products.length, rec_trending: products.length });
        expect(after.hash, `the live read models differ from their rebuild (seed ${SEED}):\n${digestDifference(after, live)}`).toBe(live.hash);
      }, 300_000);
    });
  });
});
