/**
 * Benchmark (not a test): `npx tsx bench/notification-channels.bench.ts`. Throughput and latency
 * of the notification delivery channels on their own (the slice's dispatcher not included):
 * - e-mail over SMTP to a real Mailpit (a private one started with scripts/servers, or SMTP_URL +
 *   MAILPIT_URL when set), pooled connections, CONCURRENCY sends at once; every message is then
 *   counted in Mailpit, so nothing is claimed that did not arrive;
 * - e-mail into the folder (the embedded default);
 * - webhooks: WebhookDeliveries.deliver (the signed POST plus the WebhookDelivered event appended
 *   to the seller's stream, file event store with fsync) to a local node:http receiver, against
 *   the bare sender (the POST alone) in the same run: the ratio is the cost of the recorded state.
 *   With MONGODB_URL set, the retry queue's collection is on FerretDB (read on every delivery).
 * Prints messages/s and the p50/p99 of one send, and the ratios.
 * Env: BENCH_EMAILS (2000), BENCH_WEBHOOKS (2000), BENCH_CONCURRENCY (20), BENCH_SELLERS (20).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../platform/auth/tokens.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { OwnServer } from '../platform/testing/own-server.js';
import { dropTestDatabase, freshMongoUrl } from '../platform/testing/servers.js';
import { fmt, freePort, percentile } from '../platform/testing/system-process.js';
import type { EmailSender, OutgoingEmail, WebhookPayload } from '../subgraphs/notification/channels/channel.js';
import { createEmailSender } from '../subgraphs/notification/channels/email.js';
import { renderEmail } from '../subgraphs/notification/channels/templates.js';
import { TestReceiver } from '../subgraphs/notification/channels/test-receiver.js';
import { createWebhookSender } from '../subgraphs/notification/channels/webhook.js';
import { WebhookDeliveries } from '../subgraphs/notification/channels/webhooks.js';
import { WebhookSecretBox } from '../subgraphs/notification/channels/webhook-secrets.js';

const EMAILS = Number(process.env.BENCH_EMAILS ?? 2000);
const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const SELLERS = Number(process.env.BENCH_SELLERS ?? 20);

interface Result {
  name: string;
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Runs `count` jobs, `concurrency` at a time; the latency of each, and the rate over the whole run. */
async function measure(name: string, count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await job(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const result = { name, count, perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  console.log(`${name.padEnd(48)} ${String(count).padStart(6)} in ${fmt(seconds)} s: ${fmt(result.perSecond, 0).padStart(6)}/s, p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms`);
  return result;
}

const email = (i: number): OutgoingEmail => {
  const notificationId = randomUUID();
  const unsubscribeUrl = `https://shop.example/unsubscribe?token=${notificationId}`;
  const content = { notificationId, kind: 'ORDER_PAID' as const, recipientId: randomUUID(), occurredAt: new Date().toISOString(), data: { orderId: randomUUID(), total: { amount: 1000 + i, currency: 'EUR' } } };
  return { notificationId, to: `customer-${i}@example.com`, unsubscribeUrl, ...renderEmail(content, { email: `customer-${i}@example.com`, name: `Customer ${i}` }, unsubscribeUrl) };
};

async function emailBench(): Promise<Result[]> {
  const results: Result[] = [];
  let smtpUrl = process.env.SMTP_URL;
  let api = process.env.MAILPIT_URL;
  let own: OwnServer | undefined;
  const installed = existsSync(join(process.env.STOREFRONT_CACHE ?? join(homedir(), '.cache', 'storefront'), 'mailpit', process.env.MAILPIT_VERSION ?? 'v1.33.1', 'bin', 'mailpit'));
  if (installed) {
    const [smtp, http] = [await freePort(), await freePort()];
    own = new OwnServer('mailpit', { MAILPIT_SMTP_PORT: String(smtp), MAILPIT_HTTP_PORT: String(http) });
    await own.start();
    smtpUrl = `smtp://127.0.0.1:${smtp}`;
    api = `http://127.0.0.1:${http}`;
  }
  try {
    if (smtpUrl && api) {
      const before = ((await (await fetch(`${api}/api/v1/info`)).json()) as { Messages: number }).Messages;
      const sender: EmailSender = createEmailSender({ smtpUrl, maxConnections: 5 });
      results.push(await measure(`e-mail, SMTP to Mailpit (${own ? 'private' : smtpUrl})`, EMAILS, CONCURRENCY, (i) => sender.send(email(i))));
      await sender.close();
      const after = ((await (await fetch(`${api}/api/v1/info`)).json()) as { Messages: number }).Messages;
      console.log(`  Mailpit holds ${after - before} new messages (sent ${EMAILS})`);
      if (after - before !== EMAILS) throw new Error('Mailpit did not receive every message');
    } else {
      console.log('e-mail over SMTP: SKIPPED (Mailpit not installed and SMTP_URL/MAILPIT_URL not set)');
    }
  } finally {
    await own?.dispose();
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-mail-'));
  try {
    const folder = createEmailSender({ mailDir: dir });
    results.push(await measure('e-mail, .eml files into a folder', EMAILS, CONCURRENCY, (i) => folder.send(email(i))));
    if (readdirSync(dir).length !== EMAILS) throw new Error('not every .eml file was written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function webhookBench(name: string, documents: DocumentStore): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-webhooks-'));
  const receiver = await TestReceiver.start(() => 204);
  const sender = createWebhookSender({ allowPrivate: true, maxSockets: CONCURRENCY });
  const events = await FileEventStore.open(dir, { fsync: true });
  try {
    const service = new WebhookDeliveries({ events, documents, sender, secrets: WebhookSecretBox.development(), allowPrivate: true, logger: createLogger('bench', 'silent') });
    const sellers: Identity[] = Array.from({ length: SELLERS }, () => ({ userId: randomUUID(), role: 'SELLER' }));
    for (const s of sellers) await service.register(s, receiver.url(), ['UNIT_SOLD']);
    const payload = (): WebhookPayload => ({ id: randomUUID(), kind: 'UNIT_SOLD', occurredAt: new Date().toISOString(), data: { productId: randomUUID(), quantity: 1 } });
    const target = { webhookId: 'bench', url: receiver.url(), secret: 'whsec_bench' };
    const bare = await measure('webhook, signed POST alone', WEBHOOKS, CONCURRENCY, () => sender.send(target, payload()));
    const full = await measure(`webhook, deliver() with its event (${name})`, WEBHOOKS, CONCURRENCY, async (i) => {
      const [report] = await service.deliver(sellers[i % SELLERS]!.userId, payload());
      if (report?.outcome !== 'DELIVERED') throw new Error(`not delivered: ${JSON.stringify(report)}`);
    });
    console.log(`  receiver got ${receiver.received.length} requests (expected ${2 * WEBHOOKS}); deliver()/bare throughput ratio ${fmt(full.perSecond / bare.perSecond)}`);
    return [bare, full];
  } finally {
    sender.close();
    await receiver.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`notification channels: ${EMAILS} e-mails, ${WEBHOOKS} webhooks, ${CONCURRENCY} at a time, ${SELLERS} sellers`);
  await emailBench();
  await webhookBench('embedded documents', new MemoryDocumentStore());
  if (process.env.MONGODB_URL) {
    const { url } = freshMongoUrl(process.env.MONGODB_URL);
    const documents = await MongoDocumentStore.connect(url, createLogger('bench', 'silent'));
    try {
      await webhookBench('retry queue on FerretDB', documents);
    } finally {
      await documents.close();
      await dropTestDatabase(url);
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
