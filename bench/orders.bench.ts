/**
 * Benchmark (not a test): `npm run bench:orders`. The order saga from `placeOrder` to CONFIRMED,
 * on the embedded bus and, when KAFKA_BROKERS is set, on Kafka, in one run:
 *   CLIENTS customers each place an order and wait for its CONFIRMED status notification (what
 *   an orderStatusChanged subscription sees) before placing the next, ORDERS orders in all.
 * Prints orders/s and the p50/p99 latency of place -> CONFIRMED, and Kafka's ratios to embedded.
 * Both runs use the same embedded event store and read model, so the difference is the bus.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../platform/bus/bus.js';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import { MemoryBus } from '../platform/bus/memory-bus.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { fmt, percentile } from '../platform/testing/system-process.js';
import type { Actor } from '../subgraphs/order/decider.js';
import { ORDER_STATUS_CHANNEL, type OrderStatusNotification } from '../subgraphs/order/read-model/read-model.js';
import { startSaga } from '../subgraphs/order/saga-harness.js';

const logger = createLogger('bench', 'silent');
const ORDERS = Number(process.env.BENCH_ORDERS ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 50);

interface Result {
  mode: string;
  ordersPerSecond: number;
  p50: number;
  p99: number;
}

async function run(mode: string, bus: Bus): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-orders-'));
  const events = await FileEventStore.open(dir, { fsync: false });
  const saga = await startSaga({ bus, events, logger });
  try {
    const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
    const products = await Promise.all(
      Array.from({ length: PRODUCTS }, (_, i) => saga.products.create({ sku: `B-${i}-${randomUUID().slice(0, 6)}`, name: `Bench ${i}`, category: 'bench', description: null, price: { amount: 100 + i, currency: 'EUR' }, initialStock: 1_000_000 }, seller)),
    );
    const waiting = new Map<string, (status: string) => void>();
    const early = new Map<string, string>();
    const notifications = saga.pubsub.subscribe<OrderStatusNotification>(ORDER_STATUS_CHANNEL);
    const listening = (async () => {
      for await (const n of notifications) {
        if (n.order.status === 'PENDING') continue;
        const resolve = waiting.get(n.order._id);
        if (resolve) resolve(n.order.status);
        else early.set(n.order._id, n.order.status);
      }
    })();
    const settled = (orderId: string) =>
      new Promise<string>((resolve) => {
        const already = early.get(orderId);
        if (already) resolve(already);
        else waiting.set(orderId, resolve);
      });

    const latencies: number[] = [];
    let next = 0;
    const client = async (warmup: number) => {
      const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
      for (;;) {
        const n = next++;
        if (n >= ORDERS + warmup) return;
        const items = [{ productId: products[n % PRODUCTS]!._id, quantity: 1 }, { productId: products[(n * 7 + 3) % PRODUCTS]!._id, quantity: 2 }];
        const started = performance.now();
        const order = await saga.orders.place({ items }, customer);
        const status = await settled(order._id);
        if (status !== 'CONFIRMED') throw new Error(`order ${order._id} ended ${status}`);
        if (n >= warmup) latencies.push(performance.now() - started);
      }
    };
    // The first orders warm up (JIT, connections); their latencies are not counted, but every
    // order counts towards throughput.
    const warmup = Math.min(100, Math.floor(ORDERS / 10));
    const start = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, () => client(warmup)));
    const seconds = (performance.now() - start) / 1000;
    await notifications.return?.();
    await listening;
    latencies.sort((a, b) => a - b);
    return { mode, ordersPerSecond: (ORDERS + warmup) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    await saga.stop();
    await bus.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [await run('embedded bus', new MemoryBus())];
const brokers = process.env.KAFKA_BROKERS;
if (brokers) {
  results.push(await run('Kafka', await KafkaBus.connect(brokers, { clientId: 'bench-orders', logger, namespace: `bench-${randomUUID().slice(0, 8)}` })));
} else {
  console.log('Kafka: SKIPPED (KAFKA_BROKERS is not set: scripts/servers/start.sh kafka && . scripts/servers/env.sh)');
}
console.log(`order saga, place -> CONFIRMED: ${ORDERS} orders (2 lines each, ${PRODUCTS} products), ${CLIENTS} concurrent customers`);
for (const r of results) console.log(`  ${r.mode.padEnd(13)} ${fmt(r.ordersPerSecond, 0).padStart(6)} orders/s   p50 ${fmt(r.p50, 1)} ms   p99 ${fmt(r.p99, 1)} ms`);
if (results.length === 2) {
  const [embedded, kafka] = results as [Result, Result];
  console.log(`  Kafka / embedded: throughput ${fmt(kafka.ordersPerSecond / embedded.ordersPerSecond)}x, p50 ${fmt(kafka.p50 / embedded.p50)}x, p99 ${fmt(kafka.p99 / embedded.p99)}x`);
}
