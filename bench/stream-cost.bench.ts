/**
 * Benchmark (not a test): `npm run bench:stream-cost`. Does a command's cost grow with its stream?
 *
 * One embedded event store (file log) is prepared with two products, written directly: a "short"
 * one whose stream holds ~1,000 events and a "long" one with ~100,000 (BENCH_LONG_EVENTS), each a
 * history of synthetic orders reserved and sold (StockReserved + StockSold), spread over the last
 * BENCH_HISTORY_DAYS days. The log is copied, so two systems start from identical data:
 *   before: every command reads and folds its whole stream (streamStates disabled);
 *   after:  commands start from the state kept in process or the newest snapshot.
 * Measured on both, interleaved (short/long, before/after in turn):
 *   1. placeOrder -> CONFIRMED (the whole saga on the embedded bus, one customer at a time),
 *      BENCH_ORDERS orders per product and system, p50/p99, and the long/short ratio;
 *   2. the product aggregate alone (load + decide + append of a ReserveStock), BENCH_COMMANDS per
 *      product: before, after with the state in process (warm), and after as a cold process would
 *      run it (a fresh StreamStates per command: newest snapshot + the events after it).
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '../platform/bus/memory-bus.js';
import { handleCommand, loadState } from '../platform/eventsourcing/command-handler.js';
import { StreamStates } from '../platform/eventsourcing/stream-states.js';
import type { EventMetadata, NewEvent } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { fmt, percentile } from '../platform/testing/system-process.js';
import type { Actor } from '../subgraphs/order/decider.js';
import { startSaga, type Saga } from '../subgraphs/order/saga-harness.js';
import { productDecider, reservationsOf, type InventoryCommand, type ProductState } from '../subgraphs/product/decider.js';
import { productStream, type ProductEvent } from '../subgraphs/product/events.js';
import { productIdForSku } from '../subgraphs/product/service.js';
import { productSnapshots } from '../subgraphs/product/snapshot.js';
import { watchSettlements } from './lib/order-settlement.js';

const logger = createLogger('bench', 'silent');
const SHORT_EVENTS = Number(process.env.BENCH_SHORT_EVENTS ?? 1_000);
const LONG_EVENTS = Number(process.env.BENCH_LONG_EVENTS ?? 100_000);
const HISTORY_DAYS = Number(process.env.BENCH_HISTORY_DAYS ?? 365);
const ORDERS = Number(process.env.BENCH_ORDERS ?? 200);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 200);
const WARMUP = 20;
const DAY = 24 * 3600 * 1000;

const seller: Actor = { userId: randomUUID(), role: 'SELLER' };

/** Writes a product whose stream holds `events` events: created, then (reserved, sold) per synthetic order, over HISTORY_DAYS. */
async function prepareProduct(store: FileEventStore, sku: string, events: number): Promise<string> {
  const productId = productIdForSku(sku);
  const orders = Math.floor((events - 1) / 2);
  const start = Date.now() - HISTORY_DAYS * DAY;
  const step = (HISTORY_DAYS * DAY) / (orders + 1);
  const iso = (t: number) => new Date(t).toISOString();
  const meta = (t: number): EventMetadata => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench', occurredAt: iso(t), schemaVersion: 1 });
  const initialStock = 100_000_000;
  const price = { amount: 500, currency: 'EUR' };
  const created: ProductEvent = {
    type: 'ProductCreated',
    data: { productId, sku, name: `Best seller ${sku}`, description: null, category: 'bench', price, initialStock, sellerId: seller.userId, createdAt: iso(start) },
  };
  let batch: NewEvent[] = [{ id: randomUUID(), ...created, metadata: meta(start) }];
  let revision = -1;
  const flush = async () => {
    const result = await store.appendToStream(productStream(productId), batch, { expectedRevision: revision < 0 ? 'no_stream' : revision });
    revision = result.nextRevision;
    batch = [];
  };
  for (let i = 0; i < orders; i++) {
    const t = start + (i + 1) * step;
    const orderId = randomUUID();
    const reserved: ProductEvent = { type: 'StockReserved', data: { productId, orderId, quantity: 1, unitPrice: price, sellerId: seller.userId, stock: initialStock - i - 1, reservedAt: iso(t) } };
    const sold: ProductEvent = { type: 'StockSold', data: { productId, orderId, quantity: 1, soldAt: iso(t + 60_000) } };
    batch.push({ id: randomUUID(), ...reserved, metadata: meta(t) }, { id: randomUUID(), ...sold, metadata: meta(t + 60_000) });
    if (batch.length >= 2_000) await flush();
  }
  if (batch.length > 0) await flush();
  return productId;
}

interface System {
  name: string;
  dir: string;
  events: FileEventStore;
  bus: MemoryBus;
  saga: Saga;
  settled: (orderId: string) => Promise<string>;
  stopListening: () => Promise<void>;
}

async function startSystem(name: string, dir: string, enabled: boolean): Promise<System> {
  const events = await FileEventStore.open(dir, { fsync: false });
  const bus = new MemoryBus();
  const saga = await startSaga({ bus, events, logger, productStates: { enabled } });
  // The relay publishes the prepared history once; let every consumer work through it first.
  await saga.relay.waitFor(await events.headPosition(), 600_000);
  while (bus.backlog > 0) await new Promise((r) => setTimeout(r, 50));
  const { settled, stop: stopListening } = watchSettlements(saga.pubsub);
  return { name, dir, events, bus, saga, settled, stopListening };
}

type Sample = Record<string, number[]>;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
};

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const root = mkdtempSync(join(tmpdir(), 'bench-stream-cost-'));
const systems: System[] = [];
try {
  // Prepare once, then copy: both systems start from the same log.
  const prepDir = join(root, 'prepared');
  const prepStarted = performance.now();
  const prep = await FileEventStore.open(prepDir, { fsync: false });
  const tag = randomUUID().slice(0, 6);
  const products = { short: await prepareProduct(prep, `SHORT-${tag}`, SHORT_EVENTS), long: await prepareProduct(prep, `LONG-${tag}`, LONG_EVENTS) };
  const lengths = { short: (await prep.readStream(productStream(products.short))).length, long: (await prep.readStream(productStream(products.long))).length };
  await prep.close();
  for (const name of ['before', 'after']) {
    mkdirSync(join(root, name));
    copyFileSync(join(prepDir, 'events.jsonl'), join(root, name, 'events.jsonl'));
  }
  console.log(`prepared streams of ${lengths.short} and ${lengths.long} events (synthetic orders over ${HISTORY_DAYS} days) in ${fmt((performance.now() - prepStarted) / 1000, 1)} s`);
  systems.push(await startSystem('before', join(root, 'before'), false), await startSystem('after', join(root, 'after'), true));
  console.log('both systems started and caught up');

  // 1. placeOrder -> CONFIRMED, interleaved over (system, product); then "after" alone, whose
  // tail latencies are then not those of the baseline's garbage collections.
  const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
  const sizes = ['short', 'long'] as const;
  const saga: Sample = {};
  const first: Record<string, number> = {};
  const placeOrder = (system: System, size: (typeof sizes)[number]) =>
    timed(async () => {
      const order = await system.saga.orders.place({ items: [{ productId: products[size], quantity: 1 }] }, customer);
      const status = await system.settled(order._id);
      if (status !== 'CONFIRMED') throw new Error(`order ${order._id} ended ${status}`);
    });
  for (let n = 0; n < ORDERS + WARMUP; n++) {
    for (const system of systems) {
      for (const size of sizes) {
        const key = `${system.name} ${size}`;
        const ms = await placeOrder(system, size);
        if (n === 0) first[key] = ms; // a cold product: no state in process, no snapshot yet
        if (n >= WARMUP) (saga[key] ??= []).push(ms);
      }
    }
  }
  for (let n = 0; n < ORDERS; n++) for (const size of sizes) (saga[`after alone ${size}`] ??= []).push(await placeOrder(systems[1]!, size));

  // 2. The product aggregate alone: load + decide + append of one ReserveStock.
  const command = (productId: string): InventoryCommand => ({ type: 'ReserveStock', productId, orderId: randomUUID(), quantity: 1, placedAt: new Date().toISOString(), at: new Date().toISOString() });
  const context = () => ({ actor: 'bench', correlationId: randomUUID(), now: new Date() });
  // One mode at a time (the baseline last: its garbage would weigh on the others), sizes interleaved.
  const aggregate: Sample = {};
  const warm = new StreamStates(productSnapshots());
  const modes: [string, (size: (typeof sizes)[number]) => Promise<unknown>][] = [
    ['after, state in process', (size) => handleCommand(systems[1]!.events, productDecider, productStream(products[size]), command(products[size]), context(), { states: warm })],
    ['after, cold (snapshot + newer events)', (size) => handleCommand(systems[1]!.events, productDecider, productStream(products[size]), command(products[size]), context(), { states: new StreamStates(productSnapshots()) })],
    ['before', (size) => handleCommand(systems[0]!.events, productDecider, productStream(products[size]), command(products[size]), context())],
  ];
  for (const [mode, run] of modes) {
    for (let n = 0; n < COMMANDS + WARMUP; n++) {
      for (const size of sizes) {
        const ms = await timed(() => run(size));
        if (n >= WARMUP) (aggregate[`${mode}|${size}`] ??= []).push(ms);
      }
    }
  }

  // What a cold process holds for the long product after the run.
  const remembered = async (productId: string) => {
    const state: ProductState = await loadState(systems[1]!.events, productDecider, productStream(productId), new StreamStates(productSnapshots()));
    return reservationsOf(state).size;
  };
  const all = async (productId: string) => reservationsOf(await loadState(systems[0]!.events, productDecider, productStream(productId))).size;

  console.log(`\nplaceOrder -> CONFIRMED (whole saga in one process, embedded bus, file event store without fsync), ${ORDERS} orders per product and system after ${WARMUP} warm-up, interleaved:`);
  for (const name of ['before', 'after', 'after alone']) {
    const short = summary(saga[`${name} short`]!);
    const long = summary(saga[`${name} long`]!);
    console.log(
      `  ${name.padEnd(11)} ${String(lengths.short).padStart(7)} events: p50 ${fmt(short.p50)} ms  p99 ${fmt(short.p99)} ms | ${String(lengths.long).padStart(7)} events: p50 ${fmt(long.p50)} ms  p99 ${fmt(long.p99)} ms | ratio long/short p50 ${fmt(long.p50 / short.p50)}x  p99 ${fmt(long.p99 / short.p99)}x`,
    );
  }
  console.log(`  first order on each product (cold: nothing in process, no snapshot yet): ${Object.entries(first).map(([k, v]) => `${k} ${fmt(v, 1)} ms`).join(', ')}`);

  console.log(`\nproduct aggregate alone, load + decide + append of a ReserveStock, ${COMMANDS} commands per product and mode, interleaved:`);
  for (const [mode] of modes) {
    const short = summary(aggregate[`${mode}|short`]!);
    const long = summary(aggregate[`${mode}|long`]!);
    console.log(`  ${mode.padEnd(38)} short: p50 ${fmt(short.p50, 3)} ms  p99 ${fmt(short.p99, 3)} ms | long: p50 ${fmt(long.p50, 3)} ms  p99 ${fmt(long.p99, 3)} ms | ratio p50 ${fmt(long.p50 / short.p50)}x  p99 ${fmt(long.p99 / short.p99)}x`);
  }
  console.log(`\nreservations a state holds (long product): folded from every event ${await all(products.long)}, from the newest snapshot ${await remembered(products.long)}; short product: ${await all(products.short)} vs ${await remembered(products.short)}`);
} finally {
  for (const system of systems) {
    await system.stopListening();
    await system.saga.stop();
    await system.bus.close();
    await system.events.close();
  }
  rmSync(root, { recursive: true, force: true });
}
