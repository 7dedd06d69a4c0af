/**
 * Measurement (not a test): `npm run bench:recommendations` (BENCH_PHASES picks the measurements
 * after seeding: projections,ferretdb,kafka,gateway by default), with the real servers' URLs in the
 * environment for the real-server phases (`. scripts/servers/env.sh`: MONGODB_URL for FerretDB,
 * KAFKA_BROKERS for Kafka; each phase is skipped, and says so, without its variable).
 *
 * 1. Seed, through the services' own write paths (in-process, embedded event store, embedded
 *    bus): BENCH_PRODUCTS products (default 10,000; ProductService.create, 20 categories of
 *    contiguous blocks), then BENCH_INTERACTIONS interactions (default 200,000), of which
 *    BENCH_ORDER_SHARE (default 0.1) are paid orders (placeOrder, the saga's reservation, payOrder;
 *    2 to 4 products, an anchor and its neighbours) and the rest views
 *    (RecommendationService.recordView by 20,000 users; popularity is skewed). The recommendation
 *    consumers record purchases and product facts from the relay as they would in production.
 * 2. Projection throughput, embedded: the four recommendation projections rebuilt from that log
 *    into the embedded document store, as the projector runs them; interactions/s (counted views
 *    plus recorded purchases, over the time until every projection reached the head) and log
 *    events/s.
 * 3. The same into FerretDB (MONGODB_URL; stopped after BENCH_FERRETDB_SECONDS, default 180, and
 *    then reported from the positions reached), and the consumers on Kafka (KAFKA_BROKERS): the relay
 *    publishes the log's public events to Kafka and the recommendation consumers record them into
 *    a fresh event store; purchases and messages per second until all are handled.
 * 4. Through the gateway (the system in its own process on the seeded log, embedded; it rebuilds
 *    its read models from the log at start, given BENCH_START_SECONDS, default 900):
 *    `{ product(id) { recommendations(first: 5) { name price { amount } stock } } }` vs
 *    `{ product(id) { name price { amount } stock } }`, p50/p99, cold (each id's first request)
 *    and warm (BENCH_ROUNDS more rounds over the same ids), BENCH_IDS ids (default 400),
 *    BENCH_CONCURRENCY requests in flight (default 4); the ratios of the two.
 *
 * BENCH_SEEDED_DIR keeps the seeded log in that folder, and reuses it on the next run.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { closeConsumers, type BusObserver } from '../platform/bus/bus.js';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import { MemoryBus } from '../platform/bus/memory-bus.js';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { graphql } from '../platform/testing/graphql-client.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, percentile, startSystemProcess } from '../platform/testing/system-process.js';
import { Projector } from '../projections/projector.js';
import { PUBLIC_CONTRACTS } from '../projections/registry.js';
import { relayProjection } from '../projections/relay.js';
import type { Actor } from '../subgraphs/order/decider.js';
import { startSaga } from '../subgraphs/order/saga-harness.js';
import { PRODUCT_FACTS_GROUP, PURCHASES_GROUP } from '../subgraphs/recommendation/consumers.js';
import { productFactsStream } from '../subgraphs/recommendation/events.js';
import { recommendationProjections } from '../subgraphs/recommendation/read-model/projections.js';
import { startRecommendationConsumers } from '../subgraphs/recommendation/server.js';
import { RecommendationService } from '../subgraphs/recommendation/service.js';
import { watchSettlements } from './lib/order-settlement.js';

const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 10_000);
const INTERACTIONS = Number(process.env.BENCH_INTERACTIONS ?? 200_000);
const ORDER_SHARE = Number(process.env.BENCH_ORDER_SHARE ?? 0.1);
const USERS = Number(process.env.BENCH_USERS ?? 20_000);
const IDS = Number(process.env.BENCH_IDS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
/** Which measurements to run after seeding (all by default): projections, ferretdb, kafka, gateway. */
const PHASES = new Set((process.env.BENCH_PHASES ?? 'projections,ferretdb,kafka,gateway').split(',').map((p) => p.trim()));
/** How long the system process may take to load the seeded log and catch its read models up. */
const START_SECONDS = Number(process.env.BENCH_START_SECONDS ?? 900);
const CATEGORY_SIZE = Math.max(1, Math.ceil(PRODUCTS / 20));
const logger = createLogger('bench', 'silent');
const metrics = () => createMetrics(serviceRegistry('bench', { processMetrics: false }));
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Deterministic pseudo-random numbers (mulberry32), so two runs seed the same log. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(12);
/** Skewed popularity: a few products get most of the attention. */
const popular = () => Math.floor(PRODUCTS * rand() ** 2);

/** Runs `work(i)` for i < n with `concurrency` in flight. */
async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let i = next++; i < n; i = next++) await work(i);
    }),
  );
}

interface Seeded {
  dataDir: string;
  productIds: string[];
  /** Counted views and recorded purchases. */
  interactions: number;
  head: number;
}

export async function seed(): Promise<Seeded> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-recommendations-'));
  mkdirSync(join(dataDir, 'events'));
  const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
  const bus = new MemoryBus();
  const saga = await startSaga({ bus, events, logger });
  const ports = { events, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger };
  const service = new RecommendationService({ ...ports, clock: () => new Date() });
  const consumers = await startRecommendationConsumers(bus, service);
  const started = Date.now();
  try {
    const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
    const productIds: string[] = new Array<string>(PRODUCTS);
    await pool(PRODUCTS, 32, async (i) => {
      const p = await saga.products.create(
        { sku: `BR-${i}-${randomUUID().slice(0, 6)}`, name: `Product ${i}`, category: `cat-${Math.floor(i / CATEGORY_SIZE)}`, description: null, price: { amount: 100 + (i % 900), currency: 'EUR' }, initialStock: 1_000_000 },
        seller,
      );
      productIds[i] = p._id;
    });
    log(`seeded ${PRODUCTS} products in ${fmt((Date.now() - started) / 1000, 1)} s`);
    // Views need the product facts the consumer records from the relay: wait for every product's.
    await saga.relay.waitFor(await events.headPosition(), 120_000);
    for (const deadline = Date.now() + 120_000; ; ) {
      const missing = (await Promise.all(productIds.map((id) => events.readLastEvent(productFactsStream(id))))).filter((e) => e === undefined).length;
      if (missing === 0) break;
      if (Date.now() > deadline) throw new Error(`the facts of ${missing} products were not recorded within 120 s`);
      await sleep(100);
    }

    // Orders settle through the saga; the orders projection's notifications say when.
    const { settled, stop: stopListening } = watchSettlements(saga.pubsub);
    const orders = Math.round(INTERACTIONS * ORDER_SHARE);
    const views = INTERACTIONS - orders;
    const users: Actor[] = Array.from({ length: USERS }, () => ({ userId: randomUUID(), role: 'CUSTOMER' }));
    const basket = () => {
      const anchor = popular();
      const block = Math.floor(anchor / CATEGORY_SIZE) * CATEGORY_SIZE;
      const size = 2 + Math.floor(rand() * 3);
      const ids = new Set([anchor]);
      while (ids.size < Math.min(size, CATEGORY_SIZE)) ids.add(block + ((anchor - block + 1 + Math.floor(rand() * 5)) % CATEGORY_SIZE));
      return [...ids].filter((i) => i < PRODUCTS).map((i) => ({ productId: productIds[i]!, quantity: 1 }));
    };
    let done = 0;
    const progress = setInterval(() => log(`interactions: ${done} of ${INTERACTIONS}`), 10_000);
    const interactionsStarted = Date.now();
    const plan = Array.from({ length: INTERACTIONS }, (_, i) => (i % Math.round(1 / ORDER_SHARE) === 0 && orders > 0 ? 'order' : 'view'));
    let viewsLeft = views;
    let ordersLeft = orders;
    try {
      await pool(INTERACTIONS, 48, async (i) => {
        const user = users[Math.floor(rand() * USERS)]!;
        if ((plan[i] === 'order' && ordersLeft > 0) || viewsLeft === 0) {
          ordersLeft--;
          const order = await saga.orders.place({ items: basket() }, user);
          const status = await settled(order._id);
          if (status !== 'CONFIRMED') throw new Error(`order ${order._id} ended ${status}`);
          await saga.orders.pay(order._id, { token: 'tok_visa' }, user);
        } else {
          viewsLeft--;
          await service.recordView(productIds[popular()]!, user);
        }
        done++;
      });
    } finally {
      clearInterval(progress);
      await stopListening();
    }
    const seconds = (Date.now() - interactionsStarted) / 1000;
    log(`seeded ${INTERACTIONS} interactions (${orders} paid orders, ${views} views) in ${fmt(seconds, 1)} s: ${fmt(INTERACTIONS / seconds, 0)}/s`);
    // Let the relay and the consumers finish: the head stops moving.
    let head = await events.headPosition();
    for (;;) {
      await saga.relay.waitFor(head, 300_000);
      await sleep(1000);
      const now = await events.headPosition();
      if (now === head) break;
      head = now;
    }
    let interactions = 0;
    const all = events.subscribeToAll({ from: 'start' });
    for await (const e of all) {
      if (e.type === 'ProductViewed' || e.type === 'PurchaseRecorded') interactions++;
      if (e.position >= head) break;
    }
    await all.close();
    log(`log: ${head} events, ${interactions} interactions recorded (views counted by the view-flood rule, purchases)`);
    return { dataDir, productIds, interactions, head };
  } finally {
    await closeConsumers(consumers);
    await saga.stop();
    await bus.close();
    await events.close();
  }
}

/**
 * Projects the four recommendation read models from the seeded log into `documents` from nothing
 * (as the projector does at its first start); seconds until all reached the head. After
 * `capSeconds` it stops and reports the rate so far (the slowest projection's position), with
 * the interactions prorated by position (`complete: false`).
 */
export async function projectionRate(seeded: Seeded, documents: DocumentStore, label: string, capSeconds = 3600): Promise<{ label: string; seconds: number; interactionsPerSecond: number; eventsPerSecond: number; complete: boolean }> {
  const events = await FileEventStore.open(join(seeded.dataDir, 'events'), { fsync: false });
  const ports = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger };
  const projectors = recommendationProjections().map((p) => new Projector(p, ports, { checkpointEveryMs: 1000 }));
  const started = Date.now();
  try {
    for (const p of projectors) await p.start();
    const complete = await Promise.race([Promise.all(projectors.map((p) => p.waitFor(seeded.head, capSeconds * 1000 + 60_000))).then(() => true), sleep(capSeconds * 1000).then(() => false)]);
    const seconds = (Date.now() - started) / 1000;
    const reached = complete ? seeded.head : Math.min(...projectors.map((p) => p.currentPosition));
    const result = { label, seconds, interactionsPerSecond: (seeded.interactions * (reached / seeded.head)) / seconds, eventsPerSecond: reached / seconds, complete };
    log(`projections (${label}): ${complete ? 'all' : `${reached} of ${seeded.head}`} log events in ${fmt(seconds, 1)} s: ${fmt(result.interactionsPerSecond, 0)} interactions/s, ${fmt(result.eventsPerSecond, 0)} log events/s`);
    return result;
  } finally {
    for (const p of projectors) await p.stop();
    await events.close();
  }
}

/** The relay publishes the seeded log's public events to Kafka; the recommendation consumers record them into a fresh event store. */
async function kafkaConsumers(seeded: Seeded, brokers: string): Promise<{ messages: number; seconds: number; messagesPerSecond: number; purchases: number; purchasesPerSecond: number }> {
  const namespace = `bench-rec-${randomUUID().slice(0, 8)}`;
  const handled = { count: 0 };
  const observer: BusObserver = {
    consumed: (_topic, group, outcome) => {
      if (outcome === 'ok' && (group.endsWith(PURCHASES_GROUP) || group.endsWith(PRODUCT_FACTS_GROUP))) handled.count++;
    },
  };
  const published = { count: 0 };
  const bus = await KafkaBus.connect(brokers, { clientId: 'bench-recommendations', logger, namespace, observer: { ...observer, published: (_t, n) => (published.count += n) } });
  const source = await FileEventStore.open(join(seeded.dataDir, 'events'), { fsync: false });
  const targetDir = mkdtempSync(join(tmpdir(), 'bench-rec-kafka-'));
  const target = await FileEventStore.open(targetDir, { fsync: false });
  const sourcePorts = { events: source, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger };
  const service = new RecommendationService({ events: target, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger, clock: () => new Date() });
  const relay = new Projector(relayProjection(bus, PUBLIC_CONTRACTS), sourcePorts);
  try {
    await relay.start();
    await relay.waitFor(seeded.head, 600_000);
    log(`kafka: ${published.count} public messages published; consuming them`);
    const started = Date.now();
    const consumers = await startRecommendationConsumers(bus, service);
    try {
      let last = -1;
      let stableSince = Date.now();
      while (handled.count < published.count) {
        await sleep(500);
        if (handled.count !== last) {
          last = handled.count;
          stableSince = Date.now();
        } else if (Date.now() - stableSince > 60_000) throw new Error(`kafka consumers stopped at ${handled.count} of ${published.count}`);
      }
      const seconds = (Date.now() - started) / 1000;
      let purchases = 0;
      const all = target.subscribeToAll({ from: 'start' });
      const head = await target.headPosition();
      for await (const e of all) {
        if (e.type === 'PurchaseRecorded') purchases++;
        if (e.position >= head) break;
      }
      await all.close();
      const result = { messages: handled.count, seconds, messagesPerSecond: handled.count / seconds, purchases, purchasesPerSecond: purchases / seconds };
      log(`kafka consumers: ${result.messages} messages in ${fmt(seconds, 1)} s (${fmt(result.messagesPerSecond, 0)}/s), ${purchases} purchases recorded (${fmt(result.purchasesPerSecond, 0)}/s)`);
      return result;
    } finally {
      await closeConsumers(consumers);
    }
  } finally {
    await relay.stop();
    await bus.close();
    await source.close();
    await target.close();
    rmSync(targetDir, { recursive: true, force: true });
  }
}

interface Latency {
  p50: number;
  p99: number;
  n: number;
}

async function measure(url: string, query: string, ids: readonly string[], check: (data: unknown) => void): Promise<Latency> {
  const times: number[] = [];
  await pool(ids.length, CONCURRENCY, async (i) => {
    const started = performance.now();
    const r = await graphql(url, query, { id: ids[i] });
    times.push(performance.now() - started);
    if (r.errors) throw new Error(`query failed: ${r.raw}`);
    check(r.data);
  });
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), n: times.length };
}

async function throughGateway(seeded: Seeded) {
  const started = Date.now();
  // Loading a log of half a million events takes longer than startSystemProcess waits: poll here.
  const system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '1000000000', SEED_DEMO_DATA: 'false', EVENTSTORE_FSYNC: 'false' }, { dataDir: seeded.dataDir, waitFor: 'none' });
  try {
    // Read models are rebuilt from the log at start (embedded documents): wait for the ones the queries read.
    for (;;) {
      if (system.child.exitCode !== null) throw new Error(`the system exited: ${system.stderr()}`);
      if (Date.now() - started > START_SECONDS * 1000) throw new Error(`the system was not caught up within ${START_SECONDS} s: ${system.stderr()}`);
      try {
        const all = (await (await fetch(`${system.projectorUrl}/projections`)).json()) as { name: string; position: number }[];
        // The relay republishes the log to the (embedded, empty) bus at start and the consumers
        // handle it all again (idempotently): wait for it too, so it does not share the CPU with the measurement.
        const wanted = all.filter((p) => p.name === 'product-catalog' || p.name === 'integration-relay' || p.name.startsWith('recommendation-'));
        if (wanted.length === 6 && wanted.every((p) => p.position >= seeded.head)) break;
      } catch {
        // not listening yet
      }
      await sleep(1000);
    }
    for (;;) {
      try {
        if ((await graphql(system.gatewayUrl, '{ products(first: 1) { totalCount } }')).status === 200) break;
      } catch {
        // the gateway starts after the projector
      }
      await sleep(200);
    }
    log(`system up on the seeded log; read models and relay caught up in ${fmt((Date.now() - started) / 1000, 1)} s`);
    await sleep(Number(process.env.BENCH_SETTLE_SECONDS ?? 20) * 1000); // the consumers finish what the relay published
    const pick = random(7);
    const ids = Array.from({ length: IDS * 2 }, () => seeded.productIds[Math.floor(seeded.productIds.length * pick() ** 2)]!);
    const [a, b] = [[...new Set(ids)].slice(0, IDS), [...new Set(ids)].slice(IDS, 2 * IDS)];
    const RECS = 'query Recs($id: ID!) { product(id: $id) { recommendations(first: 5) { name price { amount } stock } } }';
    const PLAIN = 'query Plain($id: ID!) { product(id: $id) { name price { amount } stock } }';
    const hasRecs = (data: unknown) => {
      const recs = (data as { product: { recommendations: unknown[] } }).product.recommendations;
      if (recs.length === 0) throw new Error('no recommendations');
    };
    const any = () => undefined;
    // JIT and connections warm up on ids not measured.
    await measure(system.gatewayUrl, RECS, seeded.productIds.slice(-50), any);
    await measure(system.gatewayUrl, PLAIN, seeded.productIds.slice(-50), any);
    const coldRecs = await measure(system.gatewayUrl, RECS, a, hasRecs);
    const coldPlain = await measure(system.gatewayUrl, PLAIN, b, any);
    const warmIds = Array.from({ length: ROUNDS }, () => a).flat();
    const warmRecs = await measure(system.gatewayUrl, RECS, warmIds, hasRecs);
    const warmPlain = await measure(system.gatewayUrl, PLAIN, warmIds, any);
    return { coldRecs, coldPlain, warmRecs, warmPlain };
  } finally {
    await system.stop();
  }
}

/**
 * The seeded log: seeded afresh, or BENCH_SEEDED_DIR's when it holds one (a seeded log is kept
 * there, rather than deleted, when the variable names an empty or missing folder), so that
 * measurements can be repeated without seeding again.
 */
async function seededLog(): Promise<{ seeded: Seeded; keep: boolean }> {
  const dir = process.env.BENCH_SEEDED_DIR;
  const manifest = dir && join(dir, 'seeded.json');
  if (manifest && existsSync(manifest)) {
    const seeded = { ...(JSON.parse(readFileSync(manifest, 'utf8')) as Seeded), dataDir: dir };
    log(`reusing the seeded log in ${dir}: ${seeded.head} events`);
    return { seeded, keep: true };
  }
  log(`seeding ${PRODUCTS} products and ${INTERACTIONS} interactions through the services' write paths`);
  const seeded = await seed();
  if (!dir) return { seeded, keep: false };
  mkdirSync(dir, { recursive: true });
  renameSync(join(seeded.dataDir, 'events'), join(dir, 'events'));
  rmSync(seeded.dataDir, { recursive: true, force: true });
  const kept = { ...seeded, dataDir: dir };
  writeFileSync(join(dir, 'seeded.json'), JSON.stringify(kept));
  return { seeded: kept, keep: true };
}

async function main() {
  const { seeded, keep } = await seededLog();
  try {
    const results: Record<string, unknown> = {};
    if (PHASES.has('projections')) results.embedded = await projectionRate(seeded, new MemoryDocumentStore(), 'embedded documents');
    if (!PHASES.has('ferretdb')) log('skipped: projections into FerretDB (not in BENCH_PHASES)');
    else if (process.env.MONGODB_URL) {
      const { url } = freshMongoUrl(process.env.MONGODB_URL);
      const documents = await MongoDocumentStore.connect(url, logger);
      try {
        results.ferretdb = await projectionRate(seeded, documents, `FerretDB ${process.env.MONGODB_URL}`, Number(process.env.BENCH_FERRETDB_SECONDS ?? 180));
      } finally {
        await documents.close();
        const client = await MongoClient.connect(url);
        await client.db().dropDatabase();
        await client.close();
      }
    } else log('SKIPPED: projections into FerretDB (MONGODB_URL is not set)');
    if (!PHASES.has('kafka')) log('skipped: consumers on Kafka (not in BENCH_PHASES)');
    else if (process.env.KAFKA_BROKERS) results.kafka = await kafkaConsumers(seeded, process.env.KAFKA_BROKERS);
    else log('SKIPPED: consumers on Kafka (KAFKA_BROKERS is not set)');
    const gateway = PHASES.has('gateway') ? await throughGateway(seeded) : undefined;
    const row = (name: string, l: Latency) => `  ${name.padEnd(44)} p50 ${fmt(l.p50)} ms  p99 ${fmt(l.p99)} ms  (${l.n} requests)`;
    console.log('\nnpm run bench:recommendations');
    console.log(`seeded: ${PRODUCTS} products, ${INTERACTIONS} interactions asked, ${seeded.interactions} recorded (counted views + purchases), ${seeded.head} log events`);
    for (const [name, r] of Object.entries(results)) console.log(`  ${name}: ${JSON.stringify(r)}`);
    if (gateway) {
      console.log(`through the gateway (embedded system process, ${CONCURRENCY} in flight):`);
      console.log(row('recommendations(first: 5), cold', gateway.coldRecs));
      console.log(row('plain product, cold', gateway.coldPlain));
      console.log(row(`recommendations(first: 5), warm (${ROUNDS} rounds)`, gateway.warmRecs));
      console.log(row(`plain product, warm (${ROUNDS} rounds)`, gateway.warmPlain));
      console.log(`  ratio cold p50 ${fmt(gateway.coldRecs.p50 / gateway.coldPlain.p50)}x, p99 ${fmt(gateway.coldRecs.p99 / gateway.coldPlain.p99)}x; warm p50 ${fmt(gateway.warmRecs.p50 / gateway.warmPlain.p50)}x (target <= 1.5x), p99 ${fmt(gateway.warmRecs.p99 / gateway.warmPlain.p99)}x`);
    }
    const embedded = results.embedded as { interactionsPerSecond: number } | undefined;
    if (embedded) console.log(`  projection embedded ${fmt(embedded.interactionsPerSecond, 0)} interactions/s (target >= 5,000)`);
  } finally {
    if (!keep) rmSync(seeded.dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
