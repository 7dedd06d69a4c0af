/**
 * Benchmark (not a test): `npm run bench:subscriptions`. Holds BENCH_SUBSCRIBERS (default 10,000)
 * graphql-ws subscribers of `stockChanged` (one WebSocket each, spread over BENCH_WORKERS child
 * processes, default 8) on one gateway, and measures for each restock (BENCH_EVENTS, default 5)
 * the delivery latency from the mutation's return to each subscriber's receipt, p50/p99 across
 * all subscribers and events (a receipt before the mutation's answer arrived counts as 0; the
 * latency from the mutation being sent is given too); how many subscribers got every event; the gateway's RSS (now and
 * peak) and its upstream subscription count. The same subscribers against the product subgraph
 * directly, in the same run, are the baseline. Runs over the embedded system and, when REDIS_URL
 * is set (`. scripts/servers/env.sh`), over Redis (the system's pub/sub and the gateway's rate
 * limiter on Redis, under a namespace of its own).
 * The system (`npm start`'s launcher, its own gateway unused) and the measured gateway
 * (`gateway/index.ts`) run in their own processes; the gateway with SUBSCRIPTIONS_PER_IDENTITY
 * and RATE_LIMIT_PER_MINUTE raised, as every client here comes from one address.
 * Targets: every subscriber receives every event; p99 <= 500 ms; gateway RSS <= 600 MB; at most a
 * handful of upstream subscriptions. BENCH_BASELINE=off leaves the baseline out (A/B runs of the
 * gateway's settings, with BENCH_GATEWAY_NODE_ARGS, e.g. `--cpu-prof`). Writes .run/bench/subscriptions.json and .md.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { stopChild } from '../platform/testing/child-process.js';
import { cpuMs, fmt, freePort, percentile, startSystemProcess, type SystemProcess } from '../platform/testing/system-process.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 10_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5);
const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, '.run', 'bench');
/**
 * The gateway's heap settings for holding 10,000 subscribers, as README "Sizing a gateway for
 * subscriptions" recommends (BENCH_GATEWAY_NODE_ARGS adds to them; a later flag wins): more old
 * space than the request-path gateway's 192 MB, and a 64 MB semi-space, with which a fan-out to
 * 10,000 sockets takes about a third less CPU (fewer scavenges of each send's short-lived objects).
 */
const SUBSCRIPTION_GATEWAY_NODE_ARGS = ['--max-old-space-size=512', '--max-semi-space-size=64'];
const RESTOCK = 'mutation Restock($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } } }';

interface Row {
  setup: string;
  target: 'gateway' | 'subgraph';
  subscribers: number;
  allReceivedEvery: boolean;
  missing: number;
  p50: number;
  p99: number;
  max: number;
  /** From the mutation being sent (its answer may arrive after the event). */
  sentP50: number;
  sentP99: number;
  gatewayRssMb?: number;
  gatewayPeakRssMb?: number;
  /** The gateway process's CPU time (user + system) per event, from its first measured restock to the last receipt: less sensitive to a loaded machine than latency. */
  gatewayCpuMsPerEvent?: number;
  upstreams?: number;
  connectSeconds: number;
}

const memory = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
};

type WorkerMessage = { type: 'ready'; connected: number } | { type: 'live'; live: number; failures: string[]; failureCount: number } | { type: 'received'; stock: number; times: number[]; missing: number };

class Workers {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(url: string, productId: string, total: number, workers: number): Promise<Workers> {
    const children: ChildProcess[] = [];
    const per = Math.ceil(total / workers);
    for (let i = 0; i < workers; i++) {
      const count = Math.min(per, total - i * per);
      if (count <= 0) break;
      children.push(fork(join(ROOT, 'bench', 'lib', 'subscriber-worker.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, URL: url, SUBSCRIBERS: String(count), PRODUCT_ID: productId }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    }
    const set = new Workers(children);
    await Promise.all(children.map((c) => set.reply(c, 'ready', undefined, 300_000)));
    return set;
  }

  private reply<T extends WorkerMessage['type']>(child: ChildProcess, type: T, send: object | undefined, timeoutMs = 60_000): Promise<Extract<WorkerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`a subscriber worker did not answer ${type} in ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`a subscriber worker exited (${code})`));
      const onMessage = (message: WorkerMessage) => {
        if (message.type !== type) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<WorkerMessage, { type: T }>);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (send) child.send(send);
    });
  }

  async live(): Promise<{ live: number; failures: string[]; failureCount: number }> {
    const answers = await Promise.all(this.children.map((c) => this.reply(c, 'live', { type: 'live' })));
    return { live: answers.reduce((n, a) => n + a.live, 0), failures: answers.flatMap((a) => a.failures), failureCount: answers.reduce((n, a) => n + a.failureCount, 0) };
  }

  async received(stock: number): Promise<{ times: number[]; missing: number }> {
    const answers = await Promise.all(this.children.map((c) => this.reply(c, 'received', { type: 'watch', stock })));
    return { times: answers.flatMap((a) => a.times), missing: answers.reduce((n, a) => n + a.missing, 0) };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.send({ type: 'stop' });
          }),
      ),
    );
  }
}

async function startGatewayProcess(system: SystemProcess, env: Record<string, string>): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...SUBSCRIPTION_GATEWAY_NODE_ARGS, ...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', 'gateway/index.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      PRODUCT_SUBGRAPH_URL: system.productUrl,
      ORDER_SUBGRAPH_URL: system.orderUrl,
      USER_SUBGRAPH_URL: system.userUrl,
      RECOMMENDATION_SUBGRAPH_URL: system.recommendationUrl,
      NOTIFICATION_SUBGRAPH_URL: system.notificationUrl,
      RATE_LIMIT_PER_MINUTE: '10000000',
      SUBSCRIPTIONS_PER_IDENTITY: String(SUBSCRIBERS * 2),
      SUBSCRIPTIONS_TOTAL: String(SUBSCRIBERS * 2),
      GATEWAY_RESPONSE_CACHE: 'false',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the gateway exited during start-up');
    try {
      if ((await graphql(url, '{ products(first: 1) { totalCount } }')).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('the gateway did not start within 60 s');
    await sleep(200);
  }
  const stop = async () => void (await stopChild(child));
  return { url, child, stop };
}

async function upstreamCount(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  return [...text.matchAll(/^storefront_subscription_upstreams\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

/** Holds the subscribers on `url`, restocks EVENTS times, and measures. */
async function measure(setup: string, target: Row['target'], url: string, restockUrl: string, seller: Record<string, string>, productId: string, gateway?: { url: string; child: ChildProcess }): Promise<Row> {
  const connectStart = Date.now();
  const workers = await Workers.start(url, productId, SUBSCRIBERS, WORKERS);
  try {
    const restock = async () => {
      const sent = performance.timeOrigin + performance.now();
      const r = await graphql<{ restockProduct: { product: { stock: number } } }>(restockUrl, RESTOCK, { id: productId }, seller);
      const returned = performance.timeOrigin + performance.now();
      const stock = r.data?.restockProduct.product.stock;
      if (stock === undefined) throw new Error(`restock failed: ${r.raw}`);
      return { stock, sent, returned };
    };
    // Subscriptions become active asynchronously: restock until every subscriber has had an event.
    const liveDeadline = Date.now() + 240_000;
    for (;;) {
      await restock();
      await sleep(1000);
      const { live, failures, failureCount } = await workers.live();
      if (live >= SUBSCRIBERS) break;
      if (Date.now() > liveDeadline) throw new Error(`only ${live} of ${SUBSCRIBERS} subscribers became live (${failureCount} failures: ${failures.join('; ')})`);
    }
    const connectSeconds = (Date.now() - connectStart) / 1000;
    const latencies: number[] = [];
    const fromSent: number[] = [];
    let missing = 0;
    const cpuBefore = gateway?.child.pid ? cpuMs(gateway.child.pid) : 0;
    for (let i = 0; i < EVENTS; i++) {
      await sleep(500);
      const { stock, sent, returned } = await restock();
      const deadline = Date.now() + 30_000;
      let result = await workers.received(stock);
      while (result.missing > 0 && Date.now() < deadline) {
        await sleep(250);
        result = await workers.received(stock);
      }
      missing += result.missing;
      // Receipt before the mutation's answer reached its client counts as 0 from its return.
      for (const t of result.times) {
        latencies.push(Math.max(0, t - returned));
        fromSent.push(t - sent);
      }
    }
    const cpuPerEvent = gateway?.child.pid ? (cpuMs(gateway.child.pid) - cpuBefore) / EVENTS : undefined;
    latencies.sort((a, b) => a - b);
    fromSent.sort((a, b) => a - b);
    const row: Row = { setup, target, subscribers: SUBSCRIBERS, allReceivedEvery: missing === 0, missing, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0, sentP50: percentile(fromSent, 50), sentP99: percentile(fromSent, 99), connectSeconds };
    if (gateway?.child.pid) {
      row.gatewayRssMb = memory(gateway.child.pid, 'VmRSS');
      row.gatewayPeakRssMb = memory(gateway.child.pid, 'VmHWM');
      row.upstreams = await upstreamCount(gateway.url);
      row.gatewayCpuMsPerEvent = cpuPerEvent;
    }
    return row;
  } finally {
    await workers.stop();
  }
}

async function setupRun(setup: string, env: Record<string, string>): Promise<Row[]> {
  const secret = randomBytes(32).toString('hex');
  const system = await startSystemProcess({ ...env, JWT_SECRET: secret, RATE_LIMIT_PER_MINUTE: '10000000', GATEWAY_RESPONSE_CACHE: 'false' });
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | undefined;
  try {
    gateway = await startGatewayProcess(system, { ...env, JWT_SECRET: secret });
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const tag = randomUUID().slice(0, 8);
    const created = await graphql<{ createProduct: { product: { id: string } } }>(
      system.gatewayUrl,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
      { input: { sku: `BENCH-SUB-${tag}`, name: `Watched ${tag}`, category: 'home', price: { amount: 100, currency: 'EUR' }, initialStock: 0 } },
      seller.headers,
    );
    const productId = created.data?.createProduct.product.id;
    if (!productId) throw new Error(`could not create the product: ${created.raw}`);
    const rows: Row[] = [];
    // The subgraph first: the gateway's peak RSS is then its own run's.
    if (process.env.BENCH_BASELINE !== 'off') {
      rows.push(await measure(setup, 'subgraph', system.productUrl, system.gatewayUrl, seller.headers, productId));
      console.log(JSON.stringify(rows.at(-1)));
    }
    rows.push(await measure(setup, 'gateway', gateway.url, system.gatewayUrl, seller.headers, productId, gateway));
    console.log(JSON.stringify(rows.at(-1)));
    return rows;
  } finally {
    await gateway?.stop();
    await system.stop();
  }
}

async function main() {
  const rows: Row[] = [];
  rows.push(...(await setupRun('embedded', {})));
  if (process.env.REDIS_URL) rows.push(...(await setupRun('redis', { REDIS_URL: process.env.REDIS_URL, NAMESPACE: `bench-subs-${randomUUID().slice(0, 8)}` })));
  else console.log('REDIS_URL is not set: the Redis run is left out (. scripts/servers/env.sh)');
  const lines = [
    `| setup | target | subscribers | every event to all | p50 ms | p99 ms | max ms | from sent p50 / p99 ms | gateway RSS MB (peak) | gateway CPU ms per event | upstreams | connect s |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|`,
    ...rows.map((r) => `| ${r.setup} | ${r.target} | ${r.subscribers} | ${r.allReceivedEvery ? 'yes' : `no (${r.missing} missed)`} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.max, 1)} | ${fmt(r.sentP50, 1)} / ${fmt(r.sentP99, 1)} | ${r.gatewayRssMb !== undefined ? `${fmt(r.gatewayRssMb, 0)} (${fmt(r.gatewayPeakRssMb ?? 0, 0)})` : '-'} | ${r.gatewayCpuMsPerEvent !== undefined ? fmt(r.gatewayCpuMsPerEvent, 0) : '-'} | ${r.upstreams ?? '-'} | ${fmt(r.connectSeconds, 1)} |`),
  ];
  for (const r of rows.filter((x) => x.target === 'gateway')) {
    const base = rows.find((x) => x.setup === r.setup && x.target === 'subgraph');
    lines.push('', `${r.setup}: every event to all ${r.allReceivedEvery ? 'MET' : 'MISSED'}; p99 ${fmt(r.p99, 1)} ms ${r.p99 <= 500 ? 'MET' : 'MISSED'} (<= 500; subgraph directly ${fmt(base?.p99 ?? NaN, 1)}); gateway RSS ${fmt(r.gatewayPeakRssMb ?? NaN, 0)} MB peak ${(r.gatewayPeakRssMb ?? Infinity) <= 600 ? 'MET' : 'MISSED'} (<= 600); ${r.upstreams} upstream subscription(s) ${(r.upstreams ?? Infinity) <= 5 ? 'MET' : 'MISSED'}`);
  }
  console.log(lines.join('\n'));
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'subscriptions.json'), JSON.stringify(rows, null, 2));
  writeFileSync(join(OUT, 'subscriptions.md'), lines.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
