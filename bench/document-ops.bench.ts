/**
 * Measurement (not a test): `npm run bench:document-ops -- <label>=<mongodb url> ...`
 * (default: `MONGODB_URL`). What each operation the projections issue costs on a MongoDB-wire
 * server as the collection grows, with the driver's own command timings (`monitorCommands`) and,
 * when `<label>=<url>@<debug url>` names FerretDB's debug listener (`--debug-addr`), the
 * CPU time FerretDB itself spent per operation (`/debug/metrics`, process_cpu_seconds_total;
 * FerretDB v1.24 exports request counters but no per-command durations).
 *
 * For each size in BENCH_SIZES (default 1000,10000,50000) the collection is filled with
 * order-like documents (about 700 bytes each), then, each REPEAT times:
 *   get         find {_id}                                     (BatchTarget's read of a document)
 *   get-in-100  find {_id: {$in: 100 ids}}                     (getMany; writeManyIfNewer's position read)
 *   guarded     replaceOne {_id, _position: {$lt}}             (upsertIfNewer)
 *   by-id       replaceOne {_id}                               (a write filtered on _id alone)
 *   bulk-16     bulkWrite of 16 guarded replaceOne: one update command (a writeManyIfNewer chunk)
 *   insert-100  insertMany of 100 new documents: one insert command
 *   sorted-page find {customerId} sort {createdAt: -1} limit 20 (me.orders)
 * Figures per operation (a bulk or insertMany is one operation). Not 100 replaces in one bulk:
 * FerretDB v1.24 on PostgreSQL deadlocks on an update command of 50 statements or more.
 * BENCH_REPEAT (default 20) times each, fewer for what reads the whole collection.
 */
import { randomUUID } from 'node:crypto';
import { MongoClient, type CommandSucceededEvent } from 'mongodb';
import { fmt, percentile } from '../platform/testing/system-process.js';
import { diffSnapshots, ferretSnapshot, type FerretSnapshot } from './lib/ferretdb-metrics.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,50000').split(',').map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 20);

interface Target {
  label: string;
  url: string;
  debugUrl: string | undefined;
}

function targets(): Target[] {
  const args = process.argv.slice(2);
  if (args.length === 0) {
    if (!process.env.MONGODB_URL) throw new Error('pass <label>=<mongodb url>[@<debug url>] arguments, or set MONGODB_URL');
    return [{ label: 'MONGODB_URL', url: process.env.MONGODB_URL, debugUrl: process.env.FERRETDB_DEBUG_URL }];
  }
  return args.map((arg) => {
    const [label, rest] = arg.split(/=(.*)/s) as [string, string];
    const at = rest.lastIndexOf('@http');
    return at < 0 ? { label, url: rest, debugUrl: undefined } : { label, url: rest.slice(0, at), debugUrl: rest.slice(at + 1) };
  });
}

const orderDoc = (i: number, position: number) => ({
  _id: `order-${String(i).padStart(8, '0')}`,
  orderId: `order-${String(i).padStart(8, '0')}`,
  customerId: `customer-${i % 500}`,
  items: [
    { productId: randomUUID(), quantity: 1, unitPrice: { amount: 1299, currency: 'EUR' }, sellerId: randomUUID() },
    { productId: randomUUID(), quantity: 2, unitPrice: { amount: 599, currency: 'EUR' }, sellerId: randomUUID() },
  ],
  total: { amount: 2497, currency: 'EUR' },
  status: 'CONFIRMED',
  statusReason: null,
  idempotencyKey: null,
  chargeId: null,
  paymentKey: null,
  createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  updatedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  version: 3,
  _position: position,
});

async function main(): Promise<void> {
  for (const target of targets()) {
    const samples = new Map<string, number[]>();
    let current = '';
    const client = new MongoClient(target.url, { monitorCommands: true, retryWrites: false });
    client.on('commandSucceeded', (e: CommandSucceededEvent) => {
      if (current) samples.get(current)?.push(e.duration);
    });
    await client.connect();
    const db = client.db(`bench_ops_${randomUUID().slice(0, 8)}`);
    console.log(`\n${target.label} (${target.url})`);
    console.log('  size    operation            client p50 ms   p99 ms   FerretDB CPU ms/op');
    try {
      const c = db.collection<ReturnType<typeof orderDoc>>('orders');
      await c.createIndex({ customerId: 1, createdAt: -1 });
      let size = 0;
      let position = 1;
      for (const goal of SIZES) {
        while (size < goal) {
          const n = Math.min(1000, goal - size);
          await c.insertMany(Array.from({ length: n }, (_, k) => orderDoc(size + k, position++)));
          size += n;
        }
        const pick = () => orderDoc(Math.floor(Math.random() * size), position++);
        const ops: [string, () => Promise<unknown>][] = [
          ['get', () => c.findOne({ _id: pick()._id })],
          ['get-in-100', () => c.find({ _id: { $in: Array.from({ length: 100 }, () => pick()._id) } }).toArray()],
          ['guarded', () => { const d = pick(); return c.replaceOne({ _id: d._id, _position: { $lt: d._position } }, d); }],
          ['by-id', () => { const d = pick(); return c.replaceOne({ _id: d._id }, d); }],
          ['bulk-16', () => c.bulkWrite(Array.from({ length: 16 }, () => { const d = pick(); return { replaceOne: { filter: { _id: d._id, _position: { $lt: d._position } }, replacement: d } }; }), { ordered: true })],
          ['insert-100', () => c.insertMany(Array.from({ length: 100 }, () => ({ ...pick(), _id: `extra-${randomUUID()}` })))],
          ['sorted-page', () => c.find({ customerId: `customer-${Math.floor(Math.random() * 500)}` }).sort({ createdAt: -1 }).limit(20).toArray()],
        ];
        for (const [name, op] of ops) {
          const key = `${goal}:${name}`;
          samples.set(key, []);
          const before: FerretSnapshot | undefined = target.debugUrl ? await ferretSnapshot(target.debugUrl) : undefined;
          // Fewer repeats for what reads the whole collection on FerretDB.
          const repeat = name === 'get-in-100' || (name === 'bulk-16' && goal > 10_000) ? Math.max(2, Math.round(REPEAT / 5)) : REPEAT;
          current = key;
          for (let i = 0; i < repeat; i++) await op();
          current = '';
          const after = target.debugUrl ? await ferretSnapshot(target.debugUrl) : undefined;
          const server = before && after ? fmt((diffSnapshots(after, before).cpuSeconds * 1000) / repeat, 1).padStart(10) : '';
          const s = samples.get(key)!.sort((a, b) => a - b);
          console.log(`  ${String(goal).padEnd(7)} ${name.padEnd(20)} ${fmt(percentile(s, 50), 1).padStart(10)} ${fmt(percentile(s, 99), 1).padStart(8)}   ${server}`);
        }
        size = await c.countDocuments();
      }
    } finally {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
