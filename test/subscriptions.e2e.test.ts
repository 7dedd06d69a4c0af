import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { SeededRandom } from '../platform/testing/seeded-random.js';
import { collect, cursorOfResult, type Received } from '../platform/testing/subscription-client.js';
import { encodeCursor } from '../platform/subscriptions/cursor.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

// Subscriptions that lose nothing, through the gateway of the embedded system: every event
// carries its cursor; a client that comes back with its last cursor gets exactly what it missed.

const CREATE = `mutation Create($input: CreateProductInput!) { createProduct(input: $input) { product { id stock } userErrors { code message } } }`;
const RESTOCK = `mutation Restock($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { product { id stock } userErrors { code message } } }`;
const WATCH = `subscription Watch($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { cursor stock previousStock reason product { id stock seller { id } } } }`;

const bootConfig = (dir: string, overrides: Record<string, string> = {}) =>
  loadConfig({ DATA_DIR: dir, PORT: '0', PRODUCT_PORT: '0', ORDER_PORT: '0', USER_PORT: '0', RECOMMENDATION_PORT: '0', PROJECTOR_PORT: '0', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false', EVENTSTORE_FSYNC: 'false', PASSWORD_HASH_COST: '10', RATE_LIMIT_PER_MINUTE: '100000', ...overrides });

type StockEvent = { cursor: string; stock: number; previousStock: number; reason: string; product: { id: string; stock: number; seller: { id: string } } };
const stockOf = (r: Received) => (r.data?.stockChanged as StockEvent | undefined)?.stock;

describe('resumable subscriptions through the gateway (embedded)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'subscriptions-e2e-'));
  let system: RunningSystem;
  let seller: { userId: string; headers: Record<string, string> };

  const createProduct = async () => {
    const tag = randomUUID().slice(0, 8);
    const r = await graphql<{ createProduct: { product: { id: string; stock: number } } }>(system.gatewayUrl, CREATE, { input: { sku: `SUB-${tag}`, name: `Watched ${tag}`, category: 'home', price: { amount: 1000, currency: 'EUR' }, initialStock: 0 } }, seller.headers);
    const product = r.data?.createProduct.product;
    if (!product) throw new Error(`create failed: ${r.raw}`);
    return product.id;
  };
  const restock = async (id: string) => {
    const r = await graphql<{ restockProduct: { product: { stock: number } | null } }>(system.gatewayUrl, RESTOCK, { id, quantity: 1 }, seller.headers);
    const stock = r.data?.restockProduct.product?.stock;
    if (stock === undefined) throw new Error(`restock failed: ${r.raw}`);
    return stock;
  };
  /** Subscribes and restocks by one until the subscription is live; returns it and the stock reached. */
  const liveSubscription = async (client: ReturnType<typeof wsClient>, id: string, after: string | null = null) => {
    const sub = collect(client, WATCH, { ids: [id], after });
    let stock = 0;
    while (sub.results.length === 0) {
      stock = await restock(id);
      await Promise.race([eventually(() => expect(sub.results.length).toBeGreaterThan(0), 300).catch(() => undefined), sub.done]);
    }
    await eventually(() => expect(stockOf(sub.results.at(-1)!)).toBe(stock));
    return { sub, stock };
  };

  beforeAll(async () => {
    system = await startSystem(bootConfig(dataDir), { logger: createLogger('e2e', 'silent') });
    seller = await signUp(system.gatewayUrl, 'SELLER');
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('gives every event its cursor, as a field and in extensions.cursor', async () => {
    const id = await createProduct();
    const client = wsClient(system.gatewayUrl);
    const { sub } = await liveSubscription(client, id);
    for (const r of sub.results) {
      expect(r.errors).toBeUndefined();
      expect((r.data?.stockChanged as StockEvent).cursor).toBe(cursorOfResult(r));
      expect((r.data?.stockChanged as StockEvent).product.seller.id).toBe(seller.userId);
    }
    sub.stop();
    await client.dispose();
  });

  it('a subscriber away while 100 restocks happen comes back with its cursor and gets exactly those 100, in order, then live ones', async () => {
    const id = await createProduct();
    const first = wsClient(system.gatewayUrl);
    const { sub, stock: seen } = await liveSubscription(first, id);
    const cursor = cursorOfResult(sub.results.at(-1));
    expect(cursor).not.toBeNull();
    sub.stop();
    await first.dispose();

    const missed: number[] = [];
    for (let i = 0; i < 100; i++) missed.push(await restock(id));
    expect(missed).toEqual(Array.from({ length: 100 }, (_, i) => seen + 1 + i));

    const again = wsClient(system.gatewayUrl);
    const resumed = collect(again, WATCH, { ids: [id], after: cursor });
    await eventually(() => expect(resumed.results.length).toBe(100));
    const live = await restock(id);
    await eventually(() => expect(resumed.results.length).toBe(101));
    expect(resumed.results.map(stockOf)).toEqual([...missed, live]);
    expect(resumed.results.every((r) => r.errors === undefined)).toBe(true);
    expect((resumed.results[0]!.data?.stockChanged as StockEvent).previousStock).toBe(seen);
    resumed.stop();
    await again.dispose();
  });

  for (const seed of [1, 7, 42, 1337]) {
    it(`resumes with writes racing the reconnect, no gap and no duplicate (seed ${seed})`, async () => {
      const random = new SeededRandom(seed);
      const id = await createProduct();
      const firstClient = wsClient(system.gatewayUrl);
      const { sub: first } = await liveSubscription(firstClient, id);
      // A writer restocks throughout, while the subscriber leaves and comes back.
      const total = 60;
      let written = 0;
      let writerStock = 0;
      const writer = (async () => {
        for (; written < total; written++) {
          writerStock = await restock(id);
          if (random.next() < 0.3) await sleep(random.int(0, 15));
        }
      })();
      await sleep(random.int(10, 120));
      first.stop();
      await firstClient.dispose();
      const cursor = cursorOfResult(first.results.at(-1));
      await sleep(random.int(0, 80));
      const secondClient = wsClient(system.gatewayUrl);
      const second = collect(secondClient, WATCH, { ids: [id], after: cursor });
      await writer;
      await eventually(() => expect(stockOf(second.results.at(-1) ?? {})).toBe(writerStock));
      const stocks = [...first.results, ...second.results].map(stockOf);
      const start = stocks[0]!;
      expect(stocks).toEqual(Array.from({ length: stocks.length }, (_, i) => start + i));
      expect(stocks.at(-1)).toBe(writerStock);
      second.stop();
      await secondClient.dispose();
    });
  }

  it('a cursor older than the retention gives CURSOR_EXPIRED, a malformed one INVALID_INPUT', async () => {
    const id = await createProduct();
    const client = wsClient(system.gatewayUrl);
    const expired = collect(client, WATCH, { ids: [id], after: encodeCursor(1, Date.now() - 2 * 86_400_000) });
    await expired.done;
    expect(expired.results.map((r) => r.errors?.[0]?.extensions?.code)).toEqual(['CURSOR_EXPIRED']);
    for (const bad of ['garbage', 'c1.' + Buffer.from('12').toString('base64url'), '']) {
      const malformed = collect(client, WATCH, { ids: [id], after: bad });
      await malformed.done;
      expect(malformed.results).toHaveLength(1);
      expect(malformed.results[0]!.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
      expect(JSON.stringify(malformed.results[0])).not.toMatch(/\bat .*\.ts:\d+/);
    }
    await client.dispose();
  });

  it('one upstream subscription serves every subscriber of the same public feed, whoever they are', async () => {
    const id = await createProduct();
    const metricsUrl = system.gatewayUrl.replace(/\/graphql$/, '/metrics');
    const upstreams = async () => {
      const text = await (await fetch(metricsUrl)).text();
      const match = /^storefront_subscription_upstreams\{[^}]*kind="shared"[^}]*\} (\d+)/m.exec(text);
      return Number(match?.[1] ?? 0);
    };
    const before = await upstreams();
    const customers = await Promise.all([signUp(system.gatewayUrl, 'CUSTOMER'), signUp(system.gatewayUrl, 'CUSTOMER')]);
    const clients = [wsClient(system.gatewayUrl), wsClient(system.gatewayUrl, { authorization: customers[0].headers.authorization! }), wsClient(system.gatewayUrl, { authorization: customers[1].headers.authorization! }), wsClient(system.gatewayUrl, { authorization: seller.headers.authorization! })];
    const subs = Array.from({ length: 12 }, (_, i) => collect(clients[i % clients.length]!, WATCH, { ids: [id], after: null }));
    await eventually(async () => expect(await upstreams()).toBe(before + 1));
    let stock = 0;
    while (subs.some((s) => s.results.length === 0)) {
      stock = await restock(id);
      await sleep(50);
    }
    stock = await restock(id);
    await eventually(() => expect(subs.every((s) => stockOf(s.results.at(-1)!) === stock)).toBe(true));
    expect(await upstreams()).toBe(before + 1);
    for (const s of subs) s.stop();
    await eventually(async () => expect(await upstreams()).toBe(before));
    for (const c of clients) await c.dispose();
  });
});
