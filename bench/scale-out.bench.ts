/**
 * Benchmark (not a test): `npm run bench:scale-out`, with the real servers running
 * (scripts/servers/start.sh redis kafka ferretdb && . scripts/servers/env.sh).
 * The order saga, place -> CONFIRMED, through the system run as role processes
 * (`npm start -- --role …`) on FerretDB, Redis, Kafka and one shared file event log, with ONE and
 * then TWO product subgraph processes, in one run; everything else is the same (two gateways,
 * one order, user, recommendation and projector process):
 *   BENCH_CLIENTS customers each place an order (two lines out of BENCH_PRODUCTS products, so
 *   reservations of one product meet) through gateway (customer mod 2) and wait for its CONFIRMED
 *   notification over graphql-ws before placing the next, BENCH_ORDERS orders in all.
 * Prints orders/s, p50/p99 of place -> CONFIRMED, the product processes' append conflicts, and the
 * ratio two / one (BENCH_RUNS, default `1,2`: the product process counts run, in order;
 * BENCH_LOG_LEVEL shows the processes' logs at that level). Every process shares this machine's cores, so the ratio says what a second
 * product process costs or gains here, not on machines of their own.
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import type { Client } from 'graphql-ws';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { startScaledSystem, type RoleProcess } from '../platform/testing/scaled-system.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, percentile } from '../platform/testing/system-process.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 400);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 10);
/** Product process counts to run, in order (e.g. `1,2,2,1` to see the drift of a busy machine). */
const RUNS = (process.env.BENCH_RUNS ?? '1,2').split(',').map(Number);
/** The processes' log level; set, their stderr is shown (prefixed with role and port). */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL;

interface Result {
  productProcesses: number;
  ordersPerSecond: number;
  p50: number;
  p99: number;
  conflicts: number;
}

async function counter(process: RoleProcess, name: string): Promise<number> {
  const text = await (await fetch(`${process.baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function run(productProcesses: number, servers: { MONGODB_URL: string; REDIS_URL: string; KAFKA_BROKERS: string }): Promise<Result> {
  const mongo = freshMongoUrl(servers.MONGODB_URL);
  const system = await startScaledSystem({ ...servers, MONGODB_URL: mongo.url, NAMESPACE: `bench-${randomUUID().slice(0, 8)}`, ...(LOG_LEVEL && { LOG_LEVEL }) }, { products: productProcesses, gateways: 2, forwardStderr: LOG_LEVEL !== undefined });
  const clients: Client[] = [];
  try {
    const gateways = system.gateways.map((g) => `${g.baseUrl}/graphql`);
    const seller = await signUp(gateways[0]!, 'SELLER');
    const products: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      const r = await graphql<{ createProduct: { product: { id: string } } }>(
        gateways[0]!,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
        { input: { sku: `S-${i}-${randomUUID().slice(0, 6)}`, name: `Bench ${i}`, category: 'bench', price: { amount: 100 + i, currency: 'EUR' }, initialStock: 1_000_000 } },
        seller.headers,
      );
      products.push(r.data!.createProduct.product.id);
    }
    const drivers = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const gateway = gateways[c % gateways.length]!;
        const customer = await signUp(gateway, 'CUSTOMER');
        const ws = wsClient(gateway, customer.headers);
        clients.push(ws);
        return async (n: number) => {
          const items = [
            { productId: products[n % PRODUCTS]!, quantity: 1 },
            { productId: products[(n * 7 + 3) % PRODUCTS]!, quantity: 2 },
          ];
          const placed = await graphql<{ placeOrder: { order: { id: string } | null } }>(gateway, 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }', { input: { items } }, customer.headers);
          const id = placed.data?.placeOrder.order?.id;
          if (!id) throw new Error(`placeOrder failed: ${placed.raw}`);
          for await (const event of ws.iterate<{ orderStatusChanged: { status: string } }>({ query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }', variables: { id } })) {
            const status = event.data?.orderStatusChanged.status;
            if (status === 'CONFIRMED') return;
            if (status !== 'PENDING') throw new Error(`order ${id} ended ${status ?? JSON.stringify(event.errors)}`);
          }
          throw new Error(`the subscription of order ${id} ended before it was confirmed`);
        };
      }),
    );
    const conflictsBefore = (await Promise.all(system.products.map((p) => counter(p, 'storefront_eventstore_append_conflicts_total')))).reduce((a, b) => a + b, 0);
    // The first orders warm up (JIT, connections, consumer groups): counted for throughput, not latency.
    const warmup = Math.min(50, Math.floor(ORDERS / 10));
    const latencies: number[] = [];
    let next = 0;
    const start = performance.now();
    await Promise.all(
      drivers.map(async (order) => {
        for (let n = next++; n < ORDERS + warmup; n = next++) {
          const started = performance.now();
          await order(n);
          if (n >= warmup) latencies.push(performance.now() - started);
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const conflicts = (await Promise.all(system.products.map((p) => counter(p, 'storefront_eventstore_append_conflicts_total')))).reduce((a, b) => a + b, 0) - conflictsBefore;
    return { productProcesses, ordersPerSecond: (ORDERS + warmup) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), conflicts };
  } finally {
    for (const ws of clients) await ws.dispose();
    await system.stop();
    const client = await MongoClient.connect(mongo.url);
    await client.db().dropDatabase();
    await client.close();
  }
}

const { MONGODB_URL, REDIS_URL, KAFKA_BROKERS } = process.env;
if (!MONGODB_URL || !REDIS_URL || !KAFKA_BROKERS) {
  console.error('start the real servers and source scripts/servers/env.sh first (MONGODB_URL, REDIS_URL, KAFKA_BROKERS)');
  process.exit(1);
}
const servers = { MONGODB_URL, REDIS_URL, KAFKA_BROKERS };
console.log(`order saga through role processes (2 gateways, shared file event log, fsync on, FerretDB + Redis + Kafka): ${ORDERS} orders (2 lines each over ${PRODUCTS} products), ${CLIENTS} customers`);
const results: Result[] = [];
for (const n of RUNS) {
  const r = await run(n, servers);
  results.push(r);
  console.log(`  ${n} product process${n === 1 ? ' ' : 'es'}  ${fmt(r.ordersPerSecond, 0).padStart(5)} orders/s   p50 ${fmt(r.p50, 1)} ms   p99 ${fmt(r.p99, 1)} ms   append conflicts ${r.conflicts}`);
}
const mean = (n: number, pick: (r: Result) => number) => {
  const of = results.filter((r) => r.productProcesses === n);
  return of.reduce((sum, r) => sum + pick(r), 0) / of.length;
};
if (RUNS.includes(1) && RUNS.includes(2)) {
  console.log(`  two / one: throughput ${fmt(mean(2, (r) => r.ordersPerSecond) / mean(1, (r) => r.ordersPerSecond))}x, p50 ${fmt(mean(2, (r) => r.p50) / mean(1, (r) => r.p50))}x, p99 ${fmt(mean(2, (r) => r.p99) / mean(1, (r) => r.p99))}x (means over the runs of each)`);
}
