import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/logging.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { eventually } from '../platform/testing/eventually.js';
import { READ_AFTER_POSITION_HEADER } from '../platform/read-your-writes.js';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { withAllServers } from '../platform/testing/servers.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

// The order saga through the gateway, as a storefront drives it: place, watch, pay, cancel, ship.

const ADMIN = { email: 'orders-admin@example.test', password: 'admin password 123' };
const ORDER_FIELDS = 'id status statusReason total { amount currency } customer { id name } items { quantity unitPrice { amount currency } lineTotal { amount } product { id name stock } } createdAt updatedAt';
const PLACE = `mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { order { ${ORDER_FIELDS} } userErrors { code message field } } }`;
const PAY = `mutation Pay($id: ID!, $payment: PaymentInput!) { payOrder(id: $id, payment: $payment) { order { id status statusReason } userErrors { code message field } } }`;
const CANCEL = `mutation Cancel($id: ID!) { cancelOrder(id: $id) { order { id status statusReason } userErrors { code message field } } }`;
const SHIP = `mutation Ship($id: ID!) { shipOrder(id: $id) { order { id status } userErrors { code message field } } }`;
const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id stock } userErrors { code message } } }';
const DISCONTINUE = 'mutation($id: ID!) { discontinueProduct(id: $id) { product { id } userErrors { code } } }';

interface UserError {
  code: string;
  message: string;
  field: string[] | null;
}
interface OrderView {
  id: string;
  status: string;
  statusReason: string | null;
  total: { amount: number; currency: string } | null;
  customer: { id: string; name: string };
  items: { quantity: number; unitPrice: { amount: number } | null; lineTotal: { amount: number } | null; product: { id: string; name: string; stock: number } }[];
}
type Headers = Record<string, string>;

function orderSuite(mode: string, servers: Record<string, string> | undefined) {
  describe(`orders through the gateway (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'orders-e2e-'));
    let system: RunningSystem;
    let seller: { userId: string; headers: Headers };
    let customer: { userId: string; headers: Headers };
    let admin: Headers;

    const call = <T>(query: string, variables?: Record<string, unknown>, headers: Headers = {}) => graphql<T>(system.gatewayUrl, query, variables, headers);
    const product = async (stock: number, price = 250, by = seller.headers) => {
      const r = await call<{ createProduct: { product: { id: string } } }>(
        CREATE,
        { input: { sku: `O-${randomUUID().slice(0, 8)}`, name: `Saga lamp ${stock}`, category: 'home', price: { amount: price, currency: 'EUR' }, initialStock: stock } },
        by,
      );
      const id = r.data!.createProduct.product.id;
      // Reads are eventually consistent: read the creation back (read-your-writes), so the catalog has it (orders show its fields).
      const read = await call<{ product: { id: string } | null }>('query($id: ID!) { product(id: $id) { id } }', { id }, { [READ_AFTER_POSITION_HEADER]: r.extensions?.position as string });
      expect(read.data?.product).not.toBeNull();
      return id;
    };
    const stockOf = async (id: string) => (await call<{ product: { stock: number } }>('query($id: ID!) { product(id: $id) { stock } }', { id })).data!.product.stock;
    const place = async (items: { productId: string; quantity: number }[], headers: Headers = customer.headers, idempotencyKey?: string) =>
      (await call<{ placeOrder: { order: OrderView | null; userErrors: UserError[] } }>(PLACE, { input: { items, ...(idempotencyKey && { idempotencyKey }) } }, headers)).data!.placeOrder;
    const settled = async (id: string, status: string, headers: Headers = customer.headers) => {
      let order: OrderView | undefined;
      await eventually(async () => {
        const r = await call<{ order: OrderView }>(ORDER, { id }, headers);
        expect(r.errors).toBeUndefined();
        expect(r.data?.order.status).toBe(status);
        order = r.data!.order;
      }, 30_000);
      return order!;
    };
    const mutate = async (query: string, variables: Record<string, unknown>, headers: Headers = customer.headers) => {
      const r = await call<Record<string, { order: { id: string; status: string; statusReason: string | null } | null; userErrors: UserError[] }>>(query, variables, headers);
      expect(r.errors).toBeUndefined();
      return Object.values(r.data!)[0]!;
    };

    beforeAll(async () => {
      system = await startSystem(
        testSystemConfig(dataDir, { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, ...servers }),
        { logger: createLogger('orders-e2e', 'silent') },
      );
      seller = await signUp(system.gatewayUrl, 'SELLER');
      customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const login = await call<{ login: { token: string } }>('mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: ADMIN.email, p: ADMIN.password });
      admin = { authorization: `Bearer ${login.data!.login.token}` };
    });
    afterAll(async () => {
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('places, confirms with prices and total, pays through a flaky provider, sells the stock and ships', async () => {
      const lamp = await product(5, 250);
      const shade = await product(3, 1000);
      const watcher = wsClient(system.gatewayUrl, customer.headers);
      const stockFeedsBefore = await activeSubscriptions(system.productUrl, 'stockChanged');
      const stockEvents: { reason: string; stock: number }[] = [];
      const stockSub = watcher.iterate<{ stockChanged: { reason: string; stock: number } }>({ query: 'subscription($ids: [ID!]) { stockChanged(productIds: $ids) { reason stock } }', variables: { ids: [lamp] } });
      const stockReader = (async () => {
        for await (const r of stockSub) stockEvents.push(r.data!.stockChanged);
      })();
      try {
        // The subscription has reached the product subgraph (its live feed listens) before anything changes.
        await eventually(async () => expect(await activeSubscriptions(system.productUrl, 'stockChanged')).toBeGreaterThan(stockFeedsBefore));
        // The same product on two lines is merged into one line of 2.
        const placed = await place([
          { productId: lamp, quantity: 1 },
          { productId: shade, quantity: 1 },
          { productId: lamp, quantity: 1 },
        ]);
        expect(placed.userErrors).toEqual([]);
        expect(placed.order).toMatchObject({ status: 'PENDING', total: null, customer: { id: customer.userId } });
        expect(placed.order!.items.map((i) => [i.product.id, i.quantity, i.unitPrice])).toEqual([
          [lamp, 2, null],
          [shade, 1, null],
        ]);
        const id = placed.order!.id;

        const confirmed = await settled(id, 'CONFIRMED');
        expect(confirmed.total).toEqual({ amount: 2 * 250 + 1000, currency: 'EUR' });
        expect(confirmed.items.map((i) => [i.unitPrice?.amount, i.lineTotal?.amount])).toEqual([
          [250, 500],
          [1000, 1000],
        ]);
        expect(confirmed.customer.name).toBe('Test customer'); // resolved by the user subgraph
        await eventually(async () => expect([await stockOf(lamp), await stockOf(shade)]).toEqual([3, 2]));

        // Live status through the gateway, with fields of other subgraphs resolved per event.
        const statusFeedsBefore = await activeSubscriptions(system.orderUrl, 'orderStatusChanged');
        const statuses: { status: string; items: { product: { name: string } }[] }[] = [];
        const statusSub = watcher.iterate<{ orderStatusChanged: { status: string; items: { product: { name: string } }[] } }>({
          query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status items { product { name } } } }',
          variables: { id },
        });
        const statusReader = (async () => {
          for await (const r of statusSub) {
            expect(r.errors).toBeUndefined();
            statuses.push(r.data!.orderStatusChanged);
            if (r.data!.orderStatusChanged.status === 'SHIPPED') return;
          }
        })();
        await eventually(async () => expect(await activeSubscriptions(system.orderUrl, 'orderStatusChanged')).toBeGreaterThan(statusFeedsBefore));

        const paid = await mutate(PAY, { id, payment: { token: 'tok_flaky', idempotencyKey: 'pay-1' } });
        expect(paid).toMatchObject({ order: { id, status: 'PAID' }, userErrors: [] });
        // Same key again: the same answer, no second charge. Another key: refused.
        expect(await mutate(PAY, { id, payment: { token: 'tok_flaky', idempotencyKey: 'pay-1' } })).toMatchObject({ order: { status: 'PAID' }, userErrors: [] });
        expect(await mutate(PAY, { id, payment: { token: 'tok_visa', idempotencyKey: 'pay-2' } })).toMatchObject({ order: null, userErrors: [{ code: 'INVALID_STATE', field: ['id'] }] });
        await eventually(() => expect(stockEvents.map((e) => e.reason)).toEqual(['RESERVED', 'SOLD']));
        expect(await stockOf(lamp)).toBe(3); // sold units were already out of the sellable stock

        const stranger = await signUp(system.gatewayUrl, 'SELLER');
        const refused = await call(SHIP, { id }, stranger.headers);
        expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(await mutate(SHIP, { id }, seller.headers)).toMatchObject({ order: { status: 'SHIPPED' }, userErrors: [] });
        expect(await mutate(CANCEL, { id })).toMatchObject({ order: null, userErrors: [{ code: 'INVALID_STATE' }] });
        await statusReader;
        expect(statuses.map((s) => s.status)).toEqual(['CONFIRMED', 'PAID', 'SHIPPED']); // the state when subscribing, then each change
        expect(statuses[1]!.items.map((i) => i.product.name)).toEqual(['Saga lamp 5', 'Saga lamp 3']);
      } finally {
        await watcher.dispose();
        await stockReader.catch(() => undefined);
      }
    });

    it('orderStatusChanged starts from the order as it is, so a subscriber right after placeOrder misses nothing, shared or not', async () => {
      const id = await product(5);
      const placed = await place([{ productId: id, quantity: 1 }]);
      const client = wsClient(system.gatewayUrl, customer.headers);
      const watch = async () => {
        const seen: string[] = [];
        const sub = client.iterate<{ orderStatusChanged: { status: string } }>({ query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }', variables: { id: placed.order!.id } });
        for await (const r of sub) {
          expect(r.errors).toBeUndefined();
          seen.push(r.data!.orderStatusChanged.status);
          if (seen.at(-1) === 'CONFIRMED') break;
        }
        return seen;
      };
      try {
        // Two identical subscriptions of one caller share an upstream; both start from the state.
        const [a, b] = await Promise.all([watch(), watch()]);
        for (const seen of [a, b]) {
          expect(seen.at(-1)).toBe('CONFIRMED');
          expect(seen.every((s) => s === 'PENDING' || s === 'CONFIRMED')).toBe(true);
        }
        const late = await watch(); // long after the confirmation: the current state at once
        expect(late).toEqual(['CONFIRMED']);
        // A client leaving a quiet feed releases it at once, at the gateway and in the subgraph.
        const active = async (url: string, service: string) => {
          const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
          return Number(new RegExp(`storefront_subscriptions_active\\{field="orderStatusChanged",service="${service}"\\} (\\d+)`).exec(text)?.[1] ?? 'NaN');
        };
        await eventually(async () => expect([await active(system.gatewayUrl, 'gateway'), await active(system.orderUrl, 'order')]).toEqual([0, 0]), 5000);
        const stranger = wsClient(system.gatewayUrl, (await signUp(system.gatewayUrl, 'CUSTOMER')).headers);
        const refused = stranger.iterate({ query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { status } }', variables: { id: placed.order!.id } });
        let first: { errors?: readonly { extensions?: Record<string, unknown> }[] } | undefined;
        for await (const r of refused) {
          first = r;
          break;
        }
        expect(first?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        await stranger.dispose();
      } finally {
        await client.dispose();
      }
    });

    it('rejects an order a line of which cannot be reserved, and releases the lines that were', async () => {
      const plenty = await product(10);
      const scarce = await product(1);
      const gone = await product(4);
      await call(DISCONTINUE, { id: gone }, seller.headers);

      const short = await place([
        { productId: plenty, quantity: 4 },
        { productId: scarce, quantity: 2 },
      ]);
      const rejected = await settled(short.order!.id, 'REJECTED');
      expect(rejected.statusReason).toBe(`insufficient stock for product ${scarce}: 2 requested, 1 available`);
      expect(rejected.total).toBeNull();
      await eventually(async () => expect([await stockOf(plenty), await stockOf(scarce)]).toEqual([10, 1]));
      expect(await mutate(PAY, { id: short.order!.id, payment: { token: 'tok_visa' } })).toMatchObject({ userErrors: [{ code: 'INVALID_STATE' }] });

      const discontinued = await place([{ productId: gone, quantity: 1 }]);
      expect((await settled(discontinued.order!.id, 'REJECTED')).statusReason).toBe(`product ${gone} is discontinued`);

      // A well-formed id no product has: the product service rejects the line. (Only the id of
      // such an item resolves; its other fields have no product to come from.)
      const unknown = randomUUID();
      const ghost = await call<{ placeOrder: { order: { id: string } } }>('mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id items { product { id } } } } }', {
        input: { items: [{ productId: plenty, quantity: 1 }, { productId: unknown, quantity: 1 }] },
      }, customer.headers);
      const ghostId = ghost.data!.placeOrder.order.id;
      await eventually(async () => {
        const r = await call<{ order: { status: string; statusReason: string } }>('query($id: ID!) { order(id: $id) { status statusReason } }', { id: ghostId }, customer.headers);
        expect(r.data?.order).toEqual({ status: 'REJECTED', statusReason: `product ${unknown} does not exist` });
      });
      await eventually(async () => expect(await stockOf(plenty)).toBe(10));
    });

    it('fails a declined payment and releases the stock; cancelling a paid order refunds and releases it', async () => {
      const id = await product(5);
      const declined = await place([{ productId: id, quantity: 2 }]);
      await settled(declined.order!.id, 'CONFIRMED');
      expect(await stockOf(id)).toBe(3);
      const failed = await mutate(PAY, { id: declined.order!.id, payment: { token: 'tok_declined' } });
      expect(failed).toMatchObject({ order: { status: 'PAYMENT_FAILED', statusReason: 'payment declined: card declined' }, userErrors: [{ code: 'PAYMENT_DECLINED', field: ['payment', 'token'] }] });
      await eventually(async () => expect(await stockOf(id)).toBe(5));
      expect(await mutate(PAY, { id: declined.order!.id, payment: { token: 'tok_visa' } })).toMatchObject({ userErrors: [{ code: 'INVALID_STATE' }] });

      const kept = await place([{ productId: id, quantity: 3 }]);
      await settled(kept.order!.id, 'CONFIRMED');
      expect(await mutate(PAY, { id: kept.order!.id, payment: { token: 'tok_visa' } })).toMatchObject({ order: { status: 'PAID' } });
      expect(await mutate(CANCEL, { id: kept.order!.id })).toMatchObject({ order: { status: 'CANCELLED', statusReason: 'cancelled and refunded' }, userErrors: [] });
      await eventually(async () => expect(await stockOf(id)).toBe(5));
      expect(await mutate(CANCEL, { id: kept.order!.id })).toMatchObject({ order: { status: 'CANCELLED' }, userErrors: [] }); // idempotent
      expect(await mutate(PAY, { id: kept.order!.id, payment: { token: 'tok_visa' } })).toMatchObject({ userErrors: [{ code: 'INVALID_STATE' }] });
    });

    it('places one order per idempotency key', async () => {
      const id = await product(5);
      const key = `checkout-${randomUUID()}`;
      const [a, b] = await Promise.all([place([{ productId: id, quantity: 1 }], customer.headers, key), place([{ productId: id, quantity: 1 }], customer.headers, key)]);
      expect(a.order!.id).toBe(b.order!.id);
      const again = await place([{ productId: id, quantity: 1 }], customer.headers, key);
      expect(again.order!.id).toBe(a.order!.id);
      expect((await place([{ productId: id, quantity: 2 }], customer.headers, key)).userErrors).toEqual([expect.objectContaining({ code: 'ALREADY_EXISTS', field: ['input', 'idempotencyKey'] })]);
      await settled(a.order!.id, 'CONFIRMED');
      await eventually(async () => expect(await stockOf(id)).toBe(4)); // reserved once
      // Another customer's same key is another order.
      const other = await signUp(system.gatewayUrl, 'CUSTOMER');
      expect((await place([{ productId: id, quantity: 1 }], other.headers, key)).order!.id).not.toBe(a.order!.id);
    });

    it('answers bad input with coded userErrors and places nothing', async () => {
      const id = await product(5);
      const cases: [unknown[], UserError][] = [
        [[], { code: 'INVALID_INPUT', field: ['input', 'items'], message: 'an order needs at least one item' }],
        [[{ productId: id, quantity: 0 }], { code: 'INVALID_INPUT', field: ['input', 'items', '0', 'quantity'], message: expect.any(String) as string }],
        [[{ productId: id, quantity: -3 }], { code: 'INVALID_INPUT', field: ['input', 'items', '0', 'quantity'], message: expect.any(String) as string }],
        [[{ productId: 'not-a-product', quantity: 1 }], { code: 'NOT_FOUND', field: ['input', 'items', '0', 'productId'], message: 'product not-a-product does not exist' }],
        [Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })), { code: 'INVALID_INPUT', field: ['input', 'items'], message: 'an order may have at most 50 lines' }],
      ];
      for (const [items, error] of cases) {
        const r = await place(items as { productId: string; quantity: number }[]);
        expect(r).toEqual({ order: null, userErrors: [error] });
      }
      const list = await call<{ me: { orders: { totalCount: number } } }>('{ me { orders { totalCount } } }', undefined, customer.headers);
      const before = list.data!.me.orders.totalCount;
      const sellerTry = await call(PLACE, { input: { items: [{ productId: id, quantity: 1 }] } }, seller.headers);
      expect(sellerTry.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const anonymous = await call(PLACE, { input: { items: [{ productId: id, quantity: 1 }] } });
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await call(PAY, { id: randomUUID(), payment: { token: 'tok_visa' } }, customer.headers)).data).toEqual({ payOrder: { order: null, userErrors: [expect.objectContaining({ code: 'NOT_FOUND' })] } });
      expect((await call<{ me: { orders: { totalCount: number } } }>('{ me { orders { totalCount } } }', undefined, customer.headers)).data!.me.orders.totalCount).toBe(before);
      expect(await stockOf(id)).toBe(5);
    });

    it('shows a customer only their own orders; admins see all', async () => {
      const id = await product(5);
      const mine = await place([{ productId: id, quantity: 1 }]);
      await settled(mine.order!.id, 'CONFIRMED');
      const other = await signUp(system.gatewayUrl, 'CUSTOMER');
      const peek = await call(ORDER, { id: mine.order!.id }, other.headers);
      expect(peek.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await call(PAY, { id: mine.order!.id, payment: { token: 'tok_visa' } }, other.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await call(ORDER, { id: mine.order!.id })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await call<{ order: { id: string } }>(ORDER, { id: mine.order!.id }, admin)).data?.order.id).toBe(mine.order!.id);

      const ORDERS = 'query($id: ID!) { user(id: $id) { orders(first: 50) { totalCount edges { node { id status } } } } }';
      await eventually(async () => {
        const own = await call<{ user: { orders: { totalCount: number; edges: { node: { id: string } }[] } } }>(ORDERS, { id: customer.userId }, customer.headers);
        expect(own.data?.user.orders.edges.map((e) => e.node.id)).toContain(mine.order!.id);
        expect(own.data!.user.orders.edges[0]!.node.id).toBe(mine.order!.id); // newest first
      });
      const byAdmin = await call<{ user: { orders: { totalCount: number } } }>(ORDERS, { id: customer.userId }, admin);
      expect(byAdmin.data?.user.orders.totalCount).toBeGreaterThan(0);
      const byOther = await call(ORDERS, { id: customer.userId }, other.headers);
      expect(byOther.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    });
  });
}

orderSuite('embedded', undefined);

withAllServers('orders through the gateway (MongoDB, Redis, Kafka)', (servers) => orderSuite('MongoDB/FerretDB, Redis, Kafka', servers));

/** Live feeds of `field` a service holds (its storefront_subscriptions_active gauge): a subscription counted there listens. */
async function activeSubscriptions(serviceUrl: string, field: string): Promise<number> {
  const text = await (await fetch(serviceUrl.replace(/\/graphql$/, '/metrics'))).text();
  const m = new RegExp(`^storefront_subscriptions_active\\{[^}]*field="${field}"[^}]*\\} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}
