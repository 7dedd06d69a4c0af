import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql } from '../platform/testing/graphql-client.js';
import { OwnServer } from '../platform/testing/own-server.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { freePort } from '../platform/testing/system-process.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { TestReceiver } from '../subgraphs/notification/channels/test-receiver.js';
import { verifyWebhookSignature } from '../subgraphs/notification/channels/webhook.js';

// Real delivery, end to end, on the real servers: a customer's order goes through the saga on
// Kafka and FerretDB, and the notifications it causes leave the system by their real transports —
// e-mails received by a real SMTP server (a private Mailpit, read back through its API) and the
// seller's UNIT_SOLD POSTed, signed, to a webhook registered through the gateway, whose receiver
// (outside the system) refuses it twice before taking it.

const REGISTER = 'mutation($input: RegisterInput!) { register(input: $input) { token user { id } userErrors { code message } } }';
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code message } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { status } }';
const PAY = 'mutation($id: ID!, $payment: PaymentInput!) { payOrder(id: $id, payment: $payment) { order { id status } userErrors { code message } } }';
const HOOK = 'mutation($url: String!, $events: [NotificationKind!]!) { registerWebhook(url: $url, events: $events) { webhook { id status } secret userErrors { code message } } }';
const HOOKS = '{ me { webhooks { id status consecutiveFailures lastError lastDeliveredAt } } }';

const cacheDir = process.env.STOREFRONT_CACHE ?? join(homedir(), '.cache', 'storefront');
const mailpitInstalled = existsSync(join(cacheDir, 'mailpit', process.env.MAILPIT_VERSION ?? 'v1.33.1', 'bin', 'mailpit'));
if (!mailpitInstalled) process.stderr.write('SKIPPED: notification delivery end to end (Mailpit is not installed: bash scripts/servers/install.sh mailpit)\n');

interface MailpitSummary {
  ID: string;
  Subject: string;
  To: { Address: string }[];
}

withAllServers('notification delivery end to end (Kafka, FerretDB, Redis, Mailpit)', (servers) => {
  describe.skipIf(!mailpitInstalled && process.env.CI !== 'true')('notification delivery end to end (Kafka, FerretDB, Redis, a real SMTP server, a webhook receiver)', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'notification-delivery-'));
    let mailpit: OwnServer;
    let api: string;
    let receiver: TestReceiver;
    let system: RunningSystem;

    beforeAll(async () => {
      const [smtpPort, httpPort] = [await freePort(), await freePort()];
      mailpit = new OwnServer('mailpit', { MAILPIT_SMTP_PORT: String(smtpPort), MAILPIT_HTTP_PORT: String(httpPort) });
      await mailpit.start();
      api = `http://127.0.0.1:${httpPort}/api/v1`;
      // The seller's receiver answers 500 twice, then takes every POST.
      receiver = await TestReceiver.start((_request, index) => (index < 2 ? 500 : 200));
      // Development rules (a loopback receiver is allowed); retries 0.2 s, 0.4 s, ... apart.
      const channels = { NODE_ENV: 'test', SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, WEBHOOK_RETRY_BASE_SECONDS: '0.2', WEBHOOK_RETRY_MAX_SECONDS: '1' };
      system = await startSystem(testSystemConfig(dataDir, { RATE_LIMIT_PER_MINUTE: '100000', ...servers, ...channels }), { logger: createLogger('e2e', 'silent') });
    }, 180_000);
    afterAll(async () => {
      await system?.stop();
      await receiver?.close();
      await mailpit?.dispose();
      await dropTestDatabase(servers.MONGODB_URL);
      rmSync(dataDir, { recursive: true, force: true });
    });

    const register = async (role: 'CUSTOMER' | 'SELLER', email: string) => {
      const r = await graphql<{ register: { token: string; user: { id: string } } }>(system.gatewayUrl, REGISTER, { input: { email, password: 'a long enough password', name: `Ada ${role.toLowerCase()}`, role } });
      if (!r.data?.register.token) throw new Error(`register failed: ${r.raw}`);
      return { authorization: `Bearer ${r.data.register.token}` };
    };
    const mailTo = async (to: string, subject: RegExp) =>
      eventually(async () => {
        const { messages } = (await (await fetch(`${api}/messages`)).json()) as { messages: MailpitSummary[] };
        const found = messages.find((m) => m.To.some((t) => t.Address === to) && subject.test(m.Subject));
        expect(found, `an e-mail to ${to} matching ${subject}: ${JSON.stringify(messages.map((m) => [m.To[0]?.Address, m.Subject]))}`).toBeDefined();
        return (await (await fetch(`${api}/message/${found!.ID}`)).json()) as { Subject: string; Text: string; HTML: string };
      }, 60_000);

    it('e-mails the customer (confirmed, paid) through SMTP and POSTs the seller’s sale to its webhook, signed, after two refusals', async () => {
      const tag = randomUUID().slice(0, 8);
      const customerEmail = `customer-${tag}@example.com`;
      const seller = await register('SELLER', `seller-${tag}@example.com`);
      const customer = await register('CUSTOMER', customerEmail);

      const hook = await graphql<{ registerWebhook: { webhook: { id: string }; secret: string; userErrors: unknown[] } }>(system.gatewayUrl, HOOK, { url: receiver.url('/storefront'), events: ['UNIT_SOLD'] }, seller);
      expect(hook.data?.registerWebhook.userErrors, hook.raw).toEqual([]);
      const secret = hook.data!.registerWebhook.secret;

      const created = await graphql<{ createProduct: { product: { id: string } } }>(system.gatewayUrl, CREATE, { input: { sku: `DLV-${tag}`, name: 'Delivered lamp', category: 'home', price: { amount: 2599, currency: 'EUR' }, initialStock: 50 } }, seller);
      const productId = created.data!.createProduct.product.id;
      const placed = await graphql<{ placeOrder: { order: { id: string } } }>(system.gatewayUrl, PLACE, { input: { items: [{ productId, quantity: 2 }] } }, customer);
      const orderId = placed.data!.placeOrder.order.id;
      await eventually(async () => expect((await graphql<{ order: { status: string } }>(system.gatewayUrl, ORDER, { id: orderId }, customer)).data?.order.status).toBe('CONFIRMED'), 60_000);
      const paid = await graphql<{ payOrder: { order: { status: string } } }>(system.gatewayUrl, PAY, { id: orderId, payment: { token: 'tok_visa', idempotencyKey: `pay-${tag}` } }, customer);
      expect(paid.data?.payOrder.order.status, paid.raw).toBe('PAID');

      // The customer's e-mails, as the SMTP server received them.
      const confirmed = await mailTo(customerEmail, /is confirmed/);
      expect(confirmed.Subject).toBe(`Your order #${orderId.split('-')[0]} is confirmed`);
      expect(confirmed.Text).toContain(`Order: ${orderId}`);
      expect(confirmed.Text).toContain('€51.98');
      expect(confirmed.Text).toMatch(/Unsubscribe from these e-mails: http\S+#\/unsubscribe\?token=/);
      const paidMail = await mailTo(customerEmail, /Payment received/);
      expect(paidMail.Text).toContain('Paid: €51.98');

      // The seller's webhook: refused twice (500), taken the third time; the same delivery id each time, a valid signature.
      await eventually(() => expect(receiver.received.length).toBeGreaterThanOrEqual(3), 60_000);
      const posts = receiver.received.slice(0, 3);
      const body = JSON.parse(posts[2]!.body) as { id: string; kind: string; data: { orderId: string; productId: string; quantity: number } };
      expect(body).toMatchObject({ kind: 'UNIT_SOLD', data: { orderId, productId, quantity: 2 } });
      expect(new Set(posts.map((p) => p.headers['x-storefront-delivery']))).toEqual(new Set([body.id]));
      for (const post of posts) expect(verifyWebhookSignature(post.body, post.headers['x-storefront-signature'] as string, secret)).toBe(true);
      expect(verifyWebhookSignature(posts[2]!.body.replace('"quantity":2', '"quantity":3'), posts[2]!.headers['x-storefront-signature'] as string, secret)).toBe(false);
      const hooks = await graphql<{ me: { webhooks: { status: string; consecutiveFailures: number; lastDeliveredAt: string | null }[] } }>(system.gatewayUrl, HOOKS, {}, seller);
      expect(hooks.data?.me.webhooks).toMatchObject([{ status: 'ACTIVE', consecutiveFailures: 0 }]);
      expect(hooks.data?.me.webhooks[0]?.lastDeliveredAt).not.toBeNull();
    }, 180_000);
  });
});
