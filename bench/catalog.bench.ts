/**
 * Benchmark (not a test): `npm run bench:catalog`.
 *  1. Catalog query throughput and p99 through the gateway vs. against the product subgraph
 *     directly, in the same run, as a ratio. The gateway shares one subgraph request among
 *     identical reads in flight (gateway/subgraph-client.ts), so under concurrent identical load
 *     it answers more than the subgraph alone can (measured 2026-12-01: 11,699 vs 2,130 req/s;
 *     before coalescing 1,381 vs 2,109).
 *  2. Latency from `restockProduct` returning to a graphql-ws subscriber (through the gateway)
 *     receiving `stockChanged`.
 * The system runs in a child process (embedded adapters); the load comes from this process.
 */
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { fmt, percentile, startSystemProcess } from '../platform/testing/system-process.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const RESTOCKS = Number(process.env.BENCH_RESTOCKS ?? 300);
const QUERY = '{ products(first: 20) { edges { node { id name price { amount currency } stock } } } }';

async function load(url: string): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: QUERY }),
    connections: CONNECTIONS,
    duration: DURATION,
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors and ${result.non2xx} non-2xx responses; the figures would be meaningless`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
}

async function main(): Promise<void> {
  // The load comes from one address: lift the per-address rate limit, or it would measure 429s.
  const system = await startSystemProcess({ RATE_LIMIT_PER_MINUTE: '1000000000' });
  try {
    // Sanity: both endpoints answer the query with the same data.
    const viaGateway = await graphql(system.gatewayUrl, QUERY);
    const direct = await graphql(system.productUrl, QUERY);
    if (JSON.stringify(viaGateway.data) !== JSON.stringify(direct.data) || viaGateway.errors) throw new Error('gateway and subgraph disagree on the benchmark query');

    await load(system.productUrl); // warm-up both paths (JIT, caches)
    await load(system.gatewayUrl);
    const subgraph = await load(system.productUrl);
    const gateway = await load(system.gatewayUrl);

    console.log(`\ncatalog query, ${CONNECTIONS} connections x ${DURATION} s each (${QUERY.length} B query, 20 products per page)`);
    console.log(`  product subgraph direct: ${fmt(subgraph.rps, 0)} req/s, p50 ${subgraph.p50} ms, p99 ${subgraph.p99} ms (errors ${subgraph.errors}, non-2xx ${subgraph.non2xx})`);
    console.log(`  through the gateway:     ${fmt(gateway.rps, 0)} req/s, p50 ${gateway.p50} ms, p99 ${gateway.p99} ms (errors ${gateway.errors}, non-2xx ${gateway.non2xx})`);
    console.log(`  ratio gateway/direct:    throughput ${fmt(gateway.rps / subgraph.rps)}x, p99 ${fmt(gateway.p99 / Math.max(subgraph.p99, 1e-9))}x`);

    // Subscription latency.
    const seller = (await signUp(system.gatewayUrl, 'SELLER')).headers;
    const created = await graphql<{ createProduct: { product: { id: string } } }>(
      system.gatewayUrl,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code } } }',
      { input: { sku: `BENCH-${randomUUID().slice(0, 8)}`, name: 'Bench', category: 'bench', price: { amount: 100, currency: 'EUR' }, initialStock: 0 } },
      seller,
    );
    const id = created.data!.createProduct.product.id;
    const client = wsClient(system.gatewayUrl);
    const arrivals = new Map<number, number>(); // stock -> arrival time
    let waiting: { stock: number; resolve: () => void } | undefined;
    const subscription = client.iterate<{ stockChanged: { stock: number } }>({ query: 'subscription($ids: [ID!]) { stockChanged(productIds: $ids) { stock product { id } } }', variables: { ids: [id] } });
    const reader = (async () => {
      for await (const r of subscription) {
        const stock = r.data!.stockChanged.stock;
        arrivals.set(stock, performance.now());
        if (waiting && waiting.stock === stock) waiting.resolve();
      }
    })();
    const restock = () =>
      graphql<{ restockProduct: { product: { stock: number } } }>(system.gatewayUrl, 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } } }', { id }, seller);
    // Wait until the subscription is live (first event seen), then measure.
    for (let i = 0; arrivals.size === 0 && i < 100; i++) {
      await restock();
      await new Promise((r) => setTimeout(r, 50));
    }
    const fromReturn: number[] = [];
    const fromSend: number[] = [];
    let early = 0;
    for (let i = 0; i < RESTOCKS; i++) {
      const sent = performance.now();
      const response = await restock();
      const returned = performance.now();
      const stock = response.data!.restockProduct.product.stock;
      if (!arrivals.has(stock)) await new Promise<void>((resolve) => (waiting = { stock, resolve }));
      const arrived = arrivals.get(stock)!;
      if (arrived < returned) early++;
      fromReturn.push(Math.max(0, arrived - returned));
      fromSend.push(arrived - sent);
    }
    await client.dispose();
    await reader.catch(() => undefined);
    fromReturn.sort((a, b) => a - b);
    fromSend.sort((a, b) => a - b);
    console.log(`\nstockChanged delivery over graphql-ws through the gateway, ${RESTOCKS} sequential restocks`);
    console.log(`  restockProduct returned -> event received: p50 ${fmt(percentile(fromReturn, 50))} ms, p99 ${fmt(percentile(fromReturn, 99))} ms (event arrived before the response in ${early}/${RESTOCKS}; counted as 0)`);
    console.log(`  restockProduct sent     -> event received: p50 ${fmt(percentile(fromSend, 50))} ms, p99 ${fmt(percentile(fromSend, 99))} ms`);
  } finally {
    await system.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
