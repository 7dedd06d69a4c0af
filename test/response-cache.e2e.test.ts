import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { withServer } from '../platform/testing/servers.js';
import { testSystemConfig } from '../platform/testing/test-config.js';

// The gateway's response cache seen from a client: warm reads are answered from it, a projected
// change is never hidden by it, personal data never goes through it, and HTTP revalidation works.

const CATALOG = 'query Catalog { products(first: 20) { edges { node { id name price { amount currency } stock } } } }';
const PRODUCT = 'query Product($id: ID!) { product(id: $id) { id name price { amount currency } stock seller { id } } }';
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code } } }';
const REPRICE = 'mutation($id: ID!, $amount: Int!) { updateProduct(id: $id, input: { price: { amount: $amount, currency: "EUR" } }) { userErrors { code } } }';
const RESTOCK = 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { userErrors { code } } }';

interface Catalog {
  products: { edges: { node: { id: string; price: { amount: number } } }[] };
}

interface Answer {
  status: number;
  cache: string | null;
  etag: string | null;
  cacheControl: string | null;
  body: string;
  json: { data?: Record<string, unknown> | null; errors?: unknown[] } | undefined;
}

function responseCacheSuite(mode: string, overrides: Record<string, string>, options: { immediate: boolean }) {
  describe(`the gateway response cache (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'response-cache-'));
    let system: RunningSystem;
    let seller: Awaited<ReturnType<typeof signUp>>;
    const ids: string[] = [];

    /** POST (the single-subgraph fast path) or GET (through Apollo's planner), with the headers that matter. */
    const ask = async (query: string, variables: Record<string, unknown> = {}, init: { method?: 'GET' | 'POST'; headers?: Record<string, string> } = {}): Promise<Answer> => {
      const method = init.method ?? 'POST';
      const url = method === 'GET' ? `${system.gatewayUrl}?${new URLSearchParams({ query, variables: JSON.stringify(variables) }).toString()}` : system.gatewayUrl;
      const response = await fetch(url, {
        method,
        headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : { 'apollo-require-preflight': 'true' }), ...init.headers },
        ...(method === 'POST' && { body: JSON.stringify({ query, variables }) }),
      });
      const body = await response.text();
      return { status: response.status, cache: response.headers.get('x-cache'), etag: response.headers.get('etag'), cacheControl: response.headers.get('cache-control'), body, json: body ? (JSON.parse(body) as Answer['json']) : undefined };
    };
    const priceIn = (answer: Answer, id: string): number | undefined => {
      const data = answer.json?.data as (Partial<Catalog> & { product?: { price: { amount: number } } }) | undefined;
      return data?.product?.price.amount ?? data?.products?.edges.find((e) => e.node.id === id)?.node.price.amount;
    };
    /** Resolves once the projections the cache hears from have applied (and announced) everything appended so far. */
    const projected = async () => {
      const head = await system.infrastructure.events.headPosition();
      for (const name of ['product-catalog', 'user-profiles']) {
        const projector = system.projectors.find((p) => p.name === name)!;
        await eventually(() => expect(projector.currentPosition).toBeGreaterThanOrEqual(head), 20_000, 5);
      }
    };
    const metric = async (result: string) => {
      const text = await (await fetch(system.gatewayUrl.replace('/graphql', '/metrics'))).text();
      return Number(new RegExp(`^storefront_cache_requests_total\\{[^}]*cache="gateway_response"[^}]*result="${result}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };

    beforeAll(async () => {
      system = await startSystem(testSystemConfig(dataDir, { RATE_LIMIT_PER_MINUTE: '1000000', ...overrides }), { logger: createLogger('e2e', 'silent') });
      expect(system.gatewayUrl).toBeTruthy();
      seller = await signUp(system.gatewayUrl, 'SELLER');
      for (let i = 0; i < 3; i++) {
        const r = await graphql<{ createProduct: { product: { id: string } } }>(system.gatewayUrl, CREATE, { input: { sku: `RC-${randomUUID().slice(0, 8)}`, name: `Kettle ${i}`, category: 'kitchen', price: { amount: 1000, currency: 'EUR' }, initialStock: 50 } }, seller.headers);
        ids.push(r.data!.createProduct.product.id);
      }
      await projected();
    }, 60_000);
    afterAll(async () => {
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('answers a warm catalog from the cache, and never with an old price once the change is projected, however requests race it', async () => {
      const id = ids[0]!;
      for (const [query, variables] of [[CATALOG, {}], [PRODUCT, { id }]] as const) {
        await ask(query, variables);
        expect((await ask(query, variables)).cache).toBe('HIT');
      }
      const hitsBefore = await metric('hit');
      // Readers keep the cache warm and keep requests in flight while the price changes under them.
      let reading = true;
      const readers = Array.from({ length: 4 }, async (_, n) => {
        while (reading) await ask(n % 2 ? CATALOG : PRODUCT, n % 2 ? {} : { id }, { method: n < 2 ? 'POST' : 'GET' });
      });
      try {
        for (let round = 1; round <= 8; round++) {
          const amount = 1000 + round;
          expect((await graphql<{ updateProduct: { userErrors: unknown[] } }>(system.gatewayUrl, REPRICE, { id, amount }, seller.headers)).data?.updateProduct.userErrors).toEqual([]);
          await projected();
          const check = async () => {
            const answers = await Promise.all(
              [CATALOG, PRODUCT].flatMap((query) => (['POST', 'GET'] as const).flatMap((method) => Array.from({ length: 3 }, () => ask(query, { id }, { method })))),
            );
            for (const answer of answers) expect(priceIn(answer, id), answer.body).toBe(amount);
          };
          // In one process the gateway hears of the change before the projector moves on; over Redis
          // pub/sub a moment later: then the first new price must be followed by no old one.
          if (options.immediate) await check();
          else await eventually(check, 5000, 5);
          await check();
        }
      } finally {
        reading = false;
        await Promise.all(readers);
      }
      expect(await metric('hit')).toBeGreaterThan(hitsBefore);
      // A hit counts as a request of its operation (the dashboards' request rate and latency).
      const catalogRequests = async () => Number(/^storefront_graphql_request_duration_seconds_count\{[^}]*operation="Catalog"[^}]*\} (\d+)/m.exec(await (await fetch(system.gatewayUrl.replace('/graphql', '/metrics'))).text())?.[1]);
      const counted = await catalogRequests();
      expect((await ask(CATALOG)).cache).toBe('HIT');
      expect(await catalogRequests()).toBe(counted + 1);
    }, 60_000);

    it('shows a new product in a cached list once it is projected', async () => {
      await ask(CATALOG);
      expect((await ask(CATALOG)).cache).toBe('HIT');
      const r = await graphql<{ createProduct: { product: { id: string } } }>(system.gatewayUrl, CREATE, { input: { sku: `RC-${randomUUID().slice(0, 8)}`, name: 'Teapot', category: 'kitchen', price: { amount: 700, currency: 'EUR' }, initialStock: 5 } }, seller.headers);
      const id = r.data!.createProduct.product.id;
      await projected();
      const check = async () => expect(((await ask(CATALOG)).json?.data as unknown as Catalog).products.edges.map((e) => e.node.id)).toContain(id);
      if (options.immediate) await check();
      else await eventually(check, 5000, 5);
    });

    it('answers the catalog with its sellers (two subgraphs) from the cache, and a seller\'s new name once it is projected', async () => {
      const WITH_SELLER = 'query CatalogWithSeller { products(first: 20) { edges { node { id name seller { id name } } } } }';
      const names = (answer: Answer) => new Set((answer.json?.data as { products: { edges: { node: { seller: { id: string; name: string } } }[] } }).products.edges.filter((e) => e.node.seller.id === seller.userId).map((e) => e.node.seller.name));
      for (const method of ['POST', 'GET'] as const) {
        await ask(WITH_SELLER, {}, { method });
        expect((await ask(WITH_SELLER, {}, { method })).cache).toBe('HIT');
      }
      const name = `Seller ${randomUUID().slice(0, 6)}`;
      expect((await graphql<{ updateProfile: { userErrors: unknown[] } }>(system.gatewayUrl, 'mutation($name: String) { updateProfile(input: { name: $name }) { userErrors { code } } }', { name }, seller.headers)).data?.updateProfile.userErrors).toEqual([]);
      await projected();
      const check = async () => {
        for (const method of ['POST', 'GET'] as const) expect(names(await ask(WITH_SELLER, {}, { method }))).toEqual(new Set([name]));
      };
      if (options.immediate) await check();
      else await eventually(check, 5000, 5);
      // A seller's email is personal: an answer holding it is never cached.
      const withEmail = await ask('{ products(first: 1) { edges { node { seller { email } } } } }', {}, { headers: seller.headers });
      expect(withEmail.cache).toBeNull();
    });

    it('never caches or shares personal answers: me, a user, an order', async () => {
      const customers = await Promise.all([signUp(system.gatewayUrl, 'CUSTOMER'), signUp(system.gatewayUrl, 'CUSTOMER')]);
      const ME = '{ me { id email } products(first: 1) { edges { node { id } } } }';
      for (let round = 0; round < 3; round++) {
        for (const customer of customers) {
          const answer = await ask(ME, {}, { headers: customer.headers });
          expect(answer.cache).toBeNull();
          expect((answer.json?.data as { me: { id: string; email: string } }).me.id).toBe(customer.userId);
        }
      }
      const USER = 'query($id: ID!) { user(id: $id) { id email } }';
      expect((await ask(USER, { id: customers[0].userId }, { headers: customers[0].headers })).json?.data).toMatchObject({ user: { id: customers[0].userId, email: expect.stringContaining('@') as unknown } });
      const other = await ask(USER, { id: customers[0].userId }, { headers: customers[1].headers });
      expect(other.cache).toBeNull();
      expect(JSON.stringify(other.json)).not.toContain('@');
      const placed = await graphql<{ placeOrder: { order: { id: string } } }>(system.gatewayUrl, 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code } } }', { input: { items: [{ productId: ids[1], quantity: 1 }] } }, customers[0].headers);
      const orderId = placed.data!.placeOrder.order.id;
      const ORDER = 'query($id: ID!) { order(id: $id) { id customer { id } items { product { id name price { amount } } } } }';
      for (let round = 0; round < 2; round++) {
        const own = await ask(ORDER, { id: orderId }, { headers: customers[0].headers });
        expect(own.cache).toBeNull();
        expect(own.json?.data).toMatchObject({ order: { id: orderId, customer: { id: customers[0].userId } } });
        const stranger = await ask(ORDER, { id: orderId }, { headers: customers[1].headers });
        expect(stranger.cache).toBeNull();
        expect(JSON.stringify(stranger.json?.data ?? null)).not.toContain(customers[0].userId);
        const anonymous = await ask(ORDER, { id: orderId });
        expect(JSON.stringify(anonymous.json?.data ?? null)).not.toContain(customers[0].userId);
      }
    });

    it('lets an anonymous GET revalidate with If-None-Match (304), until the answer changes', async () => {
      const id = ids[2]!;
      const first = await ask(PRODUCT, { id }, { method: 'GET' });
      expect(first.status).toBe(200);
      expect(first.cacheControl).toBe('public, no-cache');
      expect(first.etag).toMatch(/^W\/".+"$/);
      const again = await ask(PRODUCT, { id }, { method: 'GET', headers: { 'if-none-match': first.etag! } });
      expect(again.status).toBe(304);
      expect(again.body).toBe('');
      // POST has no 304 (a POST's precondition would answer 412): the answer comes, with its ETag.
      const posted = await ask(PRODUCT, { id }, { headers: { 'if-none-match': first.etag! } });
      expect(posted.status).toBe(200);
      expect(posted.etag).toBe(first.etag);
      // Signed in: the same public answer, marked private.
      expect((await ask(PRODUCT, { id }, { method: 'GET', headers: seller.headers })).cacheControl).toBe('private, no-cache');
      expect((await graphql<{ restockProduct: { userErrors: unknown[] } }>(system.gatewayUrl, RESTOCK, { id }, seller.headers)).data?.restockProduct.userErrors).toEqual([]);
      await projected();
      const check = async () => {
        const changed = await ask(PRODUCT, { id }, { method: 'GET', headers: { 'if-none-match': first.etag! } });
        expect(changed.status).toBe(200);
        expect(changed.etag).not.toBe(first.etag);
      };
      if (options.immediate) await check();
      else await eventually(check, 5000, 5);
    });

    it('answers identical cold reads arriving together with one fetch: the others wait for it', async () => {
      const QUERY = `query Cold { products(first: 3, sort: PRICE_DESC) { edges { node { id name } } } } # ${randomUUID()}`;
      const misses = await metric('miss');
      const answers = await Promise.all(Array.from({ length: 20 }, () => ask(QUERY)));
      expect(new Set(answers.map((a) => JSON.stringify(a.json?.data))).size).toBe(1);
      expect(answers.filter((a) => a.cache === 'MISS')).toHaveLength(1);
      expect((await metric('miss')) - misses).toBe(1);
    });

    it('keeps no errors, and answers afresh a request that asks for it (Cache-Control: no-cache)', async () => {
      const INVALID = '{ products(first: 5, filter: { minPrice: 10, maxPrice: 1 }) { totalCount } }';
      for (let i = 0; i < 2; i++) {
        const answer = await ask(INVALID);
        expect(answer.json?.errors).toBeDefined();
        expect(answer.cache).not.toBe('HIT');
      }
      await ask(CATALOG);
      expect((await ask(CATALOG)).cache).toBe('HIT');
      expect((await ask(CATALOG, {}, { headers: { 'cache-control': 'no-cache' } })).cache).toBe('MISS');
    });
  });
}

responseCacheSuite('embedded, in-process invalidations', {}, { immediate: true });
withServer('REDIS_URL', 'the gateway response cache over Redis pub/sub', (url) => {
  responseCacheSuite('Redis pub/sub invalidations', { REDIS_URL: url, NAMESPACE: `rc-${randomUUID().slice(0, 8)}` }, { immediate: false });
});

describe('the gateway response cache switched off (GATEWAY_RESPONSE_CACHE=false)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'response-cache-off-'));
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem(testSystemConfig(dataDir, { GATEWAY_RESPONSE_CACHE: 'false' }), { logger: createLogger('e2e', 'silent') });
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every request afresh, with no cache headers', async () => {
    for (let i = 0; i < 2; i++) {
      const response = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: CATALOG }) });
      expect(response.status).toBe(200);
      expect([response.headers.get('x-cache'), response.headers.get('etag')]).toEqual([null, null]);
    }
  });
});
