/**
 * Measurement (not a test): `npm run bench:soak`. The whole system as `npm start` runs it (one
 * process: gateway, five subgraphs, projector, notification dispatcher), on the real servers when
 * REDIS_URL, KAFKA_BROKERS and MONGODB_URL are set (`. scripts/servers/env.sh`; a database and a
 * namespace of its own), else embedded. For BENCH_SECONDS (default 60) it takes, at once:
 *  - the catalog with sellers through the gateway from BENCH_CONNECTIONS (default 20) autocannon
 *    connections (two subgraphs; the response cache is invalidated by every order's stock change);
 *  - orders: BENCH_ORDER_CLIENTS (default 4) clients each placing an order of one unit, then
 *    waiting 40 ms, in a loop (the saga runs: reservation, confirmation, notifications, analytics,
 *    recommendations, read models).
 * Prints every 10 s the system's RSS and heap, the worst projection lag and the gateway's
 * readiness; then catalog req/s and p50/p99, orders/s, failures, and the CPU seconds each process
 * of the machine used over the run (the system, FerretDB, PostgreSQL, Kafka, Redis): where the
 * two cores went. Writes .run/bench/soak.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { dropTestDatabase, freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, processCpu, startSystemProcess } from '../platform/testing/system-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const ORDER_CLIENTS = Number(process.env.BENCH_ORDER_CLIENTS ?? 4);
const OUT = join(import.meta.dirname, '..', '.run', 'bench');
const CATALOG = '{ products(first: 20) { edges { node { id name price { amount } stock seller { name } } } } }';
const PLACE = 'mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }';

/** CPU seconds (user + system) used so far by every process on the machine, by pid, with its command name. */
function cpuByProcess(): Map<number, { name: string; seconds: number }> {
  const all = new Map<number, { name: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    const cpu = /^\d+$/.test(entry) ? processCpu(Number(entry)) : undefined; // undefined: ended meanwhile
    if (cpu) all.set(Number(entry), { name: cpu.name, seconds: cpu.ms / 1000 });
  }
  return all;
}

const real = Boolean(process.env.REDIS_URL && process.env.KAFKA_BROKERS && process.env.MONGODB_URL);
const suffix = randomUUID().slice(0, 8);
const env: Record<string, string> = { RATE_LIMIT_PER_MINUTE: '1000000000' };
if (real) Object.assign(env, { REDIS_URL: process.env.REDIS_URL!, KAFKA_BROKERS: process.env.KAFKA_BROKERS!, MONGODB_URL: freshMongoUrl(process.env.MONGODB_URL!).url, NAMESPACE: `soak-${suffix}` });
if (real && process.env.SMTP_URL) env.SMTP_URL = process.env.SMTP_URL;
const system = await startSystemProcess(env);
const pid = system.child.pid!;
const status = (key: string) => Number(/\d+/.exec(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(key)) ?? '')?.[0] ?? NaN) / 1024;

try {
  const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
  const products = (await graphql<{ products: { edges: { node: { id: string } }[] } }>(system.gatewayUrl, CATALOG)).data!.products.edges.map((e) => e.node.id);
  let orders = 0;
  let failures = 0;
  let stop = false;
  const orderClient = async () => {
    while (!stop) {
      const r = await graphql<{ placeOrder: { order: { id: string } | null } }>(system.gatewayUrl, PLACE, { i: { items: [{ productId: products[(orders + failures) % products.length], quantity: 1 }], idempotencyKey: randomUUID() } }, customer.headers).catch(() => undefined);
      if (r?.data?.placeOrder.order) orders++;
      else failures++;
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  };
  const samples: string[] = [];
  const sampler = setInterval(() => {
    void (async () => {
      const projections = (await (await fetch(`${system.projectorUrl}/projections`)).json()) as { lag?: { seconds?: number } }[];
      const worstLag = Math.max(0, ...projections.map((p) => p.lag?.seconds ?? 0));
      const ready = (await fetch(system.gatewayUrl.replace(/\/graphql$/, '/health/ready'))).status;
      samples.push(`t=${(samples.length + 1) * 10}s RSS ${fmt(status('VmRSS:'), 0)} MB, worst projection lag ${fmt(worstLag)} s, gateway ready ${ready}, orders ${orders}, failed ${failures}`);
    })().catch((error: unknown) => samples.push(`t=${(samples.length + 1) * 10}s sample failed: ${String(error)}`));
  }, 10_000);
  const before = cpuByProcess();
  const clients = Array.from({ length: ORDER_CLIENTS }, orderClient);
  const catalog = await autocannon({ url: system.gatewayUrl, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: CATALOG }), connections: CONNECTIONS, duration: SECONDS });
  stop = true;
  await Promise.all(clients);
  clearInterval(sampler);
  const after = cpuByProcess();
  const cpu = new Map<string, number>();
  for (const [p, now] of after) {
    const used = now.seconds - (before.get(p)?.seconds ?? 0);
    if (used <= 0) continue;
    const name = p === pid ? 'system (npm start)' : p === process.pid ? 'this bench (load)' : now.name;
    cpu.set(name, (cpu.get(name) ?? 0) + used);
  }
  const busiest = [...cpu].sort((a, b) => b[1] - a[1]).slice(0, 8);
  const result = {
    setup: real ? 'real servers (Redis, Kafka, FerretDB)' : 'embedded',
    seconds: SECONDS,
    catalog: { requestsPerSecond: catalog.requests.average, p50: catalog.latency.p50, p99: catalog.latency.p99, non2xx: catalog.non2xx, errors: catalog.errors },
    orders: { placed: orders, perSecond: orders / SECONDS, failed: failures },
    peakRssMb: status('VmHWM:'),
    cpuSeconds: Object.fromEntries(busiest.map(([n, s]) => [n, Number(fmt(s, 1))])),
    samples,
  };
  console.log(samples.join('\n'));
  console.log(`${result.setup}, ${SECONDS} s: catalog ${fmt(catalog.requests.average, 1)} req/s (p50 ${catalog.latency.p50} ms, p99 ${catalog.latency.p99} ms, non-2xx ${catalog.non2xx}, errors ${catalog.errors}); orders ${orders} (${fmt(orders / SECONDS, 1)}/s), failed ${failures}; system peak RSS ${fmt(result.peakRssMb, 0)} MB`);
  console.log(`CPU seconds over the run (2 cores = ${2 * SECONDS} s): ${busiest.map(([n, s]) => `${n} ${fmt(s, 1)}`).join(', ')}`);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'soak.json'), JSON.stringify(result, null, 2) + '\n');
} finally {
  await system.stop();
  await dropTestDatabase(env.MONGODB_URL);
}
