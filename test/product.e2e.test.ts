import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/config.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { READ_AFTER_POSITION_HEADER } from '../platform/read-your-writes.js';
import { graphql, signUp, wsClient, type GraphQLResponse } from '../platform/testing/graphql-client.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

// The embedded system on free ports, exercised only through the gateway, as a storefront would.

const execFileAsync = promisify(execFile);

const PRODUCT_FIELDS = 'id sku name description category price { amount currency } stock status version seller { id } createdAt updatedAt';
const CREATE = `mutation Create($input: CreateProductInput!) { createProduct(input: $input) { product { ${PRODUCT_FIELDS} } userErrors { code message field } } }`;
const RESTOCK = `mutation Restock($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { product { id stock version } userErrors { code message field } } }`;
const UPDATE = `mutation Update($id: ID!, $input: UpdateProductInput!, $v: Int) { updateProduct(id: $id, input: $input, expectedVersion: $v) { product { id name version } userErrors { code message field } } }`;
const DISCONTINUE = `mutation Discontinue($id: ID!) { discontinueProduct(id: $id) { product { id status stock } userErrors { code message field } } }`;
const SEARCH = `query Search($search: String!, $first: Int) { products(first: $first, filter: { search: $search }) { totalCount edges { cursor node { id name stock } } pageInfo { hasNextPage endCursor } } }`;

type Payload = { product: Record<string, unknown> | null; userErrors: { code: string; message: string; field: string[] | null }[] };

/**
 * The same suite runs on the embedded adapters and, when the servers are configured (CI starts
 * them), on real MongoDB (FerretDB), Redis and Kafka, each run in its own database and namespace.
 */
function productSuite(mode: string, servers: Record<string, string> | undefined) {
  describe(`storefront through the gateway (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'storefront-e2e-'));
    const bootConfig = (dir: string) =>
      loadConfig({ DATA_DIR: dir, PORT: '0', PRODUCT_PORT: '0', ORDER_PORT: '0', USER_PORT: '0', RECOMMENDATION_PORT: '0', NOTIFICATION_PORT: '0', PROJECTOR_PORT: '0', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'true', EVENTSTORE_FSYNC: 'false', PASSWORD_HASH_COST: '10', ...servers });
    let system: RunningSystem;
    let seller: { userId: string; headers: Record<string, string> };
    const call = <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = seller.headers) => graphql<T>(system.gatewayUrl, query, variables, headers);
    const create = async (overrides: Record<string, unknown> = {}, headers = seller.headers) => {
      const tag = randomUUID().slice(0, 8);
      const input = { sku: `SKU-${tag}`, name: `Lamp ${tag}`, category: 'home', price: { amount: 2599, currency: 'EUR' }, initialStock: 3, description: 'Warm light', ...overrides };
      const response = await call<{ createProduct: Payload }>(CREATE, { input }, headers);
      return { input, tag, response, payload: response.data?.createProduct };
    };

    beforeAll(async () => {
      system = await startSystem(bootConfig(dataDir), { logger: createLogger('e2e', 'silent') });
      seller = await signUp(system.gatewayUrl, 'SELLER');
    });
    afterAll(async () => {
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestDatabase(servers?.MONGODB_URL);
    });

    it('creates a product, finds it by search, restocks it, and streams stockChanged over graphql-ws', async () => {
      const { payload, tag, input, response } = await create();
      expect(payload?.userErrors).toEqual([]);
      const product = payload!.product!;
      expect(product).toMatchObject({ sku: input.sku.toUpperCase(), name: input.name, stock: 3, status: 'ACTIVE', version: 0, price: { amount: 2599, currency: 'EUR' }, seller: { id: seller.userId } });

      // Read-your-writes: the search waits until the catalog has projected the creation.
      const position = response.extensions?.position as string;
      const r = await call<{ products: { totalCount: number; edges: { node: { id: string } }[] } }>(SEARCH, { search: tag.toUpperCase() }, { ...seller.headers, [READ_AFTER_POSITION_HEADER]: position });
      expect(r.data?.products.edges.map((e) => e.node.id)).toEqual([product.id]);
      expect(r.data?.products.totalCount).toBe(1);

      const client = wsClient(system.gatewayUrl);
      const events: Record<string, unknown>[] = [];
      const subscription = client.iterate<{ stockChanged: Record<string, unknown> }>({
        query: `subscription Watch($ids: [ID!]) { stockChanged(productIds: $ids) { previousStock stock reason at product { id name stock price { amount } } } }`,
        variables: { ids: [product.id] },
      });
      const reader = (async () => {
        for await (const result of subscription) {
          expect(result.errors).toBeUndefined();
          events.push(result.data!.stockChanged);
          if (events.length === 1) break;
        }
      })();
      // The subscription becomes active asynchronously; restock by one until the first event arrives.
      const restocks: { stock: number }[] = [];
      for (let i = 0; i < 50 && events.length === 0; i++) {
        const r = await call<{ restockProduct: { product: { stock: number }; userErrors: unknown[] } }>(RESTOCK, { id: product.id, quantity: 1 });
        expect(r.data?.restockProduct.userErrors).toEqual([]);
        restocks.push(r.data!.restockProduct.product);
        await Promise.race([reader, sleep(100)]);
      }
      await reader;
      await client.dispose();
      const event = events[0]!;
      expect(event).toMatchObject({ reason: 'RESTOCKED', product: { id: product.id, name: input.name, price: { amount: 2599 } } });
      expect(event.stock).toBe((event.previousStock as number) + 1);
      expect(restocks.map((r) => r.stock)).toContain(event.stock);
    });

    it('pages through products with opaque cursors and a stable order', async () => {
      const tag = randomUUID().slice(0, 6);
      let position = '';
      for (let i = 0; i < 5; i++) position = (await create({ name: `Pager ${tag} ${i}`, price: { amount: 100 + i, currency: 'EUR' } })).response.extensions?.position as string;
      const seen: string[] = [];
      let after: string | null = null;
      const counted = await call<{ products: { totalCount: number } }>(SEARCH, { search: `Pager ${tag}` }, { ...seller.headers, [READ_AFTER_POSITION_HEADER]: position });
      expect(counted.data?.products.totalCount).toBe(5);
      for (let page = 0; page < 5; page++) {
        type Page = { products: { edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } };
        const r: GraphQLResponse<Page> = await call<Page>(
          `query($after: String) { products(first: 2, after: $after, sort: PRICE_DESC, filter: { search: "Pager ${tag}" }) { edges { node { name } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
        seen.push(...r.data!.products.edges.map((e) => e.node.name));
        if (!r.data!.products.pageInfo.hasNextPage) break;
        after = r.data!.products.pageInfo.endCursor;
      }
      expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => `Pager ${tag} ${i}`));
    });

    it('answers bad input with userErrors carrying a code and the field path', async () => {
      const cases: [Record<string, unknown>, string, string[]][] = [
        [{ name: '   ' }, 'INVALID_INPUT', ['input', 'name']],
        [{ sku: '' }, 'INVALID_INPUT', ['input', 'sku']],
        [{ price: { amount: 0, currency: 'EUR' } }, 'INVALID_INPUT', ['input', 'price', 'amount']],
        [{ price: { amount: -10, currency: 'EUR' } }, 'INVALID_INPUT', ['input', 'price', 'amount']],
        [{ initialStock: -1 }, 'INVALID_INPUT', ['input', 'initialStock']],
      ];
      for (const [overrides, code, field] of cases) {
        const { payload, response } = await create(overrides);
        expect(response.status).toBe(200);
        expect(payload).toEqual({ product: null, userErrors: [{ code, message: expect.any(String) as string, field }] });
      }
    });

    it('rejects a non-integer stock at the GraphQL layer with a coded error and no stack trace', async () => {
      const { response } = await create({ initialStock: 1.5 });
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.raw).not.toMatch(/stacktrace|\n\s+at /);
    });

    it('refuses a duplicate SKU with ALREADY_EXISTS, and an unknown id with NOT_FOUND', async () => {
      const { input } = await create();
      const again = await create({ sku: input.sku.toLowerCase() });
      expect(again.payload?.userErrors).toEqual([{ code: 'ALREADY_EXISTS', message: expect.any(String) as string, field: ['input', 'sku'] }]);
      const unknown = await call<{ restockProduct: Payload }>(RESTOCK, { id: randomUUID(), quantity: 1 });
      expect(unknown.data?.restockProduct.userErrors[0]).toMatchObject({ code: 'NOT_FOUND', field: ['id'] });
      const garbage = await call<{ restockProduct: Payload }>(RESTOCK, { id: 'not-an-id', quantity: 1 });
      expect(garbage.data?.restockProduct.userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('updates with the current expectedVersion and refuses a stale one with VERSION_CONFLICT', async () => {
      const { payload } = await create();
      const id = payload!.product!.id as string;
      const ok = await call<{ updateProduct: Payload }>(UPDATE, { id, input: { name: 'Renamed lamp' }, v: 0 });
      expect(ok.data?.updateProduct).toMatchObject({ product: { name: 'Renamed lamp', version: 1 }, userErrors: [] });
      const stale = await call<{ updateProduct: Payload }>(UPDATE, { id, input: { name: 'Lost update' }, v: 0 });
      expect(stale.data?.updateProduct).toEqual({ product: null, userErrors: [{ code: 'VERSION_CONFLICT', message: expect.any(String) as string, field: ['expectedVersion'] }] });
    });

    it('refuses restocking a discontinued product with INVALID_STATE and a zero quantity with INVALID_INPUT', async () => {
      const { payload } = await create();
      const id = payload!.product!.id as string;
      const discontinued = await call<{ discontinueProduct: Payload }>(DISCONTINUE, { id });
      expect(discontinued.data?.discontinueProduct).toMatchObject({ product: { status: 'DISCONTINUED', stock: 0 }, userErrors: [] });
      const restock = await call<{ restockProduct: Payload }>(RESTOCK, { id, quantity: 5 });
      expect(restock.data?.restockProduct.userErrors[0]).toMatchObject({ code: 'INVALID_STATE', field: ['id'] });
      const zero = await call<{ restockProduct: Payload }>(RESTOCK, { id, quantity: 0 });
      expect(zero.data?.restockProduct.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['quantity'] });
    });

    it('refuses anonymous writes with UNAUTHENTICATED and another seller with FORBIDDEN', async () => {
      const anonymous = await create({}, {});
      expect(anonymous.response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const { payload } = await create();
      const other = await call(RESTOCK, { id: payload!.product!.id, quantity: 1 }, (await signUp(system.gatewayUrl, 'SELLER')).headers);
      expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(other.raw).not.toMatch(/stacktrace/);
    });

    it('serves the seeded demo catalog, resolves Product entities, and rejects a malformed cursor', async () => {
      const r = await call<{ products: { totalCount: number } }>(`{ products(first: 1, filter: { category: "books" }) { totalCount } }`);
      expect(r.data?.products.totalCount).toBe(4);
      const bad = await call(`{ products(first: 1, after: "garbage") { totalCount } }`);
      expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const tooMany = await call(`{ products(first: 1000) { totalCount } }`);
      expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('rebuilds the catalog with the replay CLI while serving, and serves the same catalog after the switch', async () => {
      const list = async () => (await call<{ products: { edges: { node: { id: string; stock: number } }[] } }>(`{ products(first: 100) { edges { node { id stock } } } }`)).data!.products.edges;
      const before = await list();
      // Not spawnSync: the system under test runs in this process and must keep serving.
      const cli = await execFileAsync(process.execPath, ['--import', 'tsx', 'projections/replay.ts', 'product-catalog', '--url', system.projectorUrl], { encoding: 'utf8', timeout: 30_000 });
      expect(cli.stderr).toMatch(/product-catalog \[#+\] 100%/);
      expect(cli.stdout).toMatch(/rebuilt from \d+ events and switched over/);
      expect(await list()).toEqual(before);
      const status = (await (await fetch(`${system.projectorUrl}/projections`)).json()) as { rebuild: { state: string } }[];
      expect(status.find((s) => (s as { name?: string }).name === 'product-catalog')?.rebuild.state).toBe('done');
      expect((await fetch(`${system.projectorUrl}/projections/rebuild?name=integration-relay`, { method: 'POST' })).status).toBe(409);
      const metrics = await (await fetch(`${system.projectorUrl}/metrics`)).text();
      expect(metrics).toMatch(/storefront_replay_progress_ratio\{[^}]*projection="product-catalog"[^}]*\} 1/);
    });

    it('exports the metrics the dashboards query, from every service', async () => {
      await call(SEARCH, { search: 'mug' });
      // Past the gateway's response cache (which would answer it itself), to the subgraph's cache.
      await call(SEARCH, { search: 'mug' }, { ...seller.headers, 'cache-control': 'no-cache' });
      const text = async (url: string) => (await fetch(url)).text();
      const gateway = await text(system.gatewayUrl.replace('/graphql', '/metrics'));
      expect(gateway).toMatch(/storefront_graphql_request_duration_seconds_count\{[^}]*operation="Search"[^}]*type="query"[^}]*\} [1-9]/);
      const product = await text(system.productUrl.replace('/graphql', '/metrics'));
      expect(product).toMatch(/storefront_graphql_resolver_duration_seconds_count\{[^}]*type="Query",field="products"[^}]*\} [1-9]/);
      expect(product).toMatch(/storefront_cache_requests_total\{[^}]*result="hit"[^}]*\} [1-9]/);
      expect(product).toMatch(/storefront_eventstore_append_duration_seconds_count\{[^}]*\} [1-9]/);
      expect(product).toMatch(/storefront_graphql_errors_total\{[^}]*code="INVALID_INPUT"[^}]*\} [1-9]/);
      const projector = await text(`${system.projectorUrl}/metrics`);
      expect(projector).toMatch(/storefront_projection_events_total\{[^}]*projection="product-catalog"[^}]*\} [1-9]/);
      expect(projector).toMatch(/storefront_projection_lag_events\{[^}]*\} \d/);
      expect(projector).toMatch(/storefront_bus_messages_published_total\{[^}]*topic="product.events.v1"[^}]*\} [1-9]/);
      expect((await fetch(`${system.projectorUrl}/health/ready`)).status).toBe(200);
      expect((await fetch(system.gatewayUrl.replace('/graphql', '/health/ready'))).status).toBe(200);
      expect((await fetch(system.productUrl.replace('/graphql', '/health/ready'))).status).toBe(200);
    });

    it('keeps every product across a restart and does not seed twice', async () => {
      const { payload } = await create();
      const id = payload!.product!.id as string;
      const count = async () => (await call<{ products: { totalCount: number } }>(`{ products { totalCount } }`)).data!.products.totalCount;
      const before = await eventually(async () => {
        const r = await call<{ product: { id: string } | null }>(`query($id: ID!) { product(id: $id) { id } }`, { id });
        expect(r.data?.product?.id).toBe(id);
        return count();
      });
      await system.stop();
      system = await startSystem(bootConfig(dataDir), { logger: createLogger('e2e', 'silent') });
      await eventually(async () => {
        const r = await call<{ product: { id: string; stock: number } | null }>(`query($id: ID!) { product(id: $id) { id stock } }`, { id });
        expect(r.data?.product).toEqual({ id, stock: 3 });
        expect(await count()).toBe(before);
      });
    });
  });
}

productSuite('embedded', undefined);

withAllServers('storefront through the gateway (MongoDB, Redis, Kafka)', (servers) => productSuite('MongoDB/FerretDB, Redis, Kafka', servers));
