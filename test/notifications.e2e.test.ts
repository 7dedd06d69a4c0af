import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { collect, type Received } from '../platform/testing/subscription-client.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { CapturingEmailSender } from '../subgraphs/notification/testing.js';

// Notifications through the gateway, as a storefront uses them: the live inbox feed reaches only
// its owner, the inbox pages and counts, preferences, and an e-mail's unsubscribe link that works
// without signing in. The e-mail transport is captured at its seam (the SMTP server is outside).

const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code message } } }';
const RECEIVED = 'subscription { notificationReceived { id kind title orderId priority } }';
const INBOX = 'query($first: Int, $after: String, $unreadOnly: Boolean) { me { id notifications(first: $first, after: $after, unreadOnly: $unreadOnly) { edges { cursor node { id kind orderId read title body } } pageInfo { hasNextPage endCursor } unreadCount } } }';
const THRESHOLD = 'mutation($id: ID!, $threshold: Int!) { setStockAlertThreshold(productId: $id, threshold: $threshold) }';
const UNSUBSCRIBE = 'mutation($token: String!) { unsubscribe(token: $token) { kind channels } }';

type Headers = Record<string, string>;
type Note = { id: string; kind: string; orderId: string | null };
const noteOf = (r: Received) => r.data?.notificationReceived as Note | undefined;

/** The same suite on the embedded adapters and, when they are configured, on MongoDB/FerretDB, Redis (the live feed across the projector and the subgraph) and Kafka. */
function notificationsSuite(mode: string, servers: Record<string, string> | undefined) {
  describe(`notifications through the gateway (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'notifications-e2e-'));
    const email = new CapturingEmailSender();
    let system: RunningSystem;
    let productId: string;
    let seller: Awaited<ReturnType<typeof signUp>>;

    const place = async (headers: Headers) => {
      const r = await graphql<{ placeOrder: { order: { id: string } | null } }>(system.gatewayUrl, PLACE, { input: { items: [{ productId, quantity: 1 }] } }, headers);
      const id = r.data?.placeOrder.order?.id;
      if (!id) throw new Error(`place failed: ${r.raw}`);
      return id;
    };

    beforeAll(async () => {
      system = await startSystem(testSystemConfig(dataDir, { RATE_LIMIT_PER_MINUTE: '100000', ...servers }), { logger: createLogger('e2e', 'silent'), notificationTransports: { email } });
      seller = await signUp(system.gatewayUrl, 'SELLER');
      const r = await graphql<{ createProduct: { product: { id: string } | null } }>(system.gatewayUrl, CREATE, { input: { sku: `NTF-${randomUUID().slice(0, 8)}`, name: 'Notified lamp', category: 'home', price: { amount: 1000, currency: 'EUR' }, initialStock: 1000 } }, seller.headers);
      productId = r.data!.createProduct.product!.id;
    }, 120_000);
    afterAll(async () => {
      await system?.stop();
      await dropTestDatabase(servers?.MONGODB_URL);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('feeds each signed-in user their own new notifications only, and refuses anonymous callers', async () => {
      const [alice, bob] = [await signUp(system.gatewayUrl, 'CUSTOMER'), await signUp(system.gatewayUrl, 'CUSTOMER')];
      const clients = [wsClient(system.gatewayUrl, { authorization: alice.headers.authorization! }), wsClient(system.gatewayUrl, { authorization: bob.headers.authorization! }), wsClient(system.gatewayUrl)];
      try {
        const [aliceFeed, bobFeed, anonymous] = clients.map((c) => collect(c, RECEIVED, {}));
        await anonymous!.done;
        expect(anonymous!.results[0]?.errors?.[0]?.extensions?.code ?? JSON.stringify(anonymous!.results)).toBe('UNAUTHENTICATED');

        // Orders until each feed is live (a subscription reaches the subgraph asynchronously).
        const aliceOrders: string[] = [];
        const bobOrders: string[] = [];
        for (const [user, feed, orders] of [[alice, aliceFeed!, aliceOrders], [bob, bobFeed!, bobOrders]] as const) {
          while (feed.results.length === 0) {
            orders.push(await place(user.headers));
            await eventually(() => expect(feed.results.length).toBeGreaterThan(0), 1000).catch(() => undefined);
          }
        }
        aliceOrders.push(await place(alice.headers));
        bobOrders.push(await place(bob.headers));
        await eventually(() => expect(aliceFeed!.results.map((r) => noteOf(r)?.orderId)).toContain(aliceOrders.at(-1)), 30_000);
        await eventually(() => expect(bobFeed!.results.map((r) => noteOf(r)?.orderId)).toContain(bobOrders.at(-1)), 30_000);
        for (const r of aliceFeed!.results) expect(aliceOrders).toContain(noteOf(r)?.orderId);
        for (const r of bobFeed!.results) expect(bobOrders).toContain(noteOf(r)?.orderId);
        expect(aliceFeed!.results.every((r) => noteOf(r)?.kind === 'ORDER_CONFIRMED' && r.errors === undefined)).toBe(true);
        aliceFeed!.stop();
        bobFeed!.stop();
      } finally {
        for (const c of clients) await c.dispose();
      }
    }, 120_000);

    it('pages the inbox with its unread count, marks read, keeps preferences, and unsubscribes with an e-mail link without signing in', async () => {
      const carol = await signUp(system.gatewayUrl, 'CUSTOMER');
      const orders = [await place(carol.headers), await place(carol.headers), await place(carol.headers)];
      type Inbox = { me: { notifications: { edges: { cursor: string; node: { id: string; kind: string; orderId: string; read: boolean; title: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; unreadCount: number } } };
      const inbox = (variables: Record<string, unknown>) => graphql<Inbox>(system.gatewayUrl, INBOX, variables, carol.headers);
      await eventually(async () => expect((await inbox({ first: 10 })).data?.me.notifications.unreadCount).toBe(3), 30_000);
      const page = (await inbox({ first: 2 })).data!.me.notifications;
      expect(page.edges.map((e) => e.node.orderId)).toEqual([orders[2], orders[1]]); // newest first
      expect(page.pageInfo.hasNextPage).toBe(true);
      const next = (await inbox({ first: 2, after: page.pageInfo.endCursor })).data!.me.notifications;
      expect(next.edges.map((e) => e.node.orderId)).toEqual([orders[0]]);
      expect(next.edges[0]!.node.title).toBe(`Order ${orders[0]!.slice(0, 8)} confirmed`);
      expect((await inbox({ first: 0 })).errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
      expect((await graphql<Inbox>(system.gatewayUrl, INBOX, { first: 2 })).data?.me ?? null).toBeNull(); // anonymous: no `me`

      const read = await graphql<{ markNotificationsRead: number }>(system.gatewayUrl, 'mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }', { ids: [page.edges[0]!.node.id] }, carol.headers);
      expect(read.data?.markNotificationsRead).toBe(1);
      await eventually(async () => expect((await inbox({ first: 10, unreadOnly: true })).data?.me.notifications.edges.map((e) => e.node.orderId)).toEqual([orders[1], orders[0]]), 30_000);

      const prefs = await graphql<{ setNotificationPreference: { channels: string[] } }>(system.gatewayUrl, 'mutation { setNotificationPreference(kind: ORDER_SHIPPED, channels: [IN_APP]) { kind channels } }', {}, carol.headers);
      expect(prefs.data?.setNotificationPreference.channels).toEqual(['IN_APP']);
      const listed = await graphql<{ me: { notificationPreferences: { kind: string; channels: string[] }[] } }>(system.gatewayUrl, '{ me { notificationPreferences { kind channels } } }', {}, carol.headers);
      expect(listed.data?.me.notificationPreferences.find((p) => p.kind === 'ORDER_SHIPPED')?.channels).toEqual(['IN_APP']);
      expect(listed.data?.me.notificationPreferences.find((p) => p.kind === 'ORDER_CONFIRMED')?.channels).toEqual(['IN_APP', 'EMAIL']);

      // The confirmation e-mails went to Carol's address, each with its unsubscribe link.
      const mail = await eventually(() => {
        const found = email.sent.find((m) => m.subject === `Your order #${orders[0]!.split('-')[0]} is confirmed`);
        expect(found).toBeDefined();
        return found!;
      }, 30_000);
      expect(mail.to).toMatch(/^customer-.*@example\.test$/);
      const token = new URL(mail.unsubscribeUrl.replace('/#/', '/')).searchParams.get('token')!;
      const tampered = await graphql(system.gatewayUrl, UNSUBSCRIBE, { token: `${token.slice(0, -3)}abc` });
      expect(tampered.errors?.[0]?.extensions?.code).toBe('INVALID_INPUT');
      const unsubscribed = await graphql<{ unsubscribe: { kind: string; channels: string[] } }>(system.gatewayUrl, UNSUBSCRIBE, { token }); // no sign-in
      expect(unsubscribed.data?.unsubscribe).toEqual({ kind: 'ORDER_CONFIRMED', channels: ['IN_APP'] });
    }, 120_000);

    it('lets only the product’s seller set its stock alert threshold', async () => {
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const other = await signUp(system.gatewayUrl, 'SELLER');
      await eventually(async () => expect((await graphql<{ setStockAlertThreshold: number }>(system.gatewayUrl, THRESHOLD, { id: productId, threshold: 20 }, seller.headers)).data?.setStockAlertThreshold).toBe(20), 30_000);
      expect((await graphql(system.gatewayUrl, THRESHOLD, { id: productId, threshold: 1 }, customer.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await graphql(system.gatewayUrl, THRESHOLD, { id: productId, threshold: 1 }, other.headers)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await graphql(system.gatewayUrl, THRESHOLD, { id: productId, threshold: 1 })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await graphql(system.gatewayUrl, THRESHOLD, { id: randomUUID(), threshold: 1 }, seller.headers)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }, 60_000);
  });
}

notificationsSuite('embedded', undefined);
withAllServers('notifications through the gateway (MongoDB, Redis, Kafka)', (servers) => notificationsSuite('MongoDB/FerretDB, Redis, Kafka', servers));
