/**
 * Benchmark (not a test): `npm run bench:infra`, with the real servers running
 * (scripts/servers/start.sh redis kafka ferretdb && . scripts/servers/env.sh).
 * Embedded vs real adapters, in one run:
 *  1. event store append throughput (events/s), one writer and 32 concurrent writers;
 *  2. projection catch-up rate (events/s) of the product catalog into the document store;
 *  3. the catalog query through the gateway (requests/s, p99).
 * EventStoreDB is measured only when EVENTSTORE_URL is set (no server can be installed here).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { MongoClient } from 'mongodb';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import type { EventStore, NewEvent } from '../platform/event-store/event-store.js';
import { EventStoreDBEventStore } from '../platform/event-store/eventstoredb-event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, startSystemProcess } from '../platform/testing/system-process.js';
import { Projector } from '../projections/projector.js';
import { catalogProjection } from '../subgraphs/product/catalog/projection.js';
import { ProductService } from '../subgraphs/product/service.js';

const logger = createLogger('bench', 'silent');
const metrics = () => createMetrics(serviceRegistry('bench', { processMetrics: false }));
const APPENDS = Number(process.env.BENCH_APPENDS ?? 2000);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

const event = (): NewEvent => ({ id: randomUUID(), type: 'BenchHappened', data: { n: 1, text: 'x'.repeat(100) }, metadata: { correlationId: 'bench', causationId: 'bench', actor: 'bench', occurredAt: new Date().toISOString(), schemaVersion: 1 } });

async function appendRate(store: EventStore, writers: number): Promise<number> {
  const perWriter = Math.ceil(APPENDS / writers);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < perWriter; i++) await store.appendToStream(`bench-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
    }),
  );
  return (perWriter * writers) / ((performance.now() - start) / 1000);
}

async function catchUpRate(events: EventStore, documents: DocumentStore): Promise<number> {
  const head = await events.headPosition();
  const projector = new Projector(catalogProjection, { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger });
  const start = performance.now();
  await projector.start();
  await projector.waitFor(head, 600_000);
  const seconds = (performance.now() - start) / 1000;
  await projector.stop();
  return head / seconds;
}

async function queryLoad(url: string) {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ products(first: 20) { edges { node { id name price { amount currency } stock } } } }' }),
    connections: 16,
    duration: SECONDS,
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors and ${result.non2xx} non-2xx responses; the figures would be meaningless`);
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

async function main(): Promise<void> {
  const { MONGODB_URL, REDIS_URL, KAFKA_BROKERS, EVENTSTORE_URL } = process.env;
  if (!MONGODB_URL || !REDIS_URL || !KAFKA_BROKERS) throw new Error('start the real servers and source scripts/servers/env.sh first (MONGODB_URL, REDIS_URL, KAFKA_BROKERS)');
  const dir = mkdtempSync(join(tmpdir(), 'bench-infra-'));
  const mongo = freshMongoUrl(MONGODB_URL);
  try {
    console.log(`\n1. event store appends (${APPENDS} single-event appends to new streams)`);
    const file = await FileEventStore.open(join(dir, 'appends'), { fsync: true });
    console.log(`  embedded file log (fdatasync, group commit): 1 writer ${fmt(await appendRate(file, 1), 0)} events/s, 32 writers ${fmt(await appendRate(file, 32), 0)} events/s`);
    await file.close();
    if (EVENTSTORE_URL) {
      const esdb = await EventStoreDBEventStore.connect(EVENTSTORE_URL);
      console.log(`  EventStoreDB:                                1 writer ${fmt(await appendRate(esdb, 1), 0)} events/s, 32 writers ${fmt(await appendRate(esdb, 32), 0)} events/s`);
      await esdb.close();
    } else {
      console.log('  EventStoreDB: not measured (EVENTSTORE_URL is not set; no EventStoreDB server can be installed on this machine)');
    }

    console.log(`\n2. product catalog catch-up (${PRODUCTS} products x 5 events, from position 0)`);
    const events = await FileEventStore.open(join(dir, 'catalog'), { fsync: false });
    const service = new ProductService({ events, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger, clock: () => new Date() });
    const seller = { userId: randomUUID(), role: 'SELLER' as const };
    for (let i = 0; i < PRODUCTS; i++) {
      const p = await service.create({ sku: `BENCH-${i}`, name: `Product ${i}`, category: `c${i % 10}`, description: null, price: { amount: 100 + i, currency: 'EUR' }, initialStock: 10 }, seller);
      for (let k = 0; k < 4; k++) await service.restock(p._id, 1, seller);
    }
    const embedded = await catchUpRate(events, new MemoryDocumentStore());
    const real = await MongoDocumentStore.connect(mongo.url, logger);
    const ferret = await catchUpRate(events, real);
    await real.close();
    await events.close();
    console.log(`  embedded documents: ${fmt(embedded, 0)} events/s`);
    console.log(`  MongoDB (FerretDB): ${fmt(ferret, 0)} events/s   (ratio real/embedded ${fmt(ferret / embedded)})`);

    console.log(`\n3. catalog query through the gateway (16 connections x ${SECONDS} s, after a warm-up)`);
    const results: Record<string, { rps: number; p99: number; errors: number }> = {};
    for (const [name, env] of [
      ['embedded', { RATE_LIMIT_PER_MINUTE: '1000000000' }],
      ['FerretDB + Redis + Kafka', { RATE_LIMIT_PER_MINUTE: '1000000000', MONGODB_URL: freshMongoUrl(MONGODB_URL).url, REDIS_URL, KAFKA_BROKERS, NAMESPACE: `bench-${randomUUID().slice(0, 8)}` }],
    ] as const) {
      const system = await startSystemProcess(env);
      try {
        await queryLoad(system.gatewayUrl);
        results[name] = await queryLoad(system.gatewayUrl);
      } finally {
        await system.stop();
        if ('MONGODB_URL' in env) {
          const client = await MongoClient.connect(env.MONGODB_URL);
          await client.db().dropDatabase();
          await client.close();
        }
      }
      console.log(`  ${name.padEnd(26)} ${fmt(results[name].rps, 0)} req/s, p99 ${results[name].p99} ms (errors ${results[name].errors})`);
    }
    console.log(`  ratio real/embedded: ${fmt(results['FerretDB + Redis + Kafka']!.rps / results.embedded!.rps)}x`);
  } finally {
    const client = await MongoClient.connect(mongo.url).catch(() => undefined);
    await client?.db().dropDatabase();
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
