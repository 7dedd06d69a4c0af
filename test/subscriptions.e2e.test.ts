import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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
  loadConfig({ DATA_DIR: dir, PORT: '0', PRODUCT_PORT: '0', ORDER_PORT: '0', USER_PORT: '0', RECOMMENDATION_PORT: '0', NOTIFICATION_PORT: '0', PROJECTOR_PORT: '0', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false', EVENTSTORE_FSYNC: 'false', PASSWORD_HASH_COST: '10', RATE_LIMIT_PER_MINUTE: '100000', ...overrides });

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

/** A graphql-transport-ws client on a bare WebSocket, so a test can stop reading (pause) or never answer pings. */
async function rawSocket(url: string, options: { init?: boolean; autoPong?: boolean } = {}) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', { autoPong: options.autoPong ?? true });
  const messages: { id?: string; type: string; payload?: Received }[] = [];
  socket.on('message', (data: Buffer) => void messages.push(JSON.parse(data.toString('utf8')) as (typeof messages)[number]));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  if (options.init ?? true) {
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await eventually(() => expect(messages.some((m) => m.type === 'connection_ack')).toBe(true));
  }
  return { socket, messages, closed, subscribe: (id: string, query: string, variables: Record<string, unknown>) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })) };
}

describe('bounded subscriptions: slow clients and limits (embedded)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'subscriptions-limits-e2e-'));
  let system: RunningSystem;
  let seller: { userId: string; headers: Record<string, string> };
  const limits = { SUBSCRIPTION_BUFFER_EVENTS: '16', SUBSCRIPTIONS_PER_CONNECTION: '3', SUBSCRIPTIONS_PER_IDENTITY: '5', SUBSCRIPTIONS_TOTAL: '7', WS_CONNECTION_INIT_TIMEOUT_SECONDS: '0.5', WS_KEEPALIVE_SECONDS: '120', WS_SEND_TIMEOUT_SECONDS: '300', WS_MAX_BUFFERED_BYTES: '500000000' };

  beforeAll(async () => {
    system = await startSystem(bootConfig(dataDir, limits), { logger: createLogger('e2e', 'silent') });
    seller = await signUp(system.gatewayUrl, 'SELLER');
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const createProduct = async (description: string | null = null, initialStock = 0) => {
    const tag = randomUUID().slice(0, 8);
    const r = await graphql<{ createProduct: { product: { id: string } } }>(system.gatewayUrl, CREATE, { input: { sku: `SLOW-${tag}`, name: `Slow ${tag}`, category: 'home', price: { amount: 1000, currency: 'EUR' }, initialStock, description } }, seller.headers);
    const id = r.data?.createProduct.product.id;
    if (!id) throw new Error(`create failed: ${r.raw}`);
    return id;
  };
  const restock = async (id: string) => {
    const r = await graphql<{ restockProduct: { product: { stock: number } | null } }>(system.gatewayUrl, RESTOCK, { id, quantity: 1 }, seller.headers);
    const stock = r.data?.restockProduct.product?.stock;
    if (stock === undefined) throw new Error(`restock failed: ${r.raw}`);
    return stock;
  };

  it('a client that stops reading is ended with SUBSCRIBER_TOO_SLOW and its last cursor; resuming from it misses nothing', async () => {
    // Large events (25 copies of a 5,000-character description) fill the socket's buffers quickly.
    const id = await createProduct('x'.repeat(5000));
    const copies = Array.from({ length: 25 }, (_, i) => `d${i}: description`).join(' ');
    const query = `subscription($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { stock product { ${copies} } } }`;
    const slow = await rawSocket(system.gatewayUrl);
    slow.subscribe('1', query, { ids: [id] });
    let stock = 0;
    while (!slow.messages.some((m) => m.type === 'next')) {
      stock = await restock(id);
      await sleep(50);
    }
    slow.socket.pause(); // stops reading: TCP buffers fill, then the gateway's bounded buffer
    const overflows = async () => Number(/storefront_subscription_overflows_total\{[^}]*where="gateway"[^}]*\} (\d+)/.exec(await (await fetch(system.gatewayUrl.replace(/\/graphql$/, '/metrics'))).text())?.[1] ?? 0);
    for (let i = 0; i < 400 && (await overflows()) === 0; i++) stock = await restock(id);
    expect(await overflows()).toBe(1);
    for (let i = 0; i < 5; i++) stock = await restock(id); // more writes after the overflow
    slow.socket.resume();
    await eventually(() => expect(slow.messages.some((m) => m.type === 'complete')).toBe(true));
    const nexts = slow.messages.filter((m) => m.type === 'next').map((m) => m.payload!);
    const last = nexts.at(-1)!;
    expect(last.errors?.[0]?.extensions?.code).toBe('SUBSCRIBER_TOO_SLOW');
    const events = nexts.slice(0, -1);
    expect(last.extensions?.cursor).toBe(cursorOfResult(events.at(-1)));
    slow.socket.close();

    const client = wsClient(system.gatewayUrl);
    const resumed = collect(client, query, { ids: [id], after: last.extensions?.cursor });
    await eventually(() => expect(stockOf(resumed.results.at(-1) ?? {})).toBe(stock));
    const stocks = [...events, ...resumed.results].map(stockOf);
    expect(stocks).toEqual(Array.from({ length: stocks.length }, (_, i) => stocks[0]! + i));
    resumed.stop();
    await client.dispose();
  });

  it('refuses subscriptions beyond the limits per connection, per identity and in total with SUBSCRIPTION_LIMIT', async () => {
    const id = await createProduct();
    const query = `subscription($ids: [ID!]) { stockChanged(productIds: $ids) { stock } }`;
    const [a, b] = await Promise.all([signUp(system.gatewayUrl, 'CUSTOMER'), signUp(system.gatewayUrl, 'CUSTOMER')]);
    const codeOf = async (sub: ReturnType<typeof collect>) => {
      await sub.done;
      return { code: sub.results[0]?.errors?.[0]?.extensions?.code, limit: sub.results[0]?.errors?.[0]?.extensions?.limit };
    };
    const a1 = wsClient(system.gatewayUrl, { authorization: a.headers.authorization! });
    const a2 = wsClient(system.gatewayUrl, { authorization: a.headers.authorization! });
    const b1 = wsClient(system.gatewayUrl, { authorization: b.headers.authorization! });
    const open: ReturnType<typeof collect>[] = [];
    const hold = async (client: ReturnType<typeof wsClient>) => {
      const sub = collect(client, query, { ids: [id] });
      open.push(sub);
      await sleep(100);
      expect(sub.results).toEqual([]);
    };
    for (let i = 0; i < 3; i++) await hold(a1);
    expect(await codeOf(collect(a1, query, { ids: [id] }))).toEqual({ code: 'SUBSCRIPTION_LIMIT', limit: 'per_connection' });
    for (let i = 0; i < 2; i++) await hold(a2);
    expect(await codeOf(collect(a2, query, { ids: [id] }))).toEqual({ code: 'SUBSCRIPTION_LIMIT', limit: 'per_identity' });
    for (let i = 0; i < 2; i++) await hold(b1);
    expect(await codeOf(collect(b1, query, { ids: [id] }))).toEqual({ code: 'SUBSCRIPTION_LIMIT', limit: 'total' });
    // Those that are open still deliver; a released one makes room.
    const stock = await restock(id);
    await eventually(() => expect(open.every((s) => stockOf(s.results.at(-1) ?? {}) === stock)).toBe(true));
    open.pop()!.stop();
    await eventually(async () => {
      const again = collect(b1, query, { ids: [id] });
      await sleep(100);
      expect(again.results).toEqual([]);
      open.push(again);
    });
    for (const s of open) s.stop();
    for (const c of [a1, a2, b1]) await c.dispose();
  });

  it('closes a socket that sends no connection_init in time (4408), and one that does not answer pings', async () => {
    const silent = await rawSocket(system.gatewayUrl, { init: false });
    expect(await Promise.race([silent.closed, sleep(5000).then(() => 'still open')])).toBe(4408);
    // Keep-alive pings every 0.5 s (a reader that stopped reading cannot answer them either, so
    // the other tests here ping rarely): a system of its own.
    const pingDir = mkdtempSync(join(tmpdir(), 'subscriptions-ping-e2e-'));
    const pinging = await startSystem(bootConfig(pingDir, { WS_KEEPALIVE_SECONDS: '0.5' }), { logger: createLogger('e2e', 'silent') });
    try {
      const deaf = await rawSocket(pinging.gatewayUrl, { autoPong: false });
      expect(await Promise.race([deaf.closed, sleep(5000).then(() => 'still open')])).not.toBe('still open');
      const healthy = await rawSocket(pinging.gatewayUrl);
      expect(await Promise.race([healthy.closed, sleep(2000).then(() => 'still open')])).toBe('still open');
      healthy.socket.close();
    } finally {
      await pinging.stop();
      rmSync(pingDir, { recursive: true, force: true });
    }
  });

  it('orderStatusChanged carries extensions.cursor; resuming from it gives the later status changes only', async () => {
    const id = await createProduct(null, 5);
    const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
    const placed = await graphql<{ placeOrder: { order: { id: string } } }>(system.gatewayUrl, 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }', { input: { items: [{ productId: id, quantity: 1 }] } }, customer.headers);
    const orderId = placed.data!.placeOrder.order.id;
    const query = 'subscription($id: ID!, $after: String) { orderStatusChanged(orderId: $id, after: $after) { status } }';
    const statusOf = (r: Received) => (r.data?.orderStatusChanged as { status: string } | undefined)?.status;
    const client = wsClient(system.gatewayUrl, { authorization: customer.headers.authorization! });
    const first = collect(client, query, { id: orderId, after: null });
    await eventually(() => expect(statusOf(first.results.at(-1) ?? {})).toBe('CONFIRMED'));
    expect(first.results.every((r) => typeof cursorOfResult(r) === 'string')).toBe(true);
    const cursor = cursorOfResult(first.results.at(-1));
    first.stop();
    const pay = await graphql(system.gatewayUrl, 'mutation($id: ID!) { payOrder(id: $id, payment: { token: "tok_visa", idempotencyKey: "k1" }) { order { status } } }', { id: orderId }, customer.headers);
    expect(pay.errors).toBeUndefined();
    const resumed = collect(client, query, { id: orderId, after: cursor });
    await eventually(() => expect(resumed.results.map(statusOf)).toEqual(['PAID']));
    await graphql(system.gatewayUrl, 'mutation($id: ID!) { cancelOrder(id: $id) { order { status } } }', { id: orderId }, customer.headers);
    await eventually(() => expect(resumed.results.map(statusOf)).toEqual(['PAID', 'CANCELLED']));
    resumed.stop();
    // Another customer resuming someone else's order is refused as before.
    const stranger = await signUp(system.gatewayUrl, 'CUSTOMER');
    const other = wsClient(system.gatewayUrl, { authorization: stranger.headers.authorization! });
    const refused = collect(other, query, { id: orderId, after: cursor });
    await refused.done;
    expect(refused.results[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await client.dispose();
    await other.dispose();
  });
});
