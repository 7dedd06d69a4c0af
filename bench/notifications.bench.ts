/**
 * Measurement (not a test): `npm run bench:notifications`, on Kafka and FerretDB when
 * KAFKA_BROKERS and MONGODB_URL are set (`. scripts/servers/env.sh`), else on the embedded bus and
 * document store. The notification slice alone (consumers, its event store, the inbox and outbox
 * projections, the dispatcher) is fed BENCH_ORDERS orders (default 1,000: OrderPlaced.v1 then
 * OrderConfirmed.v1, an e-mail each) and as many sales (ProductListed.v1 then StockSold.v1, a
 * webhook each) on the bus, as fast as it takes them. With BENCH_TRANSPORTS=real (the default
 * when SMTP_URL is set: `. scripts/servers/env.sh` with Mailpit started) the real transports
 * deliver: e-mail over SMTP (delivered when the server accepted it) and the seller's webhook,
 * registered through WebhookDeliveries, POSTed signed to a local HTTP receiver (delivered when it
 * received it). With BENCH_TRANSPORTS=seam they are captured at the seam (channels/channel.ts):
 * what is measured is then the slice alone, up to the transport's call. Prints notifications/s per channel
 * and the delay from the causing event (its occurredAt) to the transport's call, p50/p99, under
 * that burst (mostly queueing) and then for BENCH_PACED (default 100) more orders and sales one
 * every 50 ms (the delay of a notification that finds no queue).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { closeConsumers, type Bus } from '../platform/bus/bus.js';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import { MemoryBus } from '../platform/bus/memory-bus.js';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { freshMongoUrl } from '../platform/testing/servers.js';
import { Projector } from '../projections/projector.js';
import { ORDER_TOPIC } from '../subgraphs/order/public-events.js';
import { PRODUCT_TOPIC } from '../subgraphs/product/public-events.js';
import { USER_TOPIC } from '../subgraphs/user/public-events.js';
import type { EmailSender, OutgoingEmail, WebhookPayload } from '../subgraphs/notification/channels/channel.js';
import { createEmailSender } from '../subgraphs/notification/channels/email.js';
import { TestReceiver } from '../subgraphs/notification/channels/test-receiver.js';
import { createWebhookSender } from '../subgraphs/notification/channels/webhook.js';
import { WebhookDeliveries } from '../subgraphs/notification/channels/webhooks.js';
import { WebhookSecretBox } from '../subgraphs/notification/channels/webhook-secrets.js';
import { NotificationDispatcher } from '../subgraphs/notification/dispatcher.js';
import { notificationProjections } from '../subgraphs/notification/read-model/projections.js';
import { startNotificationConsumers } from '../subgraphs/notification/server.js';
import { NotificationService } from '../subgraphs/notification/service.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 1000);
const PACED = Number(process.env.BENCH_PACED ?? 100);
const SMTP_URL = process.env.SMTP_URL?.trim();
const TRANSPORTS = process.env.BENCH_TRANSPORTS ?? (SMTP_URL ? 'real' : 'seam');
if (TRANSPORTS === 'real' && !SMTP_URL) throw new Error('BENCH_TRANSPORTS=real needs SMTP_URL (a Mailpit: bash scripts/servers/start.sh mailpit; . scripts/servers/env.sh)');
const logger = createLogger('bench', 'warn');

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function main() {
  const kafka = process.env.KAFKA_BROKERS?.trim();
  const mongo = process.env.MONGODB_URL?.trim();
  const dir = mkdtempSync(join(tmpdir(), 'notification-bench-'));
  const events = await FileEventStore.open(dir, { fsync: false });
  const bus: Bus = kafka ? await KafkaBus.connect(kafka, { clientId: 'notification-bench', logger, namespace: `ntfbench-${randomUUID().slice(0, 8)}` }) : new MemoryBus();
  const mongoUrl = mongo ? freshMongoUrl(mongo).url : undefined;
  const documents: DocumentStore = mongoUrl ? await MongoDocumentStore.connect(mongoUrl, logger) : new MemoryDocumentStore();
  const metrics = createMetrics(serviceRegistry('notification-bench', { processMetrics: false }));
  const ports = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics, logger };
  const secret = new Uint8Array(32).fill(7);
  const service = new NotificationService({ ...ports, clock: () => new Date(), internalSecret: secret });
  const delivered: { channel: 'EMAIL' | 'WEBHOOK'; at: number; occurredAt: number }[] = [];
  /** When each order's confirmation happened, by the order id's first 8 characters (what the e-mail's subject names). */
  const occurred = new Map<string, number>();
  const real = TRANSPORTS === 'real';
  const smtp = real ? createEmailSender({ smtpUrl: SMTP_URL, maxConnections: 5 }) : undefined;
  const email: EmailSender = {
    send: async (m: OutgoingEmail) => {
      await smtp?.send(m); // delivered: the SMTP server accepted it
      delivered.push({ channel: 'EMAIL', at: Date.now(), occurredAt: occurred.get(/order #(\w{8})/.exec(m.subject)?.[1] ?? '') ?? NaN });
    },
    close: async () => smtp?.close(),
  };
  // The seller's receiver (outside the system): delivered when it got the POST.
  const receiver = real
    ? await TestReceiver.start((request) => {
        delivered.push({ channel: 'WEBHOOK', at: Date.now(), occurredAt: Date.parse((JSON.parse(request.body) as WebhookPayload).occurredAt) });
        return 200;
      })
    : undefined;
  const webhookSender = createWebhookSender({ allowPrivate: true });
  const registry = new WebhookDeliveries({ events, documents, sender: webhookSender, secrets: WebhookSecretBox.development(), allowPrivate: true, logger });
  const webhooks = real
    ? registry
    : {
        deliver: (_seller: string, p: WebhookPayload) => {
          delivered.push({ channel: 'WEBHOOK', at: Date.now(), occurredAt: Date.parse(p.occurredAt) });
          return Promise.resolve();
        },
      };
  const consumers = await startNotificationConsumers(bus, service);
  const projectors = notificationProjections().map((p) => new Projector(p, ports));
  for (const p of projectors) await p.start();
  const dispatcher = new NotificationDispatcher({ ...ports, clock: () => new Date(), internalSecret: secret, publicUrl: 'http://localhost:4000', email, webhooks });
  dispatcher.start();
  try {
    const customer = randomUUID();
    const seller = randomUUID();
    if (receiver) await registry.register({ userId: seller, role: 'SELLER' }, receiver.url('/bench'), ['UNIT_SOLD']);
    const now = () => new Date().toISOString();
    await bus.publish(USER_TOPIC, [
      { id: randomUUID(), key: customer, type: 'UserRegistered.v1', value: { userId: customer, email: 'bench@example.com', name: 'Bench', role: 'CUSTOMER', occurredAt: now() } },
      { id: randomUUID(), key: seller, type: 'UserRegistered.v1', value: { userId: seller, email: 'seller@example.com', name: 'Seller', role: 'SELLER', occurredAt: now() } },
    ]);
    const product = randomUUID();
    await bus.publish(PRODUCT_TOPIC, [{ id: randomUUID(), key: product, type: 'ProductListed.v1', value: { productId: product, sku: 'B', name: 'Bench lamp', category: 'home', price: { amount: 1, currency: 'EUR' }, sellerId: seller, stock: 1_000_000, occurredAt: now() } }]);
    await sleep(2000); // facts first: a sale of an unknown product notifies nobody
    const started = Date.now();
    for (let i = 0; i < ORDERS; i += 50) {
      const orders = Array.from({ length: Math.min(50, ORDERS - i) }, () => randomUUID());
      for (const orderId of orders) occurred.set(orderId.slice(0, 8), Date.now());
      await bus.publish(ORDER_TOPIC, orders.flatMap((orderId) => [
        { id: randomUUID(), key: orderId, type: 'OrderPlaced.v1', value: { orderId, customerId: customer, items: [{ productId: product, quantity: 1 }], occurredAt: now() } },
        { id: randomUUID(), key: orderId, type: 'OrderConfirmed.v1', value: { orderId, total: { amount: 1, currency: 'EUR' }, occurredAt: now() } },
      ]));
      await bus.publish(PRODUCT_TOPIC, orders.map((orderId) => ({ id: randomUUID(), key: product, type: 'StockSold.v1', value: { productId: product, orderId, quantity: 1, occurredAt: now() } })));
    }
    const deadline = Date.now() + 600_000;
    // When the last notification reached the outbox (consumers and projector), to tell them from the dispatcher.
    let queued: number | undefined;
    const outbox = documents.collection('notification_outbox');
    while (delivered.length < 2 * ORDERS && Date.now() < deadline) {
      if (queued === undefined && (await outbox.count()) >= 2 * ORDERS) queued = Date.now();
      await sleep(100);
    }
    const ended = Date.now();
    queued ??= ended;
    const seconds = (ended - started) / 1000;
    const line = (channel: 'EMAIL' | 'WEBHOOK') => {
      const mine = delivered.slice(0, burst).filter((d) => d.channel === channel);
      const delays = mine.map((d) => d.at - d.occurredAt).filter(Number.isFinite).sort((a, b) => a - b);
      return `${channel}: ${mine.length} in ${seconds.toFixed(1)} s = ${(mine.length / seconds).toFixed(0)}/s` + (delays.length ? `, delay from the causing event p50 ${quantile(delays, 0.5)} ms, p99 ${quantile(delays, 0.99)} ms` : '');
    };
    // Paced: one order and one sale every 50 ms, each delivered before long.
    const burst = delivered.length;
    for (let i = 0; i < PACED; i++) {
      const orderId = randomUUID();
      occurred.set(orderId.slice(0, 8), Date.now());
      await bus.publish(ORDER_TOPIC, [
        { id: randomUUID(), key: orderId, type: 'OrderPlaced.v1', value: { orderId, customerId: customer, items: [{ productId: product, quantity: 1 }], occurredAt: now() } },
        { id: randomUUID(), key: orderId, type: 'OrderConfirmed.v1', value: { orderId, total: { amount: 1, currency: 'EUR' }, occurredAt: now() } },
      ]);
      await bus.publish(PRODUCT_TOPIC, [{ id: randomUUID(), key: product, type: 'StockSold.v1', value: { productId: product, orderId, quantity: 1, occurredAt: now() } }]);
      await sleep(50);
    }
    while (delivered.length < burst + 2 * PACED && Date.now() < deadline) await sleep(50);
    const paced = delivered.slice(burst);
    const pacedLine = (channel: 'EMAIL' | 'WEBHOOK') => {
      const delays = paced.filter((d) => d.channel === channel).map((d) => d.at - d.occurredAt).filter(Number.isFinite).sort((a, b) => a - b);
      return `${channel} p50 ${quantile(delays, 0.5)} ms, p99 ${quantile(delays, 0.99)} ms`;
    };
    process.stdout.write(`paced (${PACED} orders and sales, one each every 50 ms): delay from the causing event ${pacedLine('EMAIL')}; ${pacedLine('WEBHOOK')}\n`);
    process.stdout.write(`notifications on ${kafka ? 'Kafka' : 'the embedded bus'} and ${mongo ? 'FerretDB' : 'the embedded document store'}, ${real ? `delivered over SMTP (${SMTP_URL}) and to a webhook receiver` : 'transports captured at the seam'}, ${ORDERS} orders and ${ORDERS} sales:\n  ${line('EMAIL')}\n  ${line('WEBHOOK')}\n  both: ${(burst / seconds).toFixed(0)} notifications/s; all in the outbox after ${((queued - started) / 1000).toFixed(1)} s (raised and projected), all sent after ${seconds.toFixed(1)} s\n`);
  } finally {
    await dispatcher.stop();
    await email.close();
    webhookSender.close();
    await receiver?.close();
    for (const p of projectors) await p.stop();
    await closeConsumers(consumers);
    await bus.close();
    await events.close();
    await documents.close();
    if (mongoUrl) {
      const client = await MongoClient.connect(mongoUrl);
      await client.db().dropDatabase();
      await client.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
