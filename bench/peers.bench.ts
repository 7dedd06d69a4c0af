/**
 * Benchmark (not a test): `npm run bench` (also `npm run bench:peers`). The project's gateway
 * against the gateways people use, over the same subgraphs, in one run:
 *  - the project's gateway as the Dockerfile runs it (`node --max-old-space-size=192 dist/gateway/index.js`, built first by
 *    `npm run build` unless BENCH_SKIP_BUILD=1): with its defaults (the response cache and the
 *    coalescing of identical reads), with the response cache off (`GATEWAY_RESPONSE_CACHE=false`),
 *    and with both off (also `GATEWAY_COALESCE_READS=false`: gateway against gateway, not cache
 *    against gateway). The response cache hears the projector's invalidations over Redis pub/sub,
 *    so with REDIS_URL set (`. scripts/servers/env.sh`) the system and the gateways share that
 *    Redis (under a namespace of their own); without it the defaults row runs with the cache off,
 *    as a gateway deployed without Redis does, and the cache-off row is left out;
 *  - vanilla `@apollo/gateway` + `@apollo/server` (bench/lib/vanilla-gateway.ts);
 *  - Hive Gateway 2.15 (`hive-gateway supergraph`, bench/lib/hive-gateway.config.ts), with its
 *    defaults (in-flight deduplication on) and with deduplication off.
 * Each gateway runs in its own process; the subgraphs in another (`npm start`'s launcher, its own
 * gateway unused); the load (autocannon, or the order driver below) from this one.
 * Workloads: the catalog (one subgraph), the catalog with sellers (two), a product page (product,
 * seller and recommendations: three subgraphs, a different product on each request), a mutation (`restockProduct` as the products' seller, a different product on each
 * request), and `placeOrder` to CONFIRMED (ORDER_CLIENTS customers' worth of clients each place an
 * order and poll `order(id) { status }` every 20 ms until CONFIRMED, then place the next).
 * Authenticated workloads send the project's gateway a JWT; the peers, which verify no token here,
 * get the identity header the project's gateway would have signed (bench/lib/*), which they pass on.
 * Rounds are interleaved (BENCH_ROUNDS, default 3, of BENCH_SECONDS, default 5, per gateway and
 * workload; BENCH_CONNECTIONS, default 50). Prints and writes (.run/bench/peers.json and .md)
 * per workload and gateway: req/s (orders/s for placeOrder) and p50/p99 (median of the rounds),
 * CPU ms per HTTP request (for placeOrder: the order's polls are requests too), the gateway's peak RSS (VmHWM) over the
 * whole run, and the ratios to vanilla and to Hive Gateway with the same coalescing setting.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { loadSupergraph } from '../gateway/compose.js';
import { IDENTITY_HEADER, signCaller } from '../platform/auth/internal-identity.js';
import { internalSecretFor } from '../platform/auth/secrets.js';
import type { Identity } from '../platform/auth/tokens.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { cpuMs, fmt, freePort, percentile, startSystemProcess } from '../platform/testing/system-process.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ORDER_CLIENTS = Number(process.env.BENCH_ORDER_CLIENTS ?? 20);
const PRODUCTS = 100;
const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, '.run', 'bench');

const CATALOG = '{ products(first: 20) { edges { node { id name price { amount currency } stock } } } }';
const CATALOG_SELLER = '{ products(first: 20) { edges { node { id name price { amount currency } stock seller { id name } } } } }';
const PRODUCT_PAGE = 'query Page($id: ID!) { product(id: $id) { id name description category price { amount currency } stock seller { id name } recommendations(first: 5) { id name price { amount currency } } } }';
const RESTOCK = 'mutation Restock($id: ID!) { restockProduct(id: $id, quantity: 1) { product { id stock } userErrors { code message } } }';
const PLACE = 'mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status } userErrors { code message } } }';
const ORDER_STATUS = 'query Status($id: ID!) { order(id: $id) { status } }';

type Caller = 'anonymous' | 'seller' | 'customer';
interface Gateway {
  name: string;
  kind: 'project' | 'vanilla' | 'hive';
  coalescing: boolean;
  url: string;
  child: ChildProcess;
}
interface Workload {
  name: string;
  caller: Caller;
  /** The body of request n (autocannon), or null for the order driver. */
  body: ((n: number) => string) | null;
}
interface Sample {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  cpuMs: number;
}

function peakRssMB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function startGateway(name: string, kind: Gateway['kind'], coalescing: boolean, args: (port: number) => string[], env: Record<string, string>): Promise<Gateway> {
  const port = await freePort();
  const child = spawn(process.execPath, args(port), { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}/graphql`;
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${name} did not answer within 60 s`);
    const answer = await graphql(url, CATALOG).catch(() => undefined);
    if (answer?.data) return { name, kind, coalescing, url, child };
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const secret = randomBytes(32).toString('hex');
  const redis = process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL, NAMESPACE: `bench-${randomBytes(4).toString('hex')}` } : undefined;
  if (!redis) process.stderr.write('NOTE: REDIS_URL is not set, so the gateway runs without its response cache (it hears invalidations over Redis pub/sub); source scripts/servers/env.sh to measure it\n');
  const system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '1000000000', JWT_SECRET: secret, ...redis });
  const gateways: Gateway[] = [];
  try {
    // Two callers and PRODUCTS products with plenty of stock, through the system's own gateway.
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
    const productIds: string[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      const created = await graphql<{ createProduct: { product: { id: string } | null } }>(
        system.gatewayUrl,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }',
        { input: { sku: `BENCH-${i}-${randomUUID().slice(0, 8)}`, name: `Bench product ${i}`, description: 'A product of the peers benchmark', category: 'bench', price: { amount: 1000 + i, currency: 'EUR' }, initialStock: 100_000_000 } },
        seller.headers,
      );
      const id = created.data?.createProduct.product?.id;
      if (!id) throw new Error(`createProduct failed: ${created.raw}`);
      productIds.push(id);
    }
    for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
      const last = await graphql<{ product: { id: string } | null }>(system.gatewayUrl, PRODUCT_PAGE, { id: productIds.at(-1) });
      if (last.data?.product) break;
      if (Date.now() > deadline) throw new Error('the products were not projected within 60 s');
    }

    // What each caller sends: a JWT to the project's gateway; to the peers, which verify no token
    // here, the identity header the project's gateway would sign (valid for the whole run).
    const internalSecret = internalSecretFor(secret);
    const identityToken = (identity: Identity) => signCaller({ identity, clientAddress: undefined }, internalSecret, '2h');
    const peerHeaders: Record<Caller, Record<string, string>> = {
      anonymous: {},
      seller: { [IDENTITY_HEADER]: await identityToken({ userId: seller.userId, role: 'SELLER' }) },
      customer: { [IDENTITY_HEADER]: await identityToken({ userId: customer.userId, role: 'CUSTOMER' }) },
    };
    const projectHeaders: Record<Caller, Record<string, string>> = { anonymous: {}, seller: seller.headers, customer: customer.headers };
    const headersFor = (g: Gateway, caller: Caller) => ({ 'content-type': 'application/json', ...(g.kind === 'project' ? projectHeaders : peerHeaders)[caller] });

    const subgraphs = [
      { name: 'product', url: system.productUrl },
      { name: 'order', url: system.orderUrl },
      { name: 'user', url: system.userUrl },
      { name: 'recommendation', url: system.recommendationUrl },
    ];
    const own = { NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: secret, RATE_LIMIT_PER_MINUTE: '1000000000', PRODUCT_SUBGRAPH_URL: system.productUrl, ORDER_SUBGRAPH_URL: system.orderUrl, USER_SUBGRAPH_URL: system.userUrl, RECOMMENDATION_SUBGRAPH_URL: system.recommendationUrl, NOTIFICATION_SUBGRAPH_URL: system.notificationUrl, ...redis };
    const projectGateway = () => ['--max-old-space-size=192', 'dist/gateway/index.js']; // as the Dockerfile's CMD and docker-compose run it
    gateways.push(await startGateway(redis ? 'project' : 'project (no Redis: response cache off)', 'project', true, projectGateway, own));
    if (redis) gateways.push(await startGateway('project, response cache off', 'project', true, projectGateway, { ...own, GATEWAY_RESPONSE_CACHE: 'false' }));
    gateways.push(await startGateway('project, cache and coalescing off', 'project', false, projectGateway, { ...own, GATEWAY_RESPONSE_CACHE: 'false', GATEWAY_COALESCE_READS: 'false' }));
    gateways.push(await startGateway('vanilla @apollo/gateway', 'vanilla', false, () => ['--import', 'tsx', 'bench/lib/vanilla-gateway.ts'], { SUBGRAPHS: JSON.stringify(subgraphs) }));
    mkdirSync(OUT, { recursive: true });
    const supergraphFile = join(OUT, 'supergraph.graphql');
    writeFileSync(supergraphFile, (await loadSupergraph(subgraphs)).supergraphSdl);
    const hiveBin = join(createRequire(import.meta.url).resolve('@graphql-hive/gateway/package.json'), '..', 'dist', 'bin.js');
    const hive = (port: number) => [hiveBin, 'supergraph', supergraphFile, '-c', 'bench/lib/hive-gateway.config.ts', '--host', '127.0.0.1', '--port', String(port)];
    gateways.push(await startGateway('Hive Gateway', 'hive', true, hive, { NODE_ENV: 'production' }));
    gateways.push(await startGateway('Hive Gateway, dedup off', 'hive', false, hive, { NODE_ENV: 'production', HIVE_DEDUPLICATE: 'false' }));

    const productAt = (n: number) => productIds[n % productIds.length]!;
    const workloads: Workload[] = [
      { name: 'catalog (one subgraph)', caller: 'anonymous', body: () => JSON.stringify({ query: CATALOG }) },
      { name: 'catalog + seller (two subgraphs)', caller: 'anonymous', body: () => JSON.stringify({ query: CATALOG_SELLER }) },
      { name: 'product page (product, seller, recommendations; varying id)', caller: 'anonymous', body: (n) => JSON.stringify({ query: PRODUCT_PAGE, variables: { id: productAt(n) } }) },
      { name: 'mutation restockProduct (seller)', caller: 'seller', body: (n) => JSON.stringify({ query: RESTOCK, variables: { id: productAt(n) } }) },
      { name: 'placeOrder to CONFIRMED (customer)', caller: 'customer', body: null },
    ];

    // Every gateway answers every workload, the reads with the same data, before anything is measured.
    for (const w of workloads) {
      const answers = await Promise.all(
        gateways.map(async (g) => {
          if (!w.body) return JSON.stringify(await placeAndConfirm(g, headersFor(g, w.caller), productAt(0)).then(() => 'CONFIRMED'));
          const response = await fetch(g.url, { method: 'POST', headers: headersFor(g, w.caller), body: w.body(0) });
          const answer = (await response.json()) as { data?: Record<string, { userErrors?: unknown[] } | null>; errors?: unknown };
          const payload = answer.data ? Object.values(answer.data)[0] : undefined;
          if (answer.errors || !payload || (payload.userErrors?.length ?? 0) > 0) throw new Error(`${g.name} does not answer ${w.name}: ${JSON.stringify(answer).slice(0, 500)}`);
          return w.caller === 'anonymous' ? JSON.stringify(answer.data) : 'ok';
        }),
      );
      if (new Set(answers).size !== 1) throw new Error(`the gateways disagree on ${w.name}`);
    }

    const samples = new Map<string, Sample[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const w of workloads) {
        for (const g of gateways) {
          const cpuBefore = cpuMs(g.child.pid!);
          const s = w.body ? await autocannonLoad(g.url, headersFor(g, w.caller), w.body) : await orderLoad(g, headersFor(g, w.caller), productAt);
          const key = `${w.name}\n${g.name}`;
          samples.set(key, [...(samples.get(key) ?? []), { ...s, cpuMs: cpuMs(g.child.pid!) - cpuBefore }]);
          process.stderr.write(`round ${round}: ${w.name}, ${g.name}: ${fmt(s.rps, 0)}/s\n`);
        }
      }
    }

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rpsOf = (w: Workload, g: Gateway | undefined) => (g ? median(samples.get(`${w.name}\n${g.name}`)!.map((s) => s.rps)) : NaN);
    const vanilla = gateways.find((g) => g.kind === 'vanilla');
    const hiveWith = (coalescing: boolean) => gateways.find((g) => g.kind === 'hive' && g.coalescing === coalescing);
    const rows = workloads.flatMap((w) =>
      gateways.map((g) => {
        const s = samples.get(`${w.name}\n${g.name}`)!;
        const requests = s.reduce((n, x) => n + x.requests, 0);
        const rps = rpsOf(w, g);
        return {
          workload: w.name,
          gateway: g.name,
          rps,
          p50: median(s.map((x) => x.p50)),
          p99: median(s.map((x) => x.p99)),
          cpuMsPerRequest: s.reduce((n, x) => n + x.cpuMs, 0) / requests,
          peakRssMB: peakRssMB(g.child.pid!),
          vsVanilla: rps / rpsOf(w, vanilla),
          vsHive: rps / rpsOf(w, hiveWith(g.coalescing)),
        };
      }),
    );
    const table = [
      `${CONNECTIONS} connections (placeOrder: ${ORDER_CLIENTS} clients), ${ROUNDS} interleaved rounds of ${SECONDS} s per gateway and workload (medians); 2 cores shared by subgraphs, gateway and load. "vs Hive" compares with Hive Gateway at the same coalescing setting (project rows with coalescing on with Hive's defaults; cache and coalescing off with its deduplication off).`,
      '',
      '| workload | gateway | req/s | p50 ms | p99 ms | CPU ms/req | peak RSS MB | vs vanilla | vs Hive |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.workload} | ${r.gateway} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.cpuMsPerRequest, 3)} | ${fmt(r.peakRssMB, 0)} | ${fmt(r.vsVanilla, 2)}x | ${fmt(r.vsHive, 2)}x |`),
    ].join('\n');
    console.log(table);
    writeFileSync(join(OUT, 'peers.json'), JSON.stringify({ connections: CONNECTIONS, orderClients: ORDER_CLIENTS, rounds: ROUNDS, seconds: SECONDS, rows }, null, 2));
    writeFileSync(join(OUT, 'peers.md'), `${table}\n`);
  } finally {
    for (const g of gateways) g.child.kill('SIGTERM');
    await system.stop();
  }
}

async function autocannonLoad(url: string, headers: Record<string, string>, body: (n: number) => string): Promise<Omit<Sample, 'cpuMs'>> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'POST', headers, setupRequest: (request) => ({ ...request, body: body(n++) }) }],
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total };
}

/** Places one order (quantity 1) and polls it until CONFIRMED; resolves with the requests it took. */
async function placeAndConfirm(g: Gateway, headers: Record<string, string>, productId: string): Promise<number> {
  const call = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const response = await fetch(g.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const answer = (await response.json()) as { data?: T; errors?: unknown };
    if (answer.errors || !answer.data) throw new Error(`${g.name}: ${JSON.stringify(answer).slice(0, 500)}`);
    return answer.data;
  };
  const placed = await call<{ placeOrder: { order: { id: string } | null; userErrors: unknown[] } }>(PLACE, { input: { items: [{ productId, quantity: 1 }], idempotencyKey: randomUUID() } });
  const id = placed.placeOrder.order?.id;
  if (!id) throw new Error(`${g.name}: placeOrder answered ${JSON.stringify(placed)}`);
  for (let requests = 2; ; requests++) {
    const { order } = await call<{ order: { status: string } | null }>(ORDER_STATUS, { id });
    if (order?.status === 'CONFIRMED') return requests;
    if (order && order.status !== 'PENDING') throw new Error(`${g.name}: order ${id} is ${order.status}`);
    await sleep(20);
  }
}

async function orderLoad(g: Gateway, headers: Record<string, string>, productAt: (n: number) => string): Promise<Omit<Sample, 'cpuMs'>> {
  const latencies: number[] = [];
  let requests = 0;
  let n = 0;
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: ORDER_CLIENTS }, async () => {
      while (performance.now() < until) {
        const placed = performance.now();
        const took = await placeAndConfirm(g, headers, productAt(n++));
        requests += took;
        latencies.push(performance.now() - placed);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), requests };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
