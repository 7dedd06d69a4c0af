/**
 * Measurement (not a test): `npx tsx bench/analytics.bench.ts` (embedded documents, and FerretDB
 * or MongoDB too when MONGODB_URL is set; a fresh database, dropped afterwards).
 *
 * What a seller analytics query costs as its range grows, at the worst density: one product (and
 * its seller) with activity in every 15-minute slot of 368 days (35,328 slots in 368 day documents each).
 * For ranges of 7, 30 and 366 days, BENCH_REPEAT (default 10) times each, `Product.analytics`
 * and `salesSummary` in Asia/Kathmandu: p50 and max in ms, and the ratio of the 366-day p50 to
 * the 7-day one (the query reads and sums every slot of the range: it grows with the slots).
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import type { Identity } from '../platform/auth/tokens.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { percentile } from '../platform/testing/system-process.js';
import { SLOT_MS } from '../subgraphs/product/analytics/days.js';
import { ANALYTICS_PRODUCT_DAYS, ANALYTICS_SELLER_DAYS, ANALYTICS_TIME_ZONES, dayKey, type DayDoc, type TimeZoneDoc } from '../subgraphs/product/analytics/read-model.js';
import { AnalyticsService } from '../subgraphs/product/analytics/service.js';
import type { ProductDoc } from '../subgraphs/product/catalog/read-model.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 10);
const RANGES: [string, string][] = [
  ['2026-03-01', '2026-03-07'],
  ['2026-03-01', '2026-03-30'],
  ['2026-01-01', '2027-01-01'],
];
const logger = createLogger('bench', 'silent');

async function fill(documents: DocumentStore, sellerId: string, productId: string): Promise<number> {
  const start = Date.parse('2025-12-31T00:00:00Z');
  const count = 368 * 96;
  const product = new Map<string, DayDoc>();
  const seller = new Map<string, DayDoc>();
  for (let i = 0; i < count; i++) {
    const slot = start + i * SLOT_MS;
    for (const [docs, ownerId, views] of [[product, productId, 3], [seller, sellerId, 0]] as const) {
      const { id, day, index } = dayKey(ownerId, slot);
      const doc = docs.get(id) ?? { _id: id, ownerId, day, slots: {} };
      doc.slots[index] = { views, unitsSold: 1, orders: 1, revenue: { EUR: 1250 } };
      docs.set(id, doc);
    }
  }
  const write = async (name: string, docs: DayDoc[]) => {
    for (let i = 0; i < docs.length; i += 100) await documents.collection<DayDoc>(name).writeManyIfNewer(docs.slice(i, i + 100).map((doc) => ({ id: doc._id, doc, position: 1, stored: null })));
  };
  await write(ANALYTICS_PRODUCT_DAYS, [...product.values()]);
  await write(ANALYTICS_SELLER_DAYS, [...seller.values()]);
  await documents.collection<TimeZoneDoc>(ANALYTICS_TIME_ZONES).upsertIfNewer({ _id: sellerId, timeZone: 'Asia/Kathmandu' }, 1);
  return count;
}

async function measure(label: string, documents: DocumentStore): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'analytics-bench-'));
  const events = await FileEventStore.open(dir, { fsync: false });
  try {
    const sellerId = randomUUID();
    const productId = randomUUID();
    const filled = performance.now();
    const count = await fill(documents, sellerId, productId);
    console.log(`${label}: ${count} slots per product and per seller, written in ${((performance.now() - filled) / 1000).toFixed(1)} s`);
    const metrics = createMetrics(serviceRegistry('bench', { processMetrics: false }));
    const product = { _id: productId, sellerId, price: { amount: 1250, currency: 'EUR' } } as ProductDoc;
    const service = new AnalyticsService({ events, documents, metrics, logger, clock: () => new Date(), newestProductOf: () => Promise.resolve(product) });
    const seller: Identity = { userId: sellerId, role: 'SELLER' };
    const p50s: Record<string, number[]> = { product: [], sales: [] };
    for (const [from, to] of RANGES) {
      for (const [query, run] of [
        ['product', () => service.productAnalytics(product, from, to, seller)],
        ['sales', () => service.salesSummary(sellerId, from, to, seller)],
      ] as const) {
        await run(); // warm
        const ms: number[] = [];
        let units = 0;
        for (let i = 0; i < REPEAT; i++) {
          const t = performance.now();
          units = (await run()).unitsSold;
          ms.push(performance.now() - t);
        }
        ms.sort((a, b) => a - b);
        p50s[query]!.push(percentile(ms, 0.5));
        console.log(`${label}  ${query.padEnd(7)} ${from}..${to}  ${String(units).padStart(6)} units  p50 ${percentile(ms, 0.5).toFixed(1).padStart(7)} ms  max ${ms.at(-1)!.toFixed(1).padStart(7)} ms`);
      }
    }
    for (const [query, p] of Object.entries(p50s)) console.log(`${label}  ${query}: 366-day p50 / 7-day p50 = ${(p.at(-1)! / p[0]!).toFixed(1)}`);
  } finally {
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await measure('embedded', new MemoryDocumentStore());
if (process.env.MONGODB_URL) {
  const { url } = freshMongoUrl(process.env.MONGODB_URL);
  const documents = await MongoDocumentStore.connect(url, logger);
  try {
    await measure('mongodb-wire', documents);
  } finally {
    await documents.close();
    const client = await MongoClient.connect(url);
    await client.db().dropDatabase();
    await client.close();
  }
}
