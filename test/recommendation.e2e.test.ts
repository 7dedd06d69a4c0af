import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { authKeys } from '../platform/auth/secrets.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryRateLimiter } from '../platform/ratelimit/rate-limiter.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { productFactsStream } from '../subgraphs/recommendation/events.js';

// Recommendations through the gateway, as a storefront asks for them: federated with the product
// subgraph (one `_entities` batch per level), authorised, validated, and fed by real orders.

const execFileAsync = promisify(execFile);
const ADMIN = { email: 'recommendations-admin@example.test', password: 'admin password 123' };
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code message } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { status } }';
const PAY = 'mutation($id: ID!) { payOrder(id: $id, payment: { token: "tok_visa" }) { order { status } userErrors { code message } } }';
const VIEW = 'mutation($id: ID!) { recordProductView(productId: $id) }';
const BOUGHT_TOGETHER = 'query($id: ID!, $first: Int) { product(id: $id) { id recommendations(first: $first) { id name price { amount } stock } } }';
const TRENDING = 'query($first: Int, $category: String) { trendingProducts(first: $first, category: $category) { id name } }';

type Headers = Record<string, string>;

/** A pass-through HTTP proxy in front of a subgraph that remembers every GraphQL body it forwarded. */
async function countingProxy(target: string): Promise<{ url: string; bodies: string[]; close: () => Promise<void> }> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'POST') bodies.push(body);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      fetch(new URL(req.url ?? '/', target), { method: req.method ?? 'GET', headers, ...(req.method === 'POST' && { body }) })
        .then(async (response) => {
          res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await response.arrayBuffer()));
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/graphql`, bodies, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function recommendationSuite(mode: string, servers: Record<string, string> | undefined) {
  describe(`recommendations through the gateway (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'recommendation-e2e-'));
    // Tests poll; the per-caller rate limit is not what they are about.
    const config = testSystemConfig(dataDir, { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, RATE_LIMIT_PER_MINUTE: '1000000', ...servers });
    let system: RunningSystem;
    let seller: { userId: string; headers: Headers };
    let admin: Headers;
    const category = `kitchen-${randomUUID().slice(0, 8)}`;
    const ids: Record<string, string> = {};

    const call = <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers: Headers = {}, url = system.gatewayUrl) => graphql<T>(url, query, variables, headers);
    const createProduct = async (name: string, stock = 20, inCategory = category) => {
      const r = await call<{ createProduct: { product: { id: string } } }>(CREATE, { input: { sku: `R-${randomUUID().slice(0, 8)}`, name, category: inCategory, price: { amount: 500, currency: 'EUR' }, initialStock: stock } }, seller.headers);
      return r.data!.createProduct.product.id;
    };
    /** Waits until every recommendation projection has applied everything in the event store. */
    const caughtUp = async () => {
      const head = await system.infrastructure.events.headPosition();
      for (const p of system.projectors.filter((x) => x.name.startsWith('recommendation-'))) await p.waitFor(head, 30_000);
    };
    const buy = async (customer: Headers, productIds: string[]) => {
      const placed = await call<{ placeOrder: { order: { id: string } } }>(PLACE, { input: { items: productIds.map((productId) => ({ productId, quantity: 1 })) } }, customer);
      const id = placed.data!.placeOrder.order.id;
      await eventually(async () => expect((await call<{ order: { status: string } }>(ORDER, { id }, customer)).data?.order.status).toBe('CONFIRMED'), 30_000);
      expect((await call<{ payOrder: { order: { status: string } } }>(PAY, { id }, customer)).data?.payOrder.order.status).toBe('PAID');
    };
    const view = (productId: string, headers: Headers) => call<{ recordProductView: boolean }>(VIEW, { id: productId }, headers);

    beforeAll(async () => {
      system = await startSystem(config, { logger: createLogger('recommendation-e2e', 'silent') });
      seller = await signUp(system.gatewayUrl, 'SELLER');
      const login = await call<{ login: { token: string } }>('mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: ADMIN.email, p: ADMIN.password });
      admin = { authorization: `Bearer ${login.data!.login.token}` };
      // A, B, C, D in one category; A with B twice, A with C once, A with D once.
      for (const name of ['A', 'B', 'C', 'D']) ids[name] = await createProduct(`Pan ${name}`);
      const customers = await Promise.all([0, 1, 2, 3].map(() => signUp(system.gatewayUrl, 'CUSTOMER')));
      await buy(customers[0]!.headers, [ids.A!, ids.B!]);
      await buy(customers[1]!.headers, [ids.A!, ids.B!]);
      await buy(customers[2]!.headers, [ids.A!, ids.C!]);
      await buy(customers[3]!.headers, [ids.A!, ids.D!]);
      await system.projectors.find((p) => p.name === 'integration-relay')!.waitFor(await system.infrastructure.events.headPosition(), 30_000);
      // The consumers record what the relay published; then the projections catch up.
      await eventually(async () => {
        await caughtUp();
        const r = await call<{ product: { recommendations: { id: string }[] } }>(BOUGHT_TOGETHER, { id: ids.A, first: 3 });
        expect(r.data?.product.recommendations.map((p) => p.id), r.raw).toEqual([ids.B, ...[ids.C!, ids.D!].sort()]);
      }, 30_000);
    });
    afterAll(async () => {
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestDatabase(servers?.MONGODB_URL);
    });

    it('resolves bought-together products with their product fields in the same query, ranked by cosine', async () => {
      // cos(A, B) = 2 / sqrt(4 * 2) = 0.71; cos(A, C) = cos(A, D) = 1 / sqrt(4 * 1) = 0.5: C and D by id.
      const [c, d] = [ids.C!, ids.D!].sort();
      const r = await call<{ product: { recommendations: { id: string; name: string; price: { amount: number }; stock: number }[] } }>(BOUGHT_TOGETHER, { id: ids.A, first: 3 });
      expect(r.errors).toBeUndefined();
      expect(r.data!.product.recommendations.map((p) => p.id)).toEqual([ids.B, c, d]);
      expect(r.data!.product.recommendations[0]).toEqual({ id: ids.B, name: 'Pan B', price: { amount: 500 }, stock: 18 });
      // B was bought only with A: A first, then trending in the category (never B itself).
      const b = await call<{ product: { recommendations: { id: string }[] } }>(BOUGHT_TOGETHER, { id: ids.B, first: 4 });
      expect(b.data!.product.recommendations[0]!.id).toBe(ids.A);
      expect(b.data!.product.recommendations.map((p) => p.id)).not.toContain(ids.B);
    });

    it('fetches the recommended products from the product subgraph in one _entities request per level', async () => {
      const proxy = await countingProxy(system.productUrl);
      let gateway: RunningGateway | undefined;
      try {
        gateway = await startGateway(
          {
            subgraphs: [
              { name: 'product', url: proxy.url },
              { name: 'order', url: system.orderUrl },
              { name: 'user', url: system.userUrl },
              { name: 'recommendation', url: system.recommendationUrl },
            ],
            logger: createLogger('counting-gateway', 'silent'),
            metrics: createMetrics(serviceRegistry('counting-gateway', { processMetrics: false })),
            auth: authKeys(config, createLogger('keys', 'silent')),
            limits: config.limits,
            limiter: new MemoryRateLimiter(),
            corsOrigins: ['*'],
            coalesceReads: false,
          },
          { port: 0, host: '127.0.0.1' },
        );
        proxy.bodies.length = 0;
        const one = await call<{ product: { recommendations: { name: string }[] } }>(BOUGHT_TOGETHER, { id: ids.A, first: 3 }, {}, gateway.url);
        expect(one.data!.product.recommendations.map((p) => p.name)).toHaveLength(3);
        const entities = () => proxy.bodies.filter((b) => b.includes('_entities'));
        expect(proxy.bodies).toHaveLength(2); // the product itself, then its three recommendations at once
        expect(entities()).toHaveLength(1);
        expect((JSON.parse(entities()[0]!) as { variables: { representations: unknown[] } }).variables.representations).toHaveLength(3);

        // Two levels of recommendations: one batch for each level, whatever the number of products.
        proxy.bodies.length = 0;
        const two = await call<{ product: { recommendations: { name: string; recommendations: { name: string }[] }[] } }>(
          'query($id: ID!) { product(id: $id) { recommendations(first: 3) { name recommendations(first: 3) { name stock } } } }',
          { id: ids.A },
          {},
          gateway.url,
        );
        expect(two.errors).toBeUndefined();
        expect(two.data!.product.recommendations.flatMap((p) => p.recommendations)).toHaveLength(9);
        expect(entities()).toHaveLength(2);
        expect(proxy.bodies).toHaveLength(3);
      } finally {
        await gateway?.close();
        await proxy.close();
      }
    });

    it('validates first, and answers NOT_FOUND and UNAUTHENTICATED for views as coded errors', async () => {
      for (const first of [0, 51]) {
        const r = await call(TRENDING, { first });
        expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', field: ['first'] });
        const p = await call(BOUGHT_TOGETHER, { id: ids.A, first });
        expect(p.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
      }
      expect((await call(TRENDING, { first: 50 })).errors).toBeUndefined();
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const unknown = await view(randomUUID(), customer.headers);
      expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: ['productId'] });
      expect(unknown.raw).not.toMatch(/stack|at \//);
      expect((await view(ids.A!, {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await view(ids.A!, customer.headers)).data?.recordProductView).toBe(true);
    });

    it('lets only the user themself or an admin read User.recommendations; a new user gets trending', async () => {
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const other = await signUp(system.gatewayUrl, 'CUSTOMER');
      const own = await call<{ me: { recommendations: { id: string }[] } }>('{ me { id recommendations(first: 3) { id name } } }', {}, customer.headers);
      expect(own.errors).toBeUndefined();
      const trending = await call<{ trendingProducts: { id: string }[] }>(TRENDING, { first: 3 });
      expect(own.data!.me.recommendations.map((p) => p.id)).toEqual(trending.data!.trendingProducts.map((p) => p.id));
      // The seller of a product is a User any caller can reach: only they or an admin see their recommendations.
      const sellerRecs = 'query($id: ID!) { product(id: $id) { seller { id recommendations { id } } } }';
      expect((await call(sellerRecs, { id: ids.A }, other.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await call(sellerRecs, { id: ids.A }, {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await call(sellerRecs, { id: ids.A }, seller.headers)).errors).toBeUndefined();
      const byAdmin = await call<{ user: { recommendations: unknown[] } }>('query($id: ID!) { user(id: $id) { recommendations(first: 2) { id } } }', { id: customer.userId }, admin);
      expect(byAdmin.errors).toBeUndefined();
      expect(byAdmin.data!.user.recommendations).toHaveLength(2);
    });

    it('counts one user\'s views of a product at most once per hour: reloading does not make it trend', async () => {
      const shelf = `shelf-${randomUUID().slice(0, 8)}`;
      const [flooded, liked] = [await createProduct('Flooded', 5, shelf), await createProduct('Liked', 5, shelf)];
      const [bot, alice, bob] = await Promise.all([0, 1, 2].map(() => signUp(system.gatewayUrl, 'CUSTOMER')));
      await eventually(async () => expect((await view(flooded, bot!.headers)).data?.recordProductView).toBe(true), 30_000);
      await eventually(async () => expect((await view(liked, alice!.headers)).data?.recordProductView).toBe(true), 30_000);
      for (let i = 0; i < 20; i++) expect((await view(flooded, bot!.headers)).data?.recordProductView).toBe(true);
      expect((await view(liked, bob!.headers)).data?.recordProductView).toBe(true);
      await caughtUp();
      const r = await call<{ trendingProducts: { id: string; name: string }[] }>(TRENDING, { first: 5, category: shelf });
      expect(r.data!.trendingProducts.map((p) => p.name)).toEqual(['Liked', 'Flooded']); // 2 counted views against 1
    });

    it('exports its metrics: query latency by query and cache outcome, cache hit ratio, interactions', async () => {
      await call(TRENDING, { first: 3 });
      await call(TRENDING, { first: 3 });
      const metrics = await (await fetch(new URL('/metrics', system.recommendationUrl))).text();
      expect(metrics).toMatch(/storefront_recommendation_query_duration_seconds_bucket\{[^}]*query="trending"[^}]*cache="hit"/);
      expect(metrics).toMatch(/storefront_cache_requests_total\{[^}]*cache="recommendations"[^}]*result="hit"/);
      expect(metrics).toMatch(/storefront_recommendation_interactions_total\{[^}]*kind="purchase"[^}]*recorded="true"/);
      expect(metrics).toMatch(/service="recommendation"/);
    });

    it('never recommends a product once its discontinuation is projected, even from a warm cache; npm run replay rebuilds the same answers', async () => {
      const before = await call<{ product: { recommendations: { id: string }[] } }>(BOUGHT_TOGETHER, { id: ids.A, first: 3 });
      expect(before.data!.product.recommendations.map((p) => p.id)).toContain(ids.D);
      const r = await call<{ discontinueProduct: { userErrors: unknown[] } }>('mutation($id: ID!) { discontinueProduct(id: $id) { userErrors { code } } }', { id: ids.D }, seller.headers);
      expect(r.data!.discontinueProduct.userErrors).toEqual([]);
      // Once the facts event is projected, the very next answer leaves D out (the warm entry is gone).
      const discontinued = await eventually(async () => {
        const last = (await system.infrastructure.events.readStream(productFactsStream(ids.D!))).at(-1);
        expect(last?.data).toMatchObject({ status: 'DISCONTINUED' });
        return last!;
      }, 30_000);
      await system.projectors.find((p) => p.name === 'recommendation-product-facts')!.waitFor(discontinued.position, 30_000);
      const after = await call<{ product: { recommendations: { id: string }[] } }>(BOUGHT_TOGETHER, { id: ids.A, first: 3 });
      expect(after.data!.product.recommendations.map((p) => p.id)).not.toContain(ids.D);
      const answer = async () => (await call<{ product: { recommendations: { id: string }[] } }>(BOUGHT_TOGETHER, { id: ids.A, first: 5 })).data!.product.recommendations.map((p) => p.id);
      const live = await answer();
      expect(live.slice(0, 2)).toEqual([ids.B, ids.C]);
      const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'projections/replay.ts', 'recommendation-co-purchases', '--url', system.projectorUrl], { timeout: 60_000 });
      expect(stdout).toMatch(/recommendation-co-purchases rebuilt from \d+ events and switched over/);
      expect(await answer()).toEqual(live);
    });

    it('fills a new category up from its catalog (available products, by id) before anything is bought or viewed', async () => {
      const fresh = `garden-${randomUUID().slice(0, 8)}`;
      // Hose S is sold out: never recommended, so three candidates for five places give two.
      const [x, y, z] = [await createProduct('Hose X', 5, fresh), await createProduct('Hose Y', 5, fresh), await createProduct('Hose Z', 5, fresh), await createProduct('Hose S', 0, fresh)];
      const expected = [y, z].sort();
      await eventually(async () => {
        const r = await call<{ product: { recommendations: { id: string }[] } }>(BOUGHT_TOGETHER, { id: x, first: 5 });
        expect(r.data?.product.recommendations.map((p) => p.id), r.raw).toEqual(expected);
      }, 30_000);
    });

    it('answers bought-together from the gateway\'s response cache, and from the new purchases once they are projected', async () => {
      const RECS = 'query Recs($id: ID!) { product(id: $id) { recommendations(first: 2) { name stock } } }';
      const ask = async () => {
        const response = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: RECS, variables: { id: ids.A } }) });
        const body = (await response.json()) as { data: { product: { recommendations: { name: string }[] } } };
        return { cache: response.headers.get('x-cache'), names: body.data.product.recommendations.map((p) => p.name) };
      };
      await ask();
      // Warm: served by the gateway without asking a subgraph (the names of products in the answer do not show their ids).
      expect(await ask()).toEqual({ cache: 'HIT', names: ['Pan B', 'Pan C'] });
      // Two more orders of A with C: C now goes with A more often than B (cosine 3/sqrt(6*3) > 2/sqrt(6*2)).
      const customers = await Promise.all([0, 1].map(() => signUp(system.gatewayUrl, 'CUSTOMER')));
      for (const c of customers) await buy(c.headers, [ids.A!, ids.C!]);
      await system.projectors.find((p) => p.name === 'integration-relay')!.waitFor(await system.infrastructure.events.headPosition(), 30_000);
      await eventually(async () => {
        await caughtUp();
        expect((await ask()).names).toEqual(['Pan C', 'Pan B']);
      }, 10_000); // well within the 30 s an answer may be kept: the purchase's projection voided it
      // Kept again (the orders' stock changes, projected meanwhile, may void an answer or two first).
      await eventually(async () => expect(await ask()).toEqual({ cache: 'HIT', names: ['Pan C', 'Pan B'] }), 10_000);
    });
  });
}

recommendationSuite('embedded', undefined);
withAllServers('recommendations through the gateway on FerretDB, Redis and Kafka', (servers) => recommendationSuite('FerretDB, Redis, Kafka', servers));
