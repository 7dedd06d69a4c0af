/**
 * Benchmark (not a test): `npm run bench:ryw`. What `x-read-after-position` adds to a query sent
 * right after a mutation: the seller restocks a product (the mutation's answer carries
 * extensions.position) and at once asks for it, with the header (it waits until the catalog read
 * model reached the position) and, interleaved in the same run, without it (it answers what is
 * there, possibly the stock before the restock). Two queries: the product and its seller (two
 * subgraphs, a query plan) and the product alone (one subgraph: the fast path, and an answer the
 * response cache keeps). p50/p99 of each, the ratio, and how often the answer without the header
 * missed the write. The system runs in a child process (embedded adapters; then, with
 * MONGODB_URL, REDIS_URL and KAFKA_BROKERS set, on those servers, in a fresh database and
 * namespace); the requests come one at a time from this process. `BENCH_ITERATIONS` (default 300).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { READ_AFTER_POSITION_HEADER } from '../platform/read-your-writes.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, percentile, startSystemProcess } from '../platform/testing/system-process.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const QUERIES = {
  'product and seller (2 subgraphs)': 'query($id: ID!) { product(id: $id) { id stock seller { id name } } }',
  'product (1 subgraph, cacheable)': 'query($id: ID!) { product(id: $id) { id name stock } }',
};
const RESTOCK = 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } } }';

/** The product subgraph's histogram of read-your-writes waits (`storefront_read_after_wait_seconds`): cumulative counts by upper bound. */
async function waitHistogram(productUrl: string): Promise<Map<number, number>> {
  const text = await (await fetch(productUrl.replace(/\/graphql$/, '/metrics'))).text();
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(/^storefront_read_after_wait_seconds_bucket\{([^}]*)\} (\d+)/gm)) {
    const le = /le="([^"]+)"/.exec(match[1]!)?.[1];
    if (!le) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2])); // summed over outcomes
  }
  return buckets;
}

/** A quantile of the waits observed between two scrapes, interpolated within its bucket as Prometheus's histogram_quantile does. */
function quantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const upper = bounds[i]!;
      if (upper === Infinity) return lower;
      return lower + (upper - lower) * ((rank - below) / Math.max(1, counts[i]! - below));
    }
  }
  return NaN;
}

interface Sample {
  ms: number;
  stale: boolean;
}

async function run(label: string, env: Record<string, string>): Promise<void> {
  // No demo catalog (the bench makes its own product); up once the gateway answers (start-up on real servers may take a while).
  const system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '1000000000', SEED_DEMO_DATA: 'false', ...env }, { waitFor: 'projector' });
  try {
    for (let deadline = Date.now() + 180_000; ; await sleep(200)) {
      const up = await graphql(system.gatewayUrl, '{ __typename }').catch(() => undefined);
      if (up?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`the gateway did not answer within 180 s:\n${system.stderr()}`);
    }
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const created = await graphql<{ createProduct: { product: { id: string } } }>(
      system.gatewayUrl,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
      { input: { sku: `RYW-${randomUUID().slice(0, 8)}`, name: 'Bench lamp', category: 'bench', price: { amount: 100, currency: 'EUR' }, initialStock: 0 } },
      seller.headers,
    );
    const id = created.data!.createProduct.product.id;
    console.log(`\n${label}: ${ITERATIONS} restocks per query and mode, one request at a time`);
    for (const [name, query] of Object.entries(QUERIES)) {
      const samples: Record<'with' | 'without', Sample[]> = { with: [], without: [] };
      let before = await waitHistogram(system.productUrl);
      const mutations: number[] = [];
      for (let i = 0; i < ITERATIONS + 20; i++) {
        const mode = i % 2 === 0 ? 'with' : 'without';
        const sent = performance.now();
        const restock = await graphql<{ restockProduct: { product: { stock: number } } }>(system.gatewayUrl, RESTOCK, { id }, seller.headers);
        const stock = restock.data!.restockProduct.product.stock;
        const position = (restock as { extensions?: { position?: string } }).extensions?.position;
        if (!position) throw new Error(`the mutation answered no position: ${restock.raw}`);
        const asked = performance.now();
        const headers = { ...(query.includes('seller') && seller.headers), ...(mode === 'with' && { [READ_AFTER_POSITION_HEADER]: position }) };
        const answer = await graphql<{ product: { stock: number } }>(system.gatewayUrl, query, { id }, headers);
        const answered = performance.now();
        if (answer.errors) throw new Error(`${name} ${mode} the header: ${answer.raw}`);
        const stale = answer.data!.product.stock !== stock;
        if (mode === 'with' && stale) throw new Error(`read-your-writes broken: stock ${answer.data!.product.stock}, the restock answered ${stock}`);
        if (i < 20) {
          if (i === 19) before = await waitHistogram(system.productUrl);
          continue; // warm-up
        }
        samples[mode].push({ ms: answered - asked, stale });
        mutations.push(asked - sent);
      }
      const line = (mode: 'with' | 'without') => {
        const ms = samples[mode].map((s) => s.ms).sort((a, b) => a - b);
        return { p50: percentile(ms, 50), p99: percentile(ms, 99), stale: samples[mode].filter((s) => s.stale).length, n: ms.length };
      };
      const w = line('with');
      const wo = line('without');
      mutations.sort((a, b) => a - b);
      const after = await waitHistogram(system.productUrl);
      console.log(`  ${name}`);
      console.log(`    with the header:    p50 ${fmt(w.p50)} ms, p99 ${fmt(w.p99)} ms (n ${w.n}; saw the write ${w.n - w.stale}/${w.n})`);
      console.log(`    without the header: p50 ${fmt(wo.p50)} ms, p99 ${fmt(wo.p99)} ms (n ${wo.n}; missed the write ${wo.stale}/${wo.n})`);
      console.log(`    added by the header: p50 +${fmt(w.p50 - wo.p50)} ms, p99 +${fmt(w.p99 - wo.p99)} ms; ratio with/without p50 ${fmt(w.p50 / wo.p50)}x, p99 ${fmt(w.p99 / wo.p99)}x`);
      console.log(`    the wait itself, in the product subgraph (storefront_read_after_wait_seconds, interpolated in its buckets): p50 ${fmt(quantile(before, after, 0.5) * 1000, 3)} ms, p99 ${fmt(quantile(before, after, 0.99) * 1000, 3)} ms`);
      console.log(`    (the restock before it: p50 ${fmt(percentile(mutations, 50))} ms, p99 ${fmt(percentile(mutations, 99))} ms)`);
    }
  } finally {
    await system.stop();
  }
}

async function main(): Promise<void> {
  await run('embedded adapters', {});
  const { MONGODB_URL: mongo, REDIS_URL: redis, KAFKA_BROKERS: kafka } = process.env;
  if (!mongo || !redis || !kafka) {
    console.log('\n(real servers: not run; source scripts/servers/env.sh for FerretDB, Redis and Kafka)');
    return;
  }
  const fresh = freshMongoUrl(mongo);
  try {
    await run('FerretDB, Redis, Kafka', { MONGODB_URL: fresh.url, REDIS_URL: redis, KAFKA_BROKERS: kafka, NAMESPACE: `bench-${randomUUID().slice(0, 8)}` });
  } finally {
    const client = await MongoClient.connect(fresh.url);
    await client.db().dropDatabase();
    await client.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
