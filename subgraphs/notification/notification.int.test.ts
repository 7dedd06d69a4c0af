import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closeConsumers, type DeliveredMessage } from '../../platform/bus/bus.js';
import { MemoryBus } from '../../platform/bus/memory-bus.js';
import { MemoryCache } from '../../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../../platform/documents/memory-document-store.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import { createLogger } from '../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../platform/pubsub/memory-pubsub.js';
import { MemoryRateLimiter } from '../../platform/ratelimit/rate-limiter.js';
import { eventually } from '../../platform/testing/eventually.js';
import { readModelDigest } from '../../platform/testing/read-model-hash.js';
import type { Actor } from '../order/decider.js';
import { ORDER_TOPIC } from '../order/public-events.js';
import { startSaga } from '../order/saga-harness.js';
import { PRODUCT_TOPIC } from '../product/public-events.js';
import { USER_TOPIC } from '../user/public-events.js';
import { UserService } from '../user/service.js';
import { DeliveryError, type NotificationKind } from './channels/channel.js';
import { ORDER_NOTIFICATIONS_GROUP, PRODUCT_NOTIFICATIONS_GROUP, RECIPIENTS_GROUP } from './consumers.js';
import { NotificationDispatcher } from './dispatcher.js';
import type { NotificationRaised } from './events.js';
import { notificationProjections } from './read-model/projections.js';
import { INBOX, OUTBOX, type InboxDoc, type OutboxDoc } from './read-model/read-model.js';
import { startNotificationConsumers } from './server.js';
import { NotificationService } from './service.js';
import { CapturingEmailSender, CapturingWebhooks } from './testing.js';
import { unsubscribeToken } from './unsubscribe-token.js';
import { expectCollectedHandled, expectRebuildMatches, redeliverCollected, startTestProjectors, withSliceSuite } from '../../platform/testing/slice-suite.js';
import { onEmbeddedAndRealServers, readAllEvents, type OpenBus, type OpenDocuments } from '../../platform/testing/suite-stores.js';

const groupOf = (topic: string) => (topic === ORDER_TOPIC ? ORDER_NOTIFICATIONS_GROUP : topic === PRODUCT_TOPIC ? PRODUCT_NOTIFICATIONS_GROUP : RECIPIENTS_GROUP);
const FAST = { batch: 20, concurrency: 4, idleMs: 20, lease: { ttlMs: 5000, renewMs: 1000 } };
/** One delivery in flight: the order of deliveries is the order they were taken in. */
const IN_ORDER = { ...FAST, concurrency: 1 };


/**
 * The notification slice between real services: users register through the user service,
 * products and orders go through the product and order services and the relay; the notification
 * consumers raise notifications as their own events; the projections build the inbox and the
 * outbox; the dispatcher delivers to transports captured at the seam. The same suite runs on the
 * embedded bus and document store, and on Kafka and FerretDB when they are configured.
 */
function notificationSuite(name: string, openBus: OpenBus, openDocuments: OpenDocuments) {
  describe(`notifications through the saga (${name})`, () => {
    it('notifies every kind once, by the recipients’ preferences and thresholds, and again never under redelivery', async () => {
      await withSliceSuite('notification-test', { openBus, openDocuments }, [ORDER_TOPIC, PRODUCT_TOPIC, USER_TOPIC], async (suite) => {
        const { events, bus, documents, ports, logger } = suite;
        const saga = await startSaga({ bus, events, logger });
        suite.onClose(() => saga.stop());
        const secret = randomBytes(32);
        const users = new UserService({ events, metrics: ports.metrics, logger, tokens: { secret, issuer: 'test', audience: 'test', ttlSeconds: 600 }, kdf: { N: 2 ** 10, r: 8, p: 1 }, limiter: new MemoryRateLimiter(), loginLimits: { perEmail: 100, perAddress: 100 } });
        const service = new NotificationService({ ...ports, clock: () => new Date(), internalSecret: secret });
        const consumers = await startNotificationConsumers(bus, service);
        suite.onClose(() => closeConsumers(consumers));
        const projectors = await suite.startProjectors(notificationProjections());
        const email = new CapturingEmailSender();
        const webhooks = new CapturingWebhooks();
        const dispatcher = new NotificationDispatcher({ ...ports, clock: () => new Date(), internalSecret: secret, publicUrl: 'https://shop.example', email, webhooks }, FAST);
        dispatcher.start();
        suite.onClose(() => dispatcher.stop());
        const tag = randomUUID().slice(0, 8);
        const customerAccount = (await users.register({ email: `customer-${tag}@example.com`, password: 'correct horse battery', name: 'Carla' })).user;
        const sellerAccount = (await users.register({ email: `seller-${tag}@example.com`, password: 'correct horse battery', name: 'Sam', role: 'SELLER' })).user;
        const customer: Actor = { userId: customerAccount.userId, role: 'CUSTOMER' };
        const seller: Actor = { userId: sellerAccount.userId, role: 'SELLER' };

        // The customer wants shipments in the app only.
        expect(await service.setPreference('ORDER_SHIPPED', ['IN_APP'], customer)).toEqual({ kind: 'ORDER_SHIPPED', channels: ['IN_APP'] });
        await expect(service.setPreference('ORDER_SHIPPED', ['WEBHOOK'], customer)).rejects.toMatchObject({ code: 'INVALID_INPUT' });

        const create = (label: string, initialStock: number) =>
          saga.products.create({ sku: `NTF-${label}-${tag}`, name: label, category: 'home', description: null, price: { amount: 500, currency: 'EUR' }, initialStock }, seller);
        const lamp = (await create('Lamp', 10))._id;
        const vase = (await create('Vase', 1))._id;

        // Only the product's seller sets its stock alert (once notifications know the product).
        await eventually(() => expect(service.setStockAlertThreshold(lamp, 8, seller)).resolves.toBe(8), 60_000);
        await expect(service.setStockAlertThreshold(lamp, 3, customer)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(service.setStockAlertThreshold(lamp, 3, { userId: randomUUID(), role: 'SELLER' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(service.setStockAlertThreshold(lamp, 3, undefined)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
        await expect(service.setStockAlertThreshold(randomUUID(), 3, seller)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(service.setStockAlertThreshold(lamp, -1, seller)).rejects.toMatchObject({ code: 'INVALID_INPUT' });

        const placed = async (items: { productId: string; quantity: number }[], status: string) => {
          const order = await saga.orders.place({ items }, customer);
          await eventually(async () => expect((await saga.orders.order(order._id, customer))?.status).toBe(status), 60_000);
          return order._id;
        };
        // o1: 3 lamps (10 -> 7, below the threshold 8: STOCK_LOW), paid (UNIT_SOLD), shipped.
        const o1 = await placed([{ productId: lamp, quantity: 3 }], 'CONFIRMED');
        expect((await saga.orders.pay(o1, { token: 'tok_visa' }, customer)).order.status).toBe('PAID');
        await saga.orders.ship(o1, seller);
        // o2: the only vase (SOLD_OUT); o3 then finds none (ORDER_REJECTED); o2's payment fails.
        const o2 = await placed([{ productId: vase, quantity: 1 }], 'CONFIRMED');
        const o3 = await placed([{ productId: vase, quantity: 1 }], 'REJECTED');
        expect((await saga.orders.pay(o2, { token: 'tok_declined' }, customer)).userErrors[0]?.code).toBe('PAYMENT_DECLINED');
        // o4: a lamp (7 -> 6: no new alert), paid, cancelled (refunded).
        const o4 = await placed([{ productId: lamp, quantity: 1 }], 'CONFIRMED');
        expect((await saga.orders.pay(o4, { token: 'tok_visa' }, customer)).order.status).toBe('PAID');
        expect((await saga.orders.cancel(o4, customer)).status).toBe('CANCELLED');

        const inbox = documents.collection<InboxDoc>(INBOX);
        const kindsOf = async (userId: string) => (await inbox.find({ filter: { recipientId: userId }, sort: [['seq', 1]], first: 100 })).items;
        const expectedCustomer: [NotificationKind, string][] = [
          ['ORDER_CONFIRMED', o1], ['ORDER_PAID', o1], ['ORDER_SHIPPED', o1], ['ORDER_CONFIRMED', o2], ['ORDER_REJECTED', o3], ['PAYMENT_FAILED', o2], ['ORDER_CONFIRMED', o4], ['ORDER_PAID', o4], ['ORDER_CANCELLED', o4],
        ];
        const sortPairs = (pairs: [string, string][]) => pairs.map((p) => p.join(' ')).sort();
        await eventually(async () => expect(sortPairs((await kindsOf(customer.userId)).map((d) => [d.kind, String(d.data.orderId)]))).toEqual(sortPairs(expectedCustomer)), 60_000);
        const sellerExpected: [NotificationKind, string][] = [['STOCK_LOW', lamp], ['UNIT_SOLD', lamp], ['SOLD_OUT', vase], ['UNIT_SOLD', lamp]];
        await eventually(async () => expect(sortPairs((await kindsOf(seller.userId)).map((d) => [d.kind, String(d.data.productId)]))).toEqual(sortPairs(sellerExpected)), 60_000);
        const customerInbox = await kindsOf(customer.userId);
        const rejection = customerInbox.find((d) => d.kind === 'ORDER_REJECTED')!;
        expect(rejection.priority).toBe('HIGH');
        expect(rejection.data.reason).toMatch(/.+/);
        expect(customerInbox.find((d) => d.kind === 'PAYMENT_FAILED')?.priority).toBe('HIGH');
        expect(customerInbox.find((d) => d.kind === 'ORDER_CANCELLED')).toMatchObject({ priority: 'NORMAL', data: { refunded: true } });
        expect((await kindsOf(seller.userId)).find((d) => d.kind === 'STOCK_LOW')).toMatchObject({ data: { stock: 7, threshold: 8, productName: 'Lamp' } });

        // E-mail: every customer kind but the shipment (the customer's choice), the seller's stock
        // alerts (units sold are not e-mailed by default), each to its recipient's address, once.
        await eventually(() => expect(email.sent).toHaveLength(8 + 2), 60_000);
        expect(email.sent.filter((m) => m.to === `customer-${tag}@example.com`).map((m) => m.subject).sort()).toHaveLength(8);
        expect(email.sent.filter((m) => m.to === `seller-${tag}@example.com`).map((m) => m.subject).sort()).toEqual(['Sold out: Vase', 'Stock low: Lamp (7 left)']);
        expect(email.sent.some((m) => /shipped/i.test(m.subject))).toBe(false);
        expect(email.sent.find((m) => /could not be accepted/.test(m.subject))?.text).toContain(customerInbox.find((d) => d.kind === 'ORDER_REJECTED')!.data.reason as string);
        // Webhooks: every seller kind.
        await eventually(() => expect(webhooks.delivered.map((w) => w.payload.kind).sort()).toEqual(['SOLD_OUT', 'STOCK_LOW', 'UNIT_SOLD', 'UNIT_SOLD']), 60_000);
        expect(new Set(webhooks.delivered.map((w) => w.sellerId))).toEqual(new Set([seller.userId]));

        // The inbox API: pages, unread counts, marking read (only one's own).
        const first = await service.inbox(customer.userId, { first: 4 }, customer);
        expect(first.items).toHaveLength(4);
        expect(first.unreadCount).toBe(9);
        const rest = await service.inbox(customer.userId, { first: 100, after: first.endCursor! }, customer);
        expect(rest.items.map((d) => d._id)).toEqual((await kindsOf(customer.userId)).slice(0, 5).reverse().map((d) => d._id));
        await expect(service.inbox(customer.userId, { first: 0 }, customer)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        await expect(service.inbox(customer.userId, { first: 101 }, customer)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
        await expect(service.inbox(customer.userId, { first: 5 }, seller)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        const sellerNotification = (await kindsOf(seller.userId))[0]!._id;
        expect(await service.markRead([first.items[0]!._id, first.items[1]!._id, sellerNotification, 'not-an-id'], customer)).toBe(2);
        expect(await service.markRead([first.items[0]!._id], customer)).toBe(0); // already read
        await eventually(async () => expect((await service.inbox(customer.userId, { first: 20, unreadOnly: true }, customer)).items).toHaveLength(7), 60_000);
        expect((await service.inbox(customer.userId, { first: 20 }, customer)).unreadCount).toBe(7);
        expect((await inbox.get(sellerNotification))?.read).toBe(false);

        // Unsubscribing from one kind with the link of its e-mail, without signing in.
        const confirmation = email.sent.find((m) => m.to === `customer-${tag}@example.com` && /confirmed/.test(m.subject))!;
        expect(confirmation.unsubscribeUrl.startsWith('https://shop.example/#/unsubscribe?token=')).toBe(true);
        const token = decodeURIComponent(confirmation.unsubscribeUrl.split('token=')[1]!);
        expect(await service.unsubscribe(token)).toEqual({ kind: 'ORDER_CONFIRMED', channels: ['IN_APP'] });
        const prefs = await service.preferences(customer.userId, customer);
        expect(prefs.find((p) => p.kind === 'ORDER_CONFIRMED')?.channels).toEqual(['IN_APP']);
        expect(prefs.find((p) => p.kind === 'ORDER_PAID')?.channels).toEqual(['IN_APP', 'EMAIL']); // another kind: untouched
        const [payload, signature] = token.split('.');
        const forged = Buffer.from(JSON.stringify({ u: customer.userId, k: 'ORDER_PAID' })).toString('base64url');
        await expect(service.unsubscribe(`${forged}.${signature}`)).rejects.toMatchObject({ code: 'INVALID_INPUT' }); // another kind, same signature
        await expect(service.unsubscribe(`${payload}.${signature!.slice(0, -2)}AA`)).rejects.toMatchObject({ code: 'INVALID_INPUT' }); // tampered signature
        await expect(service.unsubscribe(unsubscribeToken(customer.userId, 'ORDER_PAID', randomBytes(32)))).rejects.toMatchObject({ code: 'INVALID_INPUT' }); // someone else's key
        expect((await service.preferences(customer.userId, customer)).find((p) => p.kind === 'ORDER_PAID')?.channels).toEqual(['IN_APP', 'EMAIL']);
        // The next confirmation goes to the inbox only.
        const o5 = await placed([{ productId: lamp, quantity: 1 }], 'CONFIRMED');
        const raised = await eventually(async () => {
          const found = (await readAllEvents(events)).filter((e) => e.type === 'NotificationRaised').map((e) => e.data as NotificationRaised['data']).find((n) => n.data.orderId === o5);
          expect(found).toBeDefined();
          return found!;
        }, 60_000);
        expect(raised.channels).toEqual(['IN_APP']);

        // Every integration message delivered again: no notification raised, none sent again.
        await saga.relay.waitFor(await events.headPosition(), 60_000);
        const mine = (m: DeliveredMessage) => m.topic !== USER_TOPIC || [customer.userId, seller.userId].includes(m.key);
        await expectCollectedHandled(suite, groupOf, mine);
        const raisedBefore = (await readAllEvents(events)).filter((e) => e.type === 'NotificationRaised').length;
        await redeliverCollected(suite, groupOf, [USER_TOPIC, PRODUCT_TOPIC, ORDER_TOPIC], mine);
        expect((await readAllEvents(events)).filter((e) => e.type === 'NotificationRaised')).toHaveLength(raisedBefore);
        await projectors[0]!.waitFor(await events.headPosition(), 60_000);
        expect((await kindsOf(customer.userId)).length).toBe(10);
        expect(email.sent).toHaveLength(10);
        expect(new Set(email.sent.map((m) => m.notificationId)).size).toBe(10);
        expect(webhooks.delivered).toHaveLength(4);

        // A rebuild from the first event (what `npm run replay` starts) ends in the same inbox and outbox.
        await dispatcher.stop();
        const head = await events.headPosition();
        for (const p of projectors) await p.waitFor(head, 60_000);
        const live = await readModelDigest(documents, notificationProjections());
        await expectRebuildMatches(projectors, documents, notificationProjections(), live);
      });
    }, 240_000);
  });
}

/** The notification slice alone on the embedded adapters, fed with contract messages published on its bus. */
async function startSlice(dispatcherDeps: { email?: CapturingEmailSender; clock?: () => Date; documents?: MemoryDocumentStore; options?: typeof FAST }) {
  const dir = mkdtempSync(join(tmpdir(), 'notification-'));
  const events = await FileEventStore.open(dir, { fsync: false });
  const bus = new MemoryBus();
  const documents = dispatcherDeps.documents ?? new MemoryDocumentStore();
  const logger = createLogger('notification-test', 'silent');
  const metrics = createMetrics(serviceRegistry('notification-test', { processMetrics: false }));
  const secret = randomBytes(32);
  const ports = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics, logger };
  const service = new NotificationService({ ...ports, clock: () => new Date(), internalSecret: secret });
  const consumers = await startNotificationConsumers(bus, service);
  const projectors = await startTestProjectors(notificationProjections(), ports);
  const dispatcher = new NotificationDispatcher({ ...ports, clock: dispatcherDeps.clock ?? (() => new Date()), internalSecret: secret, publicUrl: 'https://shop.example', email: dispatcherDeps.email }, dispatcherDeps.options ?? FAST);
  const outbox = documents.collection<OutboxDoc>(OUTBOX);
  let n = 0;
  const message = (type: string, key: string, value: Record<string, unknown>) => ({ id: randomUUID(), key, type, value: { occurredAt: new Date(Date.now() + n++).toISOString(), ...value } });
  const customer = async () => {
    const userId = randomUUID();
    await bus.publish(USER_TOPIC, [message('UserRegistered.v1', userId, { userId, email: `${userId}@example.com`, name: 'C', role: 'CUSTOMER' })]);
    return userId;
  };
  /** Publishes an order of `customerId` and then `type` about it; returns the order id. */
  const orderEvents = async (customerId: string, types: { type: string; value?: Record<string, unknown> }[]) => {
    const orderId = randomUUID();
    await bus.publish(ORDER_TOPIC, [message('OrderPlaced.v1', orderId, { orderId, customerId, items: [] }), ...types.map((t) => message(t.type, orderId, { orderId, items: [], ...t.value }))]);
    return orderId;
  };
  return {
    events,
    ports,
    secret,
    outbox,
    dispatcher,
    customer,
    orderEvents,
    stop: async () => {
      await dispatcher.stop();
      for (const p of projectors) await p.stop();
      await closeConsumers(consumers);
      await bus.close();
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('notification dispatcher (embedded)', () => {
  it('delivers a payment failure before a backlog of 1,000 routine notifications drains, and the backlog oldest first', async () => {
    const email = new CapturingEmailSender();
    const slice = await startSlice({ email, options: IN_ORDER });
    try {
      const customerId = await slice.customer();
      const held = email.hold(); // the SMTP server is slow: the first send hangs
      slice.dispatcher.start();
      for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 100 }, () => slice.orderEvents(customerId, [{ type: 'OrderShipped.v1' }])));
      await held;
      await eventually(async () => expect(await slice.outbox.count({ status: 'PENDING' })).toBe(1000), 60_000);
      const urgent = await slice.orderEvents(customerId, [{ type: 'OrderPaymentFailed.v1' }]);
      await eventually(async () => expect(await slice.outbox.count({ status: 'PENDING', priority: 'HIGH' })).toBe(1), 60_000);
      // The queue age by priority: the oldest routine delivery waits longer than the urgent one.
      await slice.dispatcher.observeQueueAge();
      const ages = new Map((await slice.ports.metrics.notificationQueueAge.get()).values.map((v) => [`${v.labels.priority} ${v.labels.channel}`, v.value]));
      expect(ages.get('NORMAL EMAIL')).toBeGreaterThan(ages.get('HIGH EMAIL')!);
      expect(ages.get('HIGH WEBHOOK')).toBe(0);
      email.release();
      await eventually(() => expect(email.sent).toHaveLength(1001), 120_000, 50);
      const position = email.sent.findIndex((m) => m.subject === `Payment failed for order #${urgent.split('-')[0]}`);
      process.stderr.write(`priority: the payment failure went out at position ${position + 1} of 1,001 (batch ${FAST.batch}); the backlog held 1,000\n`);
      // Only what the look under way had taken before it was raised goes first.
      expect(position).toBeGreaterThanOrEqual(0);
      expect(position).toBeLessThanOrEqual(FAST.batch);
      const raisedAt = new Map((await slice.outbox.find({ first: 2000 })).items.map((d) => [d.notificationId, d.raisedAt]));
      const routine = email.sent.filter((_, i) => i !== position).map((m) => raisedAt.get(m.notificationId)!);
      expect(routine).toEqual([...routine].sort());
    } finally {
      email.release();
      await slice.stop();
    }
  }, 180_000);

  it('retries a failed e-mail with backoff, parks it after too many failures or a permanent refusal, and keeps it pending without a sender', async () => {
    const email = new CapturingEmailSender();
    let ticks = 0;
    // Every look of the dispatcher is a minute later: backoffs (1 s, 2 s, ...) pass at once.
    const slice = await startSlice({ email, clock: () => new Date(Date.now() + ticks++ * 60_000) });
    try {
      const customerId = await slice.customer();
      const outcomes = async (orderId: string) =>
        (await readAllEvents(slice.events))
          .filter((e) => e.type !== 'NotificationRaised' && (e.data as { notificationId?: string }).notificationId === orderNotification.get(orderId))
          .map((e) => e.type.replace('NotificationDelivery', '').replace('Notification', ''));
      const orderNotification = new Map<string, string>();
      const notificationOf = async (orderId: string) => {
        const id = await eventually(async () => {
          const raised = (await readAllEvents(slice.events)).find((e) => e.type === 'NotificationRaised' && (e.data as NotificationRaised['data']).data.orderId === orderId);
          expect(raised).toBeDefined();
          return (raised!.data as NotificationRaised['data']).notificationId;
        }, 60_000);
        orderNotification.set(orderId, id);
        return id;
      };
      slice.dispatcher.start();

      // Two transient failures, then accepted: three attempts, one e-mail.
      email.failures.push(new DeliveryError('421 try later', true), new DeliveryError('421 try later', true));
      const retried = await slice.orderEvents(customerId, [{ type: 'OrderConfirmed.v1' }]);
      const retriedId = await notificationOf(retried);
      await eventually(async () => expect((await slice.outbox.get(`${retriedId}:EMAIL`))?.status).toBe('DELIVERED'), 60_000);
      expect(await outcomes(retried)).toEqual(['Failed', 'Failed', 'Delivered']);
      expect(email.sent.map((m) => m.notificationId)).toEqual([retriedId]);

      // Five transient failures: parked after the fifth attempt.
      email.failures.push(...Array.from({ length: 5 }, () => new DeliveryError('421 try later', true)));
      const exhausted = await slice.orderEvents(customerId, [{ type: 'OrderShipped.v1' }]);
      const exhaustedId = await notificationOf(exhausted);
      await eventually(async () => expect(await slice.outbox.get(`${exhaustedId}:EMAIL`)).toMatchObject({ status: 'PARKED', attempts: 5, lastError: '421 try later' }), 60_000);
      expect(await outcomes(exhausted)).toEqual(['Failed', 'Failed', 'Failed', 'Failed', 'Parked']);

      // A permanent refusal: parked at once.
      email.failures.push(new DeliveryError('550 no such mailbox', false));
      const refused = await slice.orderEvents(customerId, [{ type: 'OrderPaid.v1' }]);
      const refusedId = await notificationOf(refused);
      await eventually(async () => expect(await slice.outbox.get(`${refusedId}:EMAIL`)).toMatchObject({ status: 'PARKED', attempts: 1 }), 60_000);
      expect(email.sent).toHaveLength(1);
    } finally {
      await slice.stop();
    }

    // No e-mail sender configured: the delivery stays pending (never dropped), the inbox still gets it.
    const unsent = await startSlice({});
    try {
      unsent.dispatcher.start();
      const customerId = await unsent.customer();
      await unsent.orderEvents(customerId, [{ type: 'OrderConfirmed.v1' }]);
      await eventually(async () => expect(await unsent.outbox.count({ status: 'PENDING', channel: 'EMAIL' })).toBe(1), 60_000);
      expect(await unsent.dispatcher.dispatchOnce()).toBe(0);
      expect(await unsent.outbox.count({ status: 'PENDING', channel: 'EMAIL' })).toBe(1);
    } finally {
      await unsent.stop();
    }
  }, 120_000);
});

describe('notification dispatching, one process at a time (embedded)', () => {
  it('raises nothing about events older than a day, and delivers with one dispatcher of two, the other taking over when it stops', async () => {
    const email = new CapturingEmailSender();
    const slice = await startSlice({ email });
    const lease = { ttlMs: 600, renewMs: 100 };
    const dispatchers = [0, 1].map(() => new NotificationDispatcher({ ...slice.ports, clock: () => new Date(), internalSecret: slice.secret, publicUrl: 'https://shop.example', email }, { ...FAST, lease }));
    try {
      const customerId = await slice.customer();
      // History a new deployment reads from the topics' beginning: its facts, no notification.
      await slice.orderEvents(customerId, [{ type: 'OrderConfirmed.v1', value: { occurredAt: new Date(Date.now() - 2 * 86_400_000).toISOString() } }]);
      const fresh = await slice.orderEvents(customerId, [{ type: 'OrderConfirmed.v1' }]);
      await eventually(async () => expect((await slice.outbox.find({ first: 10 })).items).toHaveLength(1), 60_000);

      for (const d of dispatchers) d.start();
      await eventually(() => expect(email.sent.map((m) => m.subject)).toEqual([`Your order #${fresh.split('-')[0]} is confirmed`]), 60_000);
      await eventually(() => expect(dispatchers.filter((d) => d.leading)).toHaveLength(1), 10_000);
      const [leader, standby] = dispatchers[0]!.leading ? [dispatchers[0]!, dispatchers[1]!] : [dispatchers[1]!, dispatchers[0]!];

      // Many more: each delivered once, whichever process holds the lease.
      await Promise.all(Array.from({ length: 50 }, () => slice.orderEvents(customerId, [{ type: 'OrderShipped.v1' }])));
      await leader.stop();
      await eventually(() => expect(standby.leading).toBe(true), 10_000);
      await eventually(() => expect(email.sent).toHaveLength(51), 60_000);
      expect(new Set(email.sent.map((m) => m.notificationId)).size).toBe(51);
      expect((await readAllEvents(slice.events)).filter((e) => e.type === 'NotificationRaised')).toHaveLength(51);
    } finally {
      for (const d of dispatchers) await d.stop();
      await slice.stop();
    }
  }, 120_000);
});

onEmbeddedAndRealServers('notifications', 'notification-test', notificationSuite);
