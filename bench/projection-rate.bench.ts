/**
 * Measurement (not a test): `npm run bench:projections`, with the real servers' URLs in the
 * environment (`. scripts/servers/env.sh`; MONGODB_URL is required, REDIS_URL and KAFKA_BROKERS
 * are used when set). The projector process's live projections (product catalog, orders, and
 * the integration relay when KAFKA_BROKERS is set) on the real document store, from the embedded
 * event store, as the projector runs them (Projector.start, its batching and checkpoints):
 *
 * 1. catch-up: BENCH_BACKLOG events (default 100,000; bench/lib/workload.ts) are written first,
 *    then the projectors start from nothing. Prints the rate (log events per second until every
 *    projection reached the head), the rate per tenth of the log (does it slow down as the read
 *    models grow?), the driver's commands per event by command name with their mean duration
 *    (the round trips, from `monitorCommands`), resident memory every tenth (does it grow?), and,
 *    when FERRETDB_DEBUG_URL names FerretDB's debug listener (`--debug-addr`), FerretDB's own
 *    figures: its requests by command and its CPU seconds per 1,000 events; with
 *    FERRETDB_PROFILE=<seconds> also its CPU profile (pprof) into .run/bench/, with `go tool
 *    pprof -top` of it when Go is installed.
 * 2. live: while the projectors run, the same workload is appended at BENCH_LIVE_RATE events/s
 *    (default 1,300: 3x the ~430 events/s that `npm run bench:orders` measures through the
 *    gateway on this machine) for BENCH_LIVE_SECONDS (default 60); prints the lag (events and
 *    seconds behind the head, sampled every 250 ms: p50, p99, max) and how long the projections
 *    took to drain once the writes stopped.
 * BENCH_MAX_BATCH and BENCH_CHECKPOINT_MS set the projector's maxBatch and checkpointEveryMs;
 * BENCH_PRODUCTS the catalog's size (default 200). Progress goes to stderr every 10 s.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { MongoClient, type CommandFailedEvent, type CommandSucceededEvent } from 'mongodb';
import type { Bus } from '../platform/bus/bus.js';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import type { Cache } from '../platform/cache/cache.js';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import { RedisCache } from '../platform/cache/redis-cache.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import type { PubSub } from '../platform/pubsub/pubsub.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { RedisPubSub } from '../platform/pubsub/redis-pubsub.js';
import { connectRedis, createRedis } from '../platform/redis/connection.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, percentile } from '../platform/testing/system-process.js';
import { Projector } from '../projections/projector.js';
import { PUBLIC_CONTRACTS, READ_MODELS } from '../projections/registry.js';
import { relayProjection } from '../projections/relay.js';
import { describeRequests, diffSnapshots, ferretSnapshot, profileFerretDB, type FerretSnapshot } from './lib/ferretdb-metrics.js';
import { createWorkload } from './lib/workload.js';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const LIVE_RATE = Number(process.env.BENCH_LIVE_RATE ?? 1300);
const LIVE_SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 60);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 200);
const PROFILE_SECONDS = Number(process.env.FERRETDB_PROFILE ?? 0);
/** Projector options to try (the projector's defaults when unset): events per batch, checkpoint interval. */
const PROJECTOR_OPTIONS = {
  ...(process.env.BENCH_MAX_BATCH && { maxBatch: Number(process.env.BENCH_MAX_BATCH) }),
  ...(process.env.BENCH_CHECKPOINT_MS && { checkpointEveryMs: Number(process.env.BENCH_CHECKPOINT_MS) }),
};
const OUT = join(import.meta.dirname, '..', '.run', 'bench');

const { MONGODB_URL, REDIS_URL, KAFKA_BROKERS, FERRETDB_DEBUG_URL } = process.env;
if (!MONGODB_URL) throw new Error('MONGODB_URL is not set: scripts/servers/start.sh ferretdb && . scripts/servers/env.sh');

const logger = createLogger('bench', 'silent');
const rssMB = () => process.memoryUsage.rss() / 2 ** 20;

interface CommandStats {
  count: number;
  ms: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-projections-'));
  const { url, database } = freshMongoUrl(MONGODB_URL!);
  const namespace = `bench-${randomUUID().slice(0, 8)}`;
  const commands = new Map<string, CommandStats>();
  const onCommand = (e: CommandSucceededEvent | CommandFailedEvent) => {
    const s = commands.get(e.commandName) ?? { count: 0, ms: 0 };
    s.count++;
    s.ms += e.duration;
    commands.set(e.commandName, s);
  };
  const events = await FileEventStore.open(dir, { fsync: false });
  const documents = await MongoDocumentStore.connect(url, logger, { timeoutMs: 60_000, onCommand });
  const closers: (() => Promise<void>)[] = [];
  let cache: Cache = new MemoryCache();
  let pubsub: PubSub = new MemoryPubSub();
  if (REDIS_URL) {
    const client = createRedis(REDIS_URL, logger, 'commands');
    const subscriber = createRedis(REDIS_URL, logger, 'subscriber');
    await connectRedis(client, REDIS_URL, 'redis');
    await connectRedis(subscriber, REDIS_URL, 'redis');
    closers.push(() => Promise.resolve(void (client.disconnect(), subscriber.disconnect())));
    cache = new RedisCache(client, namespace);
    pubsub = new RedisPubSub(client, subscriber, namespace, logger);
  }
  let bus: Bus | undefined;
  if (KAFKA_BROKERS) {
    const kafka = await KafkaBus.connect(KAFKA_BROKERS, { clientId: namespace, namespace, logger });
    closers.push(() => kafka.close());
    bus = kafka;
  }
  const projections = [...READ_MODELS, ...(bus ? [relayProjection(bus, PUBLIC_CONTRACTS)] : [])];
  console.log(`projections: ${projections.map((p) => p.name).join(', ')}; documents ${MONGODB_URL}; cache and pub/sub ${REDIS_URL ? `Redis ${REDIS_URL}` : 'embedded'}; bus ${KAFKA_BROKERS ? `Kafka ${KAFKA_BROKERS}` : 'none (no relay)'}`);
  const projectors = projections.map((p) => new Projector(p, { events, documents, cache, pubsub, metrics: createMetrics(serviceRegistry('bench', { processMetrics: false })), logger }, PROJECTOR_OPTIONS));
  if (Object.keys(PROJECTOR_OPTIONS).length > 0) console.log(`projector options: ${JSON.stringify(PROJECTOR_OPTIONS)}`);
  const behind = () => Math.min(...projectors.map((p) => p.currentPosition));
  try {
    // 1. catch-up from a backlog
    const workload = createWorkload({ products: PRODUCTS });
    await workload.append(events, BACKLOG);
    const head = await events.headPosition();
    console.log(`\n1. catch-up from a backlog of ${head} events (${workload.orders} orders, ${workload.products} products)`);
    commands.clear();
    const ferretBefore: FerretSnapshot | undefined = FERRETDB_DEBUG_URL ? await ferretSnapshot(FERRETDB_DEBUG_URL) : undefined;
    const rssStart = rssMB();
    const cpuStart = process.cpuUsage();
    const tenths: { at: number; seconds: number; rss: number }[] = [];
    const started = performance.now();
    let profile: Promise<Buffer> | undefined;
    let lastProgress = { at: performance.now(), position: 0 };
    const progress = setInterval(() => {
      const position = behind();
      const now = performance.now();
      process.stderr.write(`  ${fmt((now - started) / 1000, 0)} s: ${position}/${head} (${fmt(((position - lastProgress.position) * 1000) / (now - lastProgress.at), 0)} events/s in the last 10 s)\n`);
      lastProgress = { at: now, position };
    }, 10_000);
    const sampler = setInterval(() => {
      const position = behind();
      const tenth = Math.floor((position / head) * 10);
      while (tenths.length < tenth) tenths.push({ at: Math.round((head * (tenths.length + 1)) / 10), seconds: (performance.now() - started) / 1000, rss: rssMB() });
      if (PROFILE_SECONDS > 0 && !profile && position > head / 2 && FERRETDB_DEBUG_URL) profile = profileFerretDB(FERRETDB_DEBUG_URL, PROFILE_SECONDS);
    }, 50);
    for (const p of projectors) await p.start();
    await Promise.all(projectors.map((p) => p.waitFor(head, 3_600_000)));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    clearInterval(progress);
    while (tenths.length < 10) tenths.push({ at: Math.round((head * (tenths.length + 1)) / 10), seconds, rss: rssMB() });
    const ferretAfter = FERRETDB_DEBUG_URL ? await ferretSnapshot(FERRETDB_DEBUG_URL) : undefined;
    const cpu = process.cpuUsage(cpuStart);
    console.log(`  all projections at the head after ${fmt(seconds, 1)} s: ${fmt(head / seconds, 0)} events/s (RSS ${fmt(rssStart, 0)} MB at the start; this process used ${fmt((cpu.user + cpu.system) / 1e6, 1)} CPU s)`);
    console.log('  per tenth of the log: ' + tenths.map((t, i) => `${fmt((head / 10) / (t.seconds - (i === 0 ? 0 : tenths[i - 1]!.seconds)), 0)}/s ${fmt(t.rss, 0)}MB`).join(', '));
    const total = [...commands.values()].reduce((s, c) => s + c.count, 0);
    console.log(`  driver commands: ${fmt(total / head, 3)} per event (${total} in all): ` + [...commands].sort((a, b) => b[1].count - a[1].count).map(([name, c]) => `${name} ${fmt(c.count / head, 3)}/event, ${fmt(c.ms / c.count, 2)} ms`).join('; '));
    if (ferretBefore && ferretAfter) {
      const d = diffSnapshots(ferretAfter, ferretBefore);
      console.log(`  FerretDB: ${fmt((d.cpuSeconds / head) * 1000, 2)} CPU s per 1,000 events (${fmt(d.cpuSeconds, 1)} s in ${fmt(seconds, 1)} s); requests: ${describeRequests(d.requests)}; backend pool waits ${d.poolWaits} (${fmt(d.poolWaitSeconds, 1)} s)`);
    }
    if (profile) {
      mkdirSync(OUT, { recursive: true });
      const file = join(OUT, `ferretdb-cpu-${Date.now()}.pprof`);
      writeFileSync(file, await profile);
      console.log(`  FerretDB CPU profile (${PROFILE_SECONDS} s, halfway): ${file}`);
      try {
        console.log(execFileSync('go', ['tool', 'pprof', '-top', '-nodecount=20', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').slice(4).map((l) => `    ${l}`).join('\n'));
      } catch {
        console.log('  (go tool pprof is not available to print it)');
      }
    }

    // 2. live writes at a fixed rate
    if (LIVE_SECONDS > 0) {
      console.log(`\n2. live: ${LIVE_RATE} events/s appended for ${LIVE_SECONDS} s while the projections run`);
      const lags: { events: number; seconds: number }[] = [];
      const oldest = new Map<number, number>(); // position -> when it was appended
      let stopWriting = false;
      const writer = (async () => {
        const tick = 100;
        const start = performance.now();
        let sent = 0;
        while (!stopWriting) {
          const due = Math.floor(((performance.now() - start) / 1000) * LIVE_RATE);
          if (due > sent) {
            sent += await workload.append(events, due - sent);
            oldest.set(await events.headPosition(), performance.now());
          }
          await new Promise((r) => setTimeout(r, tick));
        }
        return sent;
      })();
      const sampler = setInterval(() => {
        void events.headPosition().then((h) => {
          const position = behind();
          let since = performance.now();
          for (const [p, at] of oldest) {
            if (p <= position) oldest.delete(p);
            else since = Math.min(since, at);
          }
          lags.push({ events: h - position, seconds: (performance.now() - since) / 1000 });
        });
      }, 250);
      const liveStart = performance.now();
      await new Promise((r) => setTimeout(r, LIVE_SECONDS * 1000));
      stopWriting = true;
      const sent = await writer;
      const liveSeconds = (performance.now() - liveStart) / 1000;
      const end = await events.headPosition();
      const drainStart = performance.now();
      await Promise.all(projectors.map((p) => p.waitFor(end, 600_000)));
      clearInterval(sampler);
      const drain = (performance.now() - drainStart) / 1000;
      const byEvents = lags.map((l) => l.events).sort((a, b) => a - b);
      const bySeconds = lags.map((l) => l.seconds).sort((a, b) => a - b);
      console.log(`  written: ${sent} events in ${fmt(liveSeconds, 1)} s (${fmt(sent / liveSeconds, 0)} events/s); RSS ${fmt(rssMB(), 0)} MB`);
      console.log(`  lag behind the head: p50 ${percentile(byEvents, 50)} events / ${fmt(percentile(bySeconds, 50), 2)} s, p99 ${percentile(byEvents, 99)} events / ${fmt(percentile(bySeconds, 99), 2)} s, max ${byEvents[byEvents.length - 1] ?? 0} events / ${fmt(bySeconds[bySeconds.length - 1] ?? 0, 2)} s; drained ${fmt(drain, 2)} s after the writes stopped`);
    }
  } finally {
    for (const p of projectors) await p.stop().catch(() => undefined);
    await documents.close();
    await events.close();
    for (const close of closers) await close().catch(() => undefined);
    const client = await MongoClient.connect(url);
    await client.db(database).dropDatabase();
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
