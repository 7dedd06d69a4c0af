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
 * The embedded event store indexes its whole log in memory, so its RSS grows with the log
 * whatever writes to it; the import's own memory is what stays flat (compare the peak over
 * the RSS at open between the sizes, and the second run, which opens the full log).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

const SIZES = (process.env.BENCH_IMPORT_SIZES ?? '10000,100000').split(',').map(Number);
const TARGET_ROWS_PER_SECOND = 5000;
const MB = 2 ** 20;

interface Summary {
  rows: number;
  created: number;
  unchanged: number;
  rejected: number;
  seconds: number;
  rowsPerSecond: number;
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
  const events = await FileEventStore.open(join(dir, 'events'), { fsync: false, writerLock: true });
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
      console.log(`\n${size} rows (embedded file event store, fsync on, ${dir})`);
      const first = await runCli(dir, csv, seller);
      if (first.created !== size || first.rejected !== 0) throw new Error(`first run: expected ${size} created, got ${JSON.stringify(first)}`);
      const again = await runCli(dir, csv, seller);
      if (again.created !== 0 || again.unchanged !== size) throw new Error(`re-run: expected 0 created and ${size} unchanged, got ${JSON.stringify(again)}`);
      const projected = await projectedProducts(dir);
      if (projected.products !== size) throw new Error(`the catalog read model holds ${projected.products} products, expected ${size}`);
      const line = [
        `${String(size).padStart(7)} rows`,
        `import ${first.rowsPerSecond} rows/s (${fmt(first.rowsPerSecond / TARGET_ROWS_PER_SECOND)}x the ${TARGET_ROWS_PER_SECOND} rows/s target) in ${fmt(first.seconds, 1)} s`,
        `RSS at open ${fmt(first.rssAtOpenBytes / MB, 0)} MB, peak ${fmt(first.peakRssBytes / MB, 0)} MB`,
        `re-run: ${again.created} created, ${again.unchanged} unchanged, ${again.rowsPerSecond} rows/s, RSS at open ${fmt(again.rssAtOpenBytes / MB, 0)} MB, peak ${fmt(again.peakRssBytes / MB, 0)} MB`,
        `catalog read model: ${projected.products} products (projected in ${fmt(projected.seconds, 1)} s)`,
      ].join('\n    ');
      console.log(`  ${line}`);
      results.push(line);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\nbench:import summary\n${results.map((r) => `  ${r}`).join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
