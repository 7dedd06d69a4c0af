/**
 * Benchmark (not a test): `npm run bench:orders`. The order saga from `placeOrder` to CONFIRMED,
 * on the embedded bus and, when KAFKA_BROKERS is set, on Kafka, in one run:
 *   CLIENTS customers each place an order and wait for its CONFIRMED status notification (what
 *   an orderStatusChanged subscription sees) before placing the next, ORDERS orders in all.
 * Prints orders/s and the p50/p99 latency of place -> CONFIRMED, and Kafka's ratios to embedded.
 * Both runs use the same embedded event store and read model, so the difference is the bus.
 * Then the same through the gateway, against the whole system in its own process
 * (BENCH_GATEWAY_ORDERS orders): placeOrder over HTTP, orderStatusChanged over graphql-ws.
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
import type { Client } from 'graphql-ws';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { fmt, percentile, startSystemProcess } from '../platform/testing/system-process.js';
import type { Actor } from '../subgraphs/order/decider.js';
import { startSaga } from '../subgraphs/order/saga-harness.js';
import { watchSettlements } from './lib/order-settlement.js';

const logger = createLogger('bench', 'silent');
const ORDERS = Number(process.env.BENCH_ORDERS ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 50);
const GATEWAY_ORDERS = Number(process.env.BENCH_GATEWAY_ORDERS ?? 500);

/** Each client runs `order(n)` (place order n, resolve once CONFIRMED) one after another. */
type OrderClient = (n: number) => Promise<void>;

async function load(orders: number, clients: number, newClient: () => Promise<OrderClient>): Promise<Omit<Result, 'mode'>> {
  const drivers = await Promise.all(Array.from({ length: clients }, newClient));
  // The first orders warm up (JIT, connections); their latencies are not counted, but every
  // order counts towards throughput.
  const warmup = Math.min(100, Math.floor(orders / 10));
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    drivers.map(async (order) => {
      for (let n = next++; n < orders + warmup; n = next++) {
        const started = performance.now();
        await order(n);
        if (n >= warmup) latencies.push(performance.now() - started);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { ordersPerSecond: (orders + warmup) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

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
    const { settled, stop: stopListening } = watchSettlements(saga.pubsub);

    const lines = (n: number) => [
      { productId: products[n % PRODUCTS]!._id, quantity: 1 },
      { productId: products[(n * 7 + 3) % PRODUCTS]!._id, quantity: 2 },
    ];
    const result = await load(ORDERS, CLIENTS, () => {
      const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
      return Promise.resolve(async (n: number) => {
        const order = await saga.orders.place({ items: lines(n) }, customer);
        const status = await settled(order._id);
        if (status !== 'CONFIRMED') throw new Error(`order ${order._id} ended ${status}`);
      });
    });
    await stopListening();
    return { mode, ...result };
  } finally {
    await saga.stop();
    await bus.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same through the whole system in its own process: placeOrder over HTTP through the
 * gateway, then orderStatusChanged over graphql-ws through the gateway until CONFIRMED.
 */
async function throughGateway(mode: string, env: Record<string, string>): Promise<Result> {
  const system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '1000000000', ...env });
  const clients: Client[] = [];
  try {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const products: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      const r = await graphql<{ createProduct: { product: { id: string } } }>(
        system.gatewayUrl,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
        { input: { sku: `G-${i}-${randomUUID().slice(0, 6)}`, name: `Bench ${i}`, category: 'bench', price: { amount: 100 + i, currency: 'EUR' }, initialStock: 1_000_000 } },
        seller.headers,
      );
      products.push(r.data!.createProduct.product.id);
    }
    const result = await load(GATEWAY_ORDERS, CLIENTS, async () => {
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const ws = wsClient(system.gatewayUrl, customer.headers);
      clients.push(ws);
      return async (n: number) => {
        const items = [
          { productId: products[n % PRODUCTS]!, quantity: 1 },
          { productId: products[(n * 7 + 3) % PRODUCTS]!, quantity: 2 },
        ];
        const placed = await graphql<{ placeOrder: { order: { id: string } | null } }>(system.gatewayUrl, 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }', { input: { items } }, customer.headers);
        const id = placed.data?.placeOrder.order?.id;
        if (!id) throw new Error(`placeOrder failed: ${placed.raw}`);
        for await (const event of ws.iterate<{ orderStatusChanged: { status: string } }>({ query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }', variables: { id } })) {
          const status = event.data?.orderStatusChanged.status;
          if (status === 'CONFIRMED') return;
          if (status !== 'PENDING') throw new Error(`order ${id} ended ${status ?? JSON.stringify(event.errors)}`);
        }
        throw new Error(`the subscription of order ${id} ended before it was confirmed`);
      };
    });
    return { mode, ...result };
  } finally {
    for (const ws of clients) await ws.dispose();
    await system.stop();
  }
}

const brokers = process.env.KAFKA_BROKERS;
const kafkaSkipped = 'Kafka: SKIPPED (KAFKA_BROKERS is not set: scripts/servers/start.sh kafka && . scripts/servers/env.sh)';
const inProcess: Result[] = [await run('embedded bus', new MemoryBus())];
if (brokers) inProcess.push(await run('Kafka', await KafkaBus.connect(brokers, { clientId: 'bench-orders', logger, namespace: `bench-${randomUUID().slice(0, 8)}` })));
const gateway: Result[] = [await throughGateway('embedded bus', {})];
if (brokers) gateway.push(await throughGateway('Kafka', { KAFKA_BROKERS: brokers, NAMESPACE: `bench-${randomUUID().slice(0, 8)}` }));

function report(title: string, results: Result[]): void {
  console.log(title);
  for (const r of results) console.log(`  ${r.mode.padEnd(13)} ${fmt(r.ordersPerSecond, 0).padStart(6)} orders/s   p50 ${fmt(r.p50, 1)} ms   p99 ${fmt(r.p99, 1)} ms`);
  const [embedded, kafka] = results;
  if (embedded && kafka) {
    console.log(`  Kafka / embedded: throughput ${fmt(kafka.ordersPerSecond / embedded.ordersPerSecond)}x, p50 ${fmt(kafka.p50 / embedded.p50)}x, p99 ${fmt(kafka.p99 / embedded.p99)}x`);
  } else {
    console.log(`  ${kafkaSkipped}`);
  }
}
report(`order saga in one process, place -> CONFIRMED: ${ORDERS} orders (2 lines each, ${PRODUCTS} products), ${CLIENTS} concurrent customers`, inProcess);
report(`through the gateway (the system in its own process, event store fsync on), placeOrder over HTTP -> CONFIRMED over graphql-ws: ${GATEWAY_ORDERS} orders, ${CLIENTS} customers`, gateway);
