import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { createLogger } from '../platform/logging.js';
import { READ_AFTER_POSITION_HEADER } from '../platform/read-your-writes.js';
import { graphql, signUp, type GraphQLResponse } from '../platform/testing/graphql-client.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { userStream } from '../subgraphs/user/events.js';

// Read-your-writes through the gateway (README, "Read your writes"): a mutation's answer carries
// extensions.position; a query sent with it in x-read-after-position sees the write, across
// subgraphs, or fails with READ_MODEL_BEHIND once the wait bound passes.

const MAX_WAIT_MS = 2000;
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id stock } userErrors { code message } } }';
const RESTOCK = 'mutation($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { product { id stock } userErrors { code message } } }';
/** Two subgraphs: the product (catalog read model), its seller (user subgraph). */
const PRODUCT_AND_SELLER = 'query($id: ID!) { product(id: $id) { id name stock seller { id name } } }';
/** One subgraph: the gateway's fast path, and an answer its response cache keeps. */
const PRODUCT = 'query($id: ID!) { product(id: $id) { id name stock } }';
/** Two read models in two subgraphs: the order (orders) and its products (catalog). */
const ORDER = 'query($id: ID!) { order(id: $id) { id status items { quantity product { id name } } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status } userErrors { code message } } }';

type Product = { id: string; name: string; stock: number; seller?: { id: string; name: string } };

function readYourWritesSuite(mode: string, servers: Record<string, string> | undefined) {
  describe(`read-your-writes through the gateway (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'storefront-ryw-'));
    let system: RunningSystem;
    let seller: { userId: string; headers: Record<string, string> };
    const call = <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers: Record<string, string> = seller.headers) => graphql<T>(system.gatewayUrl, query, variables, headers);
    const after = (position: string | undefined, headers: Record<string, string> = seller.headers) => {
      if (!position) throw new Error('the mutation answered no position');
      return { ...headers, [READ_AFTER_POSITION_HEADER]: position };
    };
    const positionOf = (response: GraphQLResponse) => (response as GraphQLResponse & { extensions?: { position?: unknown } }).extensions?.position as string | undefined;
    const catalogProjector = () => system.projectors.find((p) => p.name === 'product-catalog')!;
    const createProduct = async (stock = 3) => {
      const tag = randomUUID().slice(0, 8);
      const r = await call<{ createProduct: { product: { id: string; stock: number } } }>(CREATE, { input: { sku: `RYW-${tag}`, name: `Lamp ${tag}`, category: 'ryw', price: { amount: 990, currency: 'EUR' }, initialStock: stock } });
      expect(r.errors).toBeUndefined();
      return { id: r.data!.createProduct.product.id, position: positionOf(r) };
    };
    /** While the catalog projector is stopped, nothing reaches the catalog read model. */
    const withCatalogStopped = async (work: () => Promise<void>) => {
      await catalogProjector().stop();
      try {
        await work();
      } finally {
        if (!catalogProjector().running) await catalogProjector().start();
      }
    };

    beforeAll(async () => {
      system = await startSystem(testSystemConfig(dataDir, { READ_AFTER_POSITION_MAX_WAIT_MS: String(MAX_WAIT_MS), RATE_LIMIT_PER_MINUTE: '100000', ...servers }), { logger: createLogger('e2e', 'silent') });
      seller = await signUp(system.gatewayUrl, 'SELLER');
    });
    afterAll(async () => {
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestDatabase(servers?.MONGODB_URL);
    });

    it('a mutation answers with the position it appended (the highest over the subgraphs it wrote to); one appending nothing carries none', async () => {
      const { id, position } = await createProduct();
      expect(position).toMatch(/^\d+$/);

      const nothing = await call<{ restockProduct: { userErrors: { code: string }[] } }>(RESTOCK, { id, quantity: 0 });
      expect(nothing.data?.restockProduct.userErrors[0]?.code).toBe('INVALID_INPUT');
      expect(positionOf(nothing)).toBeUndefined();

      // Two subgraphs, the last fetch appending nothing: the answer keeps the first one's position.
      const name = `Seller ${randomUUID().slice(0, 6)}`;
      const both = await call(`mutation($id: ID!, $name: String) { updateProfile(input: { name: $name }) { user { name } } restockProduct(id: $id, quantity: 0) { userErrors { code } } }`, { id, name });
      expect(both.errors).toBeUndefined();
      const profile = await system.infrastructure.events.readLastEvent(userStream(seller.userId));
      expect(positionOf(both)).toBe(String(profile!.position));

      // Both appending: the later one (the restock, after the profile change) is the highest.
      const twice = await call<{ restockProduct: { product: { stock: number } } }>(`mutation($id: ID!, $name: String) { updateProfile(input: { name: $name }) { user { name } } restockProduct(id: $id, quantity: 1) { product { stock } } }`, { id, name: `${name}!` });
      const restocked = (await system.infrastructure.events.readStream(`product-${id}`)).at(-1)!;
      expect(restocked.type).toBe('ProductRestocked');
      expect(BigInt(positionOf(twice)!)).toBeGreaterThan(BigInt(positionOf(both)!));
      expect(positionOf(twice)).toBe(String(restocked.position));
    });

    it('a query spanning two subgraphs sent with the position sees the write at once, every time', async () => {
      const { id } = await createProduct(0);
      let staleWithout = 0;
      for (let i = 1; i <= 20; i++) {
        const restock = await call<{ restockProduct: { product: { stock: number } } }>(RESTOCK, { id, quantity: 1 });
        expect(restock.data?.restockProduct.product.stock).toBe(2 * i - 1);
        const read = await call<{ product: Product }>(PRODUCT_AND_SELLER, { id }, after(positionOf(restock)));
        expect(read.errors).toBeUndefined();
        expect(read.data?.product).toMatchObject({ id, stock: 2 * i - 1, seller: { id: seller.userId } });
        // The same right after a write without the header: allowed to miss it (counted, not required).
        const again = await call<{ restockProduct: { product: { stock: number } } }>(RESTOCK, { id, quantity: 1 });
        const plain = await call<{ product: Product }>(PRODUCT_AND_SELLER, { id });
        if (plain.data?.product.stock !== again.data?.restockProduct.product.stock) staleWithout++;
      }
      expect(staleWithout).toBeGreaterThanOrEqual(0);
    });

    it('an order placed is there for a query of the order and its products sent with the position (orders and catalog read models)', async () => {
      const { id: productId } = await createProduct(50);
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      for (let i = 0; i < 5; i++) {
        const placed = await call<{ placeOrder: { order: { id: string } } }>(PLACE, { input: { items: [{ productId, quantity: 1 }] } }, customer.headers);
        expect(placed.errors).toBeUndefined();
        const orderId = placed.data!.placeOrder.order.id;
        const read = await call<{ order: { id: string; items: { product: { id: string } }[] } | null }>(ORDER, { id: orderId }, after(positionOf(placed), customer.headers));
        expect(read.errors).toBeUndefined();
        expect(read.data?.order).toMatchObject({ id: orderId, items: [{ quantity: 1, product: { id: productId } }] });
      }
    });

    it('without the header a query answers what is there; with it, it waits for the projector to reach the position', async () => {
      const { id } = await createProduct(1);
      await withCatalogStopped(async () => {
        const restock = await call<{ restockProduct: { product: { stock: number } } }>(RESTOCK, { id, quantity: 5 });
        expect(restock.data?.restockProduct.product.stock).toBe(6);
        const stale = await call<{ product: Product }>(PRODUCT_AND_SELLER, { id });
        expect(stale.data?.product.stock).toBe(1); // the catalog has not projected it

        let settled = false;
        const waiting = call<{ product: Product }>(PRODUCT_AND_SELLER, { id }, after(positionOf(restock))).finally(() => (settled = true));
        await sleep(300);
        expect(settled).toBe(false);
        await catalogProjector().start();
        const read = await waiting;
        expect(read.errors).toBeUndefined();
        expect(read.data?.product.stock).toBe(6);
      });
    });

    it('times out with READ_MODEL_BEHIND (HTTP 503, naming the read model) after about the configured wait, on both gateway paths and past a warm response cache', async () => {
      const { id } = await createProduct(1);
      // A cached answer for the single-subgraph query (anonymous: shared by everybody).
      const anonymous = {};
      await call(PRODUCT, { id }, anonymous);
      let warm = false;
      for (let i = 0; i < 200 && !warm; i++) {
        const response = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: PRODUCT, variables: { id } }) });
        warm = response.headers.get('x-cache') === 'HIT';
        await response.text();
        if (!warm) await sleep(50);
      }
      expect(warm).toBe(true);

      await withCatalogStopped(async () => {
        const restock = await call<{ restockProduct: { product: { stock: number } } }>(RESTOCK, { id, quantity: 2 });
        const position = positionOf(restock)!;
        for (const [query, headers] of [
          [PRODUCT_AND_SELLER, seller.headers], // planned: product, then user
          [PRODUCT, anonymous], // fast path, and an answer the response cache holds from before the write
        ] as const) {
          const started = performance.now();
          const response = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...after(position, headers) }, body: JSON.stringify({ query, variables: { id } }) });
          const elapsed = performance.now() - started;
          const body = (await response.json()) as { data?: unknown; errors?: { message: string; extensions: Record<string, unknown> }[] };
          expect(response.status).toBe(503);
          expect(response.headers.get('retry-after')).toBe('1');
          expect(response.headers.get('x-cache')).not.toBe('HIT');
          expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'READ_MODEL_BEHIND', requiredPosition: position });
          expect(body.errors?.[0]?.extensions.stacktrace).toBeUndefined();
          expect(body.errors?.[0]?.message).toMatch(/product-catalog is at position \d+, \d+ behind/);
          expect(elapsed).toBeGreaterThanOrEqual(MAX_WAIT_MS - 50);
          expect(elapsed).toBeLessThan(MAX_WAIT_MS + 4000); // a loaded machine answers late, never early
        }
      });
      // Caught up again: the same request is answered, with the write.
      const restocked = await call<{ product: Product }>(PRODUCT, { id }, after(String(await system.infrastructure.events.headPosition()), {}));
      expect(restocked.data?.product.stock).toBe(3);
    });

    it('refuses a malformed header with INVALID_INPUT, at the gateway and at a subgraph', async () => {
      const { id } = await createProduct();
      for (const bad of ['abc', '-1', '1.5', '12345678901234567890', '0x10', '']) {
        for (const url of [system.gatewayUrl, system.productUrl]) {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', [READ_AFTER_POSITION_HEADER]: bad }, body: JSON.stringify({ query: PRODUCT, variables: { id } }) });
          const body = (await response.json()) as { errors?: { message: string; extensions: Record<string, unknown> }[] };
          expect(response.status, `${bad} at ${url}`).toBe(400);
          expect(body.errors?.[0]?.extensions.code).toBe('INVALID_INPUT');
          expect(body.errors?.[0]?.message).toContain(READ_AFTER_POSITION_HEADER);
        }
      }
    });
  });
}

readYourWritesSuite('embedded', undefined);
withAllServers('read-your-writes through the gateway on FerretDB, Redis and Kafka', (servers) => readYourWritesSuite('FerretDB, Redis, Kafka', servers));
