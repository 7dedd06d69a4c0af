/**
 * Benchmark (not a test): `npm run bench:import`. The bulk import CLI (`npm run import`) on the
 * embedded defaults: a fresh DATA_DIR, the file event store with fsync on, for CSVs of
 * BENCH_IMPORT_SIZES rows (default 10,000 and 100,000). For each size it
 *   1. writes the CSV (streamed; quoted descriptions with commas and quotes, a few prices in
 *      JPY) and registers a seller account in the event store;
 *   2. runs the CLI as its own process (so its peak RSS is its own), prints rows/s, the ratio
 *      to the target of 5,000 rows/s, RSS once the store is open and the peak RSS;
 *   3. runs it again on the same file: nothing may be created;
 *   4. projects the log into the catalog read model (embedded document store), which must
 *      hold every imported product.
 *   5. runs the import core alone (its own process, V8 old space capped at 48 MB) over the same
 *      file into an event store that keeps nothing (appends acknowledged, streams empty): the
 *      importer's own memory, which must not grow with the rows (it would run out of memory).
 * The embedded event store indexes its whole log in memory, so the CLI's RSS grows with the log
 * whatever writes to it; the importer's own memory (step 5) is what must stay flat.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { handleCommand } from '../platform/eventsourcing/command-handler.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { fmt } from '../platform/testing/system-process.js';
import { Projector } from '../projections/projector.js';
import { catalogProjection } from '../subgraphs/product/catalog/projection.js';
import { CATALOG } from '../subgraphs/product/catalog/read-model.js';
import { emailDecider, emailStream, userDecider } from '../subgraphs/user/decider.js';
import { userStream } from '../subgraphs/user/events.js';
import type { AllSubscription, EventStore } from '../platform/event-store/event-store.js';
import { importProducts } from '../subgraphs/product/import/import.js';

const SIZES = (process.env.BENCH_IMPORT_SIZES ?? '10000,100000').split(',').map(Number);
const TARGET_ROWS_PER_SECOND = 5000;
const MB = 2 ** 20;
/** The importer-alone run's V8 old space: it would fail with out-of-memory if it held on to rows. */
const CORE_OLD_SPACE_MB = 48;

interface Summary {
  rows: number;
  created: number;
  unchanged: number;
  rejected: number;
  seconds: number;
  rowsPerSecond: number;
  /** CPU time (user + system) of the import: rows per CPU second do not depend on what else the machine runs. */
  cpuSeconds: number;
  rssAtOpenBytes: number;
  peakRssBytes: number;
}

async function writeCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('sku,name,description,category,price,currency,stock\r\n');
  const categories = ['kitchen', 'apparel', 'books', 'home', 'electronics'];
  for (let i = 0; i < rows; i++) {
    const yen = i % 50 === 0;
    await write(`BENCH-${String(i).padStart(7, '0')},Bench product ${i},"Sturdy, ""reliable"" item number ${i}",${categories[i % 5]},${yen ? 1500 + i : `${(i % 500) + 1}.${String(i % 100).padStart(2, '0')}`},${yen ? 'JPY' : 'EUR'},${i % 250}\r\n`);
  }
  out.end();
  await once(out, 'finish');
}

async function registerSeller(dir: string): Promise<string> {
  const events = await FileEventStore.open(join(dir, 'events'), { fsync: false });
  const userId = randomUUID();
  const email = `bench-seller-${userId.slice(0, 8)}@example.test`;
  const now = new Date();
  const context = { actor: 'system:bench', correlationId: userId, now };
  await handleCommand(events, emailDecider, emailStream(email), { type: 'ClaimEmail', userId, at: now.toISOString() }, context);
  await handleCommand(events, userDecider, userStream(userId), { type: 'RegisterUser', userId, email, name: 'Bench Seller', role: 'SELLER', passwordHash: 'not-for-login', at: now.toISOString() }, context);
  await events.close();
  return email;
}

async function runCli(dataDir: string, csv: string, seller: string): Promise<Summary> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'launcher/import-products.ts', csv, '--seller', seller, '--json'], {
    env: { ...process.env, DATA_DIR: dataDir, EVENTSTORE_URL: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`import exited with ${code}: ${stdout}`);
  return JSON.parse(stdout) as Summary;
}

/** An event store that acknowledges every append and keeps nothing: the importer's memory alone. */
function discardingStore(): EventStore {
  let position = 0;
  const nothing: AllSubscription = { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }), close: () => Promise.resolve() };
  return {
    appendToStream: (_stream, events) => new Promise((resolve) => setImmediate(() => resolve({ nextRevision: events.length - 1, position: (position += events.length) }))),
    readStream: () => Promise.resolve([]),
    readLastEvent: () => Promise.resolve(undefined),
    subscribeToAll: () => nothing,
    headPosition: () => Promise.resolve(position),
    close: () => Promise.resolve(),
  };
}

/** Child (BENCH_IMPORT_CORE=<csv>): the import core over the file into the discarding store; one JSON line. */
async function coreOnly(csv: string): Promise<void> {
  const rssAtOpenBytes = process.memoryUsage.rss();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const counts = await importProducts(discardingStore(), createReadStream(csv, { highWaterMark: 256 * 1024 }), { seller: { userId: randomUUID(), role: 'SELLER' }, clock: () => new Date(), correlationId: randomUUID() });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(JSON.stringify({ ...counts, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, rowsPerSecond: Math.round(counts.rows / seconds), rssAtOpenBytes, peakRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
}

async function runCoreOnly(csv: string): Promise<Summary> {
  const child = spawn(process.execPath, [`--max-old-space-size=${CORE_OLD_SPACE_MB}`, '--import', 'tsx', 'bench/import.bench.ts'], { env: { ...process.env, BENCH_IMPORT_CORE: csv }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`core-only import exited with ${code}: ${stdout}`);
  return JSON.parse(stdout) as Summary;
}

async function projectedProducts(dataDir: string): Promise<{ products: number; seconds: number }> {
  const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
  const documents = new MemoryDocumentStore();
  const projector = new Projector(catalogProjection, {
    events,
    documents,
    cache: new MemoryCache(),
    pubsub: new MemoryPubSub(),
    metrics: createMetrics(serviceRegistry('bench', { processMetrics: false })),
    logger: createLogger('bench', 'silent'),
  });
  const started = performance.now();
  await projector.start();
  try {
    await projector.waitFor(await events.headPosition(), 600_000);
    const seconds = (performance.now() - started) / 1000;
    return { products: await documents.collection(CATALOG).count({}), seconds };
  } finally {
    await projector.stop();
    await events.close();
  }
}

async function main(): Promise<void> {
  const results: string[] = [];
  for (const size of SIZES) {
    const dir = mkdtempSync(join(tmpdir(), 'storefront-import-bench-'));
    try {
      const csv = join(dir, 'products.csv');
      await writeCsv(csv, size);
      const seller = await registerSeller(dir);
      console.log(`\n${size} rows (embedded file event store, fsync on, ${dir}; load average ${loadavg().map((l) => fmt(l, 1)).join(' ')} on ${availableParallelism()} CPUs)`);
      const first = await runCli(dir, csv, seller);
      if (first.created !== size || first.rejected !== 0) throw new Error(`first run: expected ${size} created, got ${JSON.stringify(first)}`);
      const again = await runCli(dir, csv, seller);
      if (again.created !== 0 || again.unchanged !== size) throw new Error(`re-run: expected 0 created and ${size} unchanged, got ${JSON.stringify(again)}`);
      const projected = await projectedProducts(dir);
      const core = await runCoreOnly(csv);
      if (projected.products !== size) throw new Error(`the catalog read model holds ${projected.products} products, expected ${size}`);
      const line = [
        `${size} rows:`,
        `import ${first.rowsPerSecond} rows/s (${fmt(first.rowsPerSecond / TARGET_ROWS_PER_SECOND)}x the ${TARGET_ROWS_PER_SECOND} rows/s target) in ${fmt(first.seconds, 1)} s; ${Math.round(first.rows / first.cpuSeconds)} rows per CPU second (${fmt(first.cpuSeconds, 1)} s CPU)`,
        `RSS at open ${fmt(first.rssAtOpenBytes / MB, 0)} MB, peak ${fmt(first.peakRssBytes / MB, 0)} MB`,
        `re-run: ${again.created} created, ${again.unchanged} unchanged, ${again.rowsPerSecond} rows/s, RSS at open ${fmt(again.rssAtOpenBytes / MB, 0)} MB, peak ${fmt(again.peakRssBytes / MB, 0)} MB`,
        `catalog read model: ${projected.products} products (projected in ${fmt(projected.seconds, 1)} s)`,
        `importer alone (a store that keeps nothing, old space capped at ${CORE_OLD_SPACE_MB} MB): ${core.rowsPerSecond} rows/s, RSS at start ${fmt(core.rssAtOpenBytes / MB, 0)} MB, peak ${fmt(core.peakRssBytes / MB, 0)} MB`,
      ].join('\n    ');
      console.log(`  ${line}`);
      results.push(line);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nbench:import summary (load average at the end ${loadavg().map((l) => fmt(l, 1)).join(' ')} on ${availableParallelism()} CPUs: rows/s are wall-clock, so they fall when other work shares the CPUs)\n${results.map((r) => `  ${r}`).join('\n')}`);
}

(process.env.BENCH_IMPORT_CORE ? coreOnly(process.env.BENCH_IMPORT_CORE) : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
