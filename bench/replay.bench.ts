/**
 * Benchmark (not a test): `npm run bench:replay`, with the real document store's URL in
 * MONGODB_URL (`. scripts/servers/env.sh`) for the real-server runs. Rebuilds the product catalog
 * and the orders read models (Projector.rebuild, what `npm run replay` triggers) from logs of
 * BENCH_REPLAY_SIZES events (default 100,000 and 1,000,000), in the same run:
 *
 *   embedded  the embedded event store (FileEventStore) into the embedded document store
 *   real      the embedded event store into the real document store (MONGODB_URL, a fresh database)
 *   streamed  the same log streamed from disk (bench/lib/streamed-log.ts) into the real store: the
 *             projector's own memory, without the embedded event store's in-memory index of the log
 *
 * Each run is a child process, so its peak RSS (VmHWM) is its own; it prints events/s (log
 * positions per second, per projection), RSS once the log is open and the peak RSS.
 * The logs are generated once (bench/lib/workload.ts: the services' event types and shapes,
 * appended directly through the event store port in batches of 2,000 appends) and kept under
 * .run/bench/replay/<size>/ for later runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { fmt } from '../platform/testing/system-process.js';
import { Projector } from '../projections/projector.js';
import type { Projection } from '../projections/projection.js';
import { ordersProjection } from '../subgraphs/order/read-model/projection.js';
import { catalogProjection } from '../subgraphs/product/catalog/projection.js';
import { StreamedLog } from './lib/streamed-log.js';
import { appendWorkload } from './lib/workload.js';

const ROOT = join(import.meta.dirname, '..', '.run', 'bench', 'replay');
const SIZES = (process.env.BENCH_REPLAY_SIZES ?? '100000,1000000').split(',').map(Number);
const MODES = (process.env.BENCH_REPLAY_MODES ?? 'embedded,real,streamed').split(',') as Mode[];
const PROJECTIONS: Projection[] = [catalogProjection, ordersProjection];
type Mode = 'embedded' | 'real' | 'streamed';

interface RunResult {
  size: number;
  mode: Mode;
  openSeconds: number;
  rssOpenMB: number;
  peakRssMB: number;
  projections: { name: string; seconds: number; eventsPerSecond: number; applied: number; commands?: number }[];
}

const rssMB = () => process.memoryUsage.rss() / 2 ** 20;
function peakRssMB(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) / 1024 : rssMB();
}

/** Child: write the log of `size` events into `dir`. */
async function generate(size: number, dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  const store = await FileEventStore.open(dir, { fsync: false });
  const started = performance.now();
  const summary = await appendWorkload(store, { events: size, onProgress: (n) => n % 100_000 < 2000 && process.stderr.write(`  generating: ${n} events\r`) });
  await store.close();
  writeFileSync(join(dir, 'complete.json'), JSON.stringify({ ...summary, seconds: (performance.now() - started) / 1000 }));
}

/** Child: rebuild every projection from the log in `dir`, print one JSON line. */
async function rebuild(size: number, mode: Mode, dir: string): Promise<void> {
  const logger = createLogger('bench', 'silent');
  const opened = performance.now();
  const events: EventStore = mode === 'streamed' ? await StreamedLog.open(dir) : await FileEventStore.open(dir, { fsync: false });
  const openSeconds = (performance.now() - opened) / 1000;
  const rssOpenMB = rssMB();
  let commands = 0;
  let documents: DocumentStore;
  let database: string | undefined;
  let url: string | undefined;
  if (mode === 'embedded') {
    documents = new MemoryDocumentStore();
  } else {
    if (!process.env.MONGODB_URL) throw new Error('MONGODB_URL is not set');
    ({ url, database } = freshMongoUrl(process.env.MONGODB_URL));
    documents = await MongoDocumentStore.connect(url, logger, { timeoutMs: 120_000, onCommand: () => commands++ });
  }
  const result: RunResult = { size, mode, openSeconds, rssOpenMB, peakRssMB: 0, projections: [] };
  try {
    for (const projection of PROJECTIONS) {
      const deps = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: createMetrics(serviceRegistry('bench', { processMetrics: false })), logger };
      const projector = new Projector(projection, deps);
      const before = commands;
      const started = performance.now();
      const progress = await projector.rebuild();
      const seconds = (performance.now() - started) / 1000;
      await projector.stop();
      result.projections.push({ name: projection.name, seconds, eventsPerSecond: progress.position / seconds, applied: progress.applied, ...(mode !== 'embedded' && { commands: commands - before }) });
      process.stderr.write(`  ${size} ${mode} ${projection.name}: ${fmt(progress.position / seconds, 0)} events/s\n`);
    }
    result.peakRssMB = peakRssMB();
    console.log(JSON.stringify(result));
  } finally {
    await documents.close();
    await events.close();
    if (url && database) {
      const client = await MongoClient.connect(url);
      await client.db(database).dropDatabase();
      await client.close();
    }
  }
}

function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', import.meta.filename, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (command === '--generate') return generate(Number(args[0]), args[1]!);
  if (command === '--rebuild') return rebuild(Number(args[0]), args[1] as Mode, args[2]!);

  const modes = MODES.filter((m) => m === 'embedded' || process.env.MONGODB_URL);
  if (modes.length < MODES.length) console.log('real and streamed runs: SKIPPED (MONGODB_URL is not set: scripts/servers/start.sh ferretdb && . scripts/servers/env.sh)');
  const results: RunResult[] = [];
  for (const size of SIZES) {
    const dir = join(ROOT, String(size));
    if (!existsSync(join(dir, 'complete.json'))) {
      mkdirSync(dir, { recursive: true });
      console.log(`generating a log of ${size} events in ${dir} ...`);
      await child(['--generate', String(size), dir]);
    }
    const log = JSON.parse(readFileSync(join(dir, 'complete.json'), 'utf8')) as { events: number; orders: number; products: number; seconds: number };
    console.log(`log of ${log.events} events: ${log.orders} orders, ${log.products} products (generated in ${fmt(log.seconds, 1)} s)`);
    for (const mode of modes) {
      const out = await child(['--rebuild', String(size), mode, dir]);
      results.push(JSON.parse(out.trim().split('\n').pop()!) as RunResult);
    }
  }
  console.log(`\nrebuild (Projector.rebuild) of each read model from the whole log; events/s = log positions per second`);
  console.log('  events     mode       open s   RSS open MB   peak RSS MB   ' + PROJECTIONS.map((p) => `${p.name} events/s`.padStart(26)).join(''));
  for (const r of results) {
    const rates = r.projections.map((p) => `${fmt(p.eventsPerSecond, 0)}${p.commands !== undefined ? ` (${fmt(p.commands / (p.applied || 1), 2)} cmd/ev)` : ''}`.padStart(26)).join('');
    console.log(`  ${String(r.size).padEnd(10)} ${r.mode.padEnd(9)} ${fmt(r.openSeconds, 1).padStart(7)} ${fmt(r.rssOpenMB, 0).padStart(13)} ${fmt(r.peakRssMB, 0).padStart(13)}   ${rates}`);
  }
  if (process.env.MONGODB_URL) console.log(`  real store: ${process.env.MONGODB_URL.replace(/\/\/[^@]*@/, '//')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
