import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { testSystemConfig } from '../platform/testing/test-config.js';

// Identical reads in flight share one subgraph request at the gateway (gateway/subgraph-client.ts):
// here, what a client can see of it. Every answer stays right, a caller never gets another's
// data, and a mutation sent N times runs N times. The response cache is off here: it would answer
// these identical reads itself, before they reach the subgraph client (see response-cache.e2e).

const CATALOG = 'query Catalog { products(first: 20) { edges { node { id name price { amount currency } stock } } } }';
const WITH_SELLER = 'query CatalogWithSeller { products(first: 20) { edges { node { id name stock seller { id name } } } } }';

describe('identical reads in flight through the gateway', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'coalescing-'));
  let system: RunningSystem;
  let seller: Awaited<ReturnType<typeof signUp>>;
  const coalesced = async () => {
    const text = await (await fetch(system.gatewayUrl.replace('/graphql', '/metrics'))).text();
    return Number(/^storefront_gateway_coalesced_fetches_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 'NaN');
  };

  beforeAll(async () => {
    system = await startSystem(testSystemConfig(dataDir, { RATE_LIMIT_PER_MINUTE: '1000000', GATEWAY_RESPONSE_CACHE: 'false' }), { logger: createLogger('e2e', 'silent') });
    seller = await signUp(system.gatewayUrl, 'SELLER');
    for (let i = 0; i < 5; i++) {
      const r = await graphql(system.gatewayUrl, 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }', { input: { sku: `CO-${i}-${Date.now()}`, name: `Mug ${i}`, category: 'kitchen', price: { amount: 900 + i, currency: 'EUR' }, initialStock: 10 } }, seller.headers);
      expect(r.errors).toBeUndefined();
    }
    await eventually(async () => expect((await graphql<{ products: { edges: unknown[] } }>(system.gatewayUrl, CATALOG)).data?.products.edges).toHaveLength(5));
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every one of many identical concurrent reads, one subgraph and two, with what a single read answers; some share a request', async () => {
    const before = await coalesced();
    for (const query of [CATALOG, WITH_SELLER]) {
      const alone = JSON.stringify((await graphql(system.gatewayUrl, query)).data);
      const answers = await Promise.all(Array.from({ length: 40 }, () => graphql(system.gatewayUrl, query)));
      for (const answer of answers) {
        expect(answer.errors).toBeUndefined();
        expect(JSON.stringify(answer.data)).toBe(alone);
      }
    }
    expect(await coalesced()).toBeGreaterThan(before);
  });

  it('never gives one caller what another asked for', async () => {
    const customers = await Promise.all([signUp(system.gatewayUrl, 'CUSTOMER'), signUp(system.gatewayUrl, 'CUSTOMER')]);
    const ME = 'query Me { me { id name } }';
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => graphql<{ me: { id: string } }>(system.gatewayUrl, ME, {}, customers[i % 2]!.headers).then((r) => ({ who: i % 2, id: r.data?.me.id }))));
    for (const { who, id } of answers) expect(id).toBe(customers[who]!.userId);
  });

  it('runs a mutation sent many times at once as many times', async () => {
    const product = (await graphql<{ products: { edges: { node: { id: string; stock: number } }[] } }>(system.gatewayUrl, CATALOG)).data!.products.edges[0]!.node;
    const RESTOCK = 'mutation Restock($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } userErrors { code } } }';
    const answers = await Promise.all(Array.from({ length: 10 }, () => graphql<{ restockProduct: { userErrors: unknown[] } }>(system.gatewayUrl, RESTOCK, { id: product.id }, seller.headers)));
    for (const answer of answers) expect(answer.data?.restockProduct.userErrors).toEqual([]);
    await eventually(async () => {
      const now = (await graphql<{ product: { stock: number } }>(system.gatewayUrl, 'query($id: ID!) { product(id: $id) { stock } }', { id: product.id })).data?.product.stock;
      expect(now).toBe(product.stock + 10);
    });
  });
});
