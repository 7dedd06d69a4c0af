import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Identity } from '../../../platform/auth/tokens.js';
import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import { FileEventStore } from '../../../platform/event-store/file-event-store.js';
import { createLogger } from '../../../platform/logging.js';
import { eventually } from '../../../platform/testing/eventually.js';
import { withServer } from '../../../platform/testing/servers.js';
import type { NotificationKind, WebhookPayload, WebhookSender } from './channel.js';
import { TestReceiver } from './test-receiver.js';
import { createWebhookSender, SIGNATURE_HEADER, verifyWebhookSignature } from './webhook.js';
import { MAX_WEBHOOKS_PER_SELLER, sellerWebhooksStream, type WebhookDeliveryFailed } from './webhook-decider.js';
import { WEBHOOK_RETRIES, WebhookDeliveries, type WebhookDeliveriesDeps, type WebhookRetryDoc } from './webhooks.js';
import { WebhookSecretBox } from './webhook-secrets.js';
import { freshMongoDocuments, memoryDocuments, type OpenDocuments } from '../../../platform/testing/suite-stores.js';

const BASE_MS = 60_000;
const CAP_MS = 3_600_000;
const payload = (kind: NotificationKind = 'UNIT_SOLD'): WebhookPayload => ({ id: randomUUID(), kind, occurredAt: '2026-12-02T03:00:00.000Z', data: { productId: randomUUID(), quantity: 1 } });
/** An asymmetric matcher typed as the string it matches. */
const matching = (pattern: RegExp): string => expect.stringMatching(pattern) as string;
const seller = (): Identity => ({ userId: randomUUID(), role: 'SELLER' });

/**
 * WebhookDeliveries on the embedded event store (file log) with its document store (embedded, or
 * FerretDB), sending for real to a local HTTP receiver. Time is given, never waited for: each
 * `retryDue(now)` is called with the time the test chooses, and backoff is read from the
 * recorded `nextAttemptAt` values.
 */
/**
 * `exclusiveClaims`: whether the document store's compare-and-set is atomic under concurrency, so
 * that of two processes finding a retry due exactly one sends it. FerretDB 1.24's is not (five
 * concurrent guarded replaceOne calls on one document matched more than once in about half of the
 * rounds tried): there both may send it, which at-least-once delivery allows.
 */
function webhookSuite(name: string, openDocuments: OpenDocuments, exclusiveClaims: boolean) {
  describe(`webhook deliveries (${name})`, () => {
    const dirs: string[] = [];
    const cleanup: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanup.splice(0).reverse()) await c();
    });
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

    async function setup(answer: Parameters<typeof TestReceiver.start>[0], options: Partial<WebhookDeliveriesDeps> = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'webhooks-'));
      dirs.push(dir);
      const events = await FileEventStore.open(dir, { fsync: false });
      const { documents, drop } = await openDocuments();
      const receiver = await TestReceiver.start(answer);
      const sender = createWebhookSender({ allowPrivate: true, timeoutMs: 1000 });
      let now = new Date('2026-12-02T03:00:00.000Z');
      const make = (store = events, through: WebhookSender = sender, secrets = options.secrets ?? WebhookSecretBox.development()) =>
        new WebhookDeliveries({ events: store, documents, sender: through, allowPrivate: true, clock: () => now, retry: { maxAttempts: 8, baseDelayMs: BASE_MS, maxDelayMs: CAP_MS }, logger: createLogger('webhooks-test', 'silent'), ...options, secrets });
      const state = { service: make(), events };
      cleanup.push(async () => {
        sender.close();
        await receiver.close();
        await state.events.close();
        await drop();
      });
      return {
        state,
        make,
        receiver,
        sender,
        documents,
        dir,
        setNow: (at: Date) => (now = at),
        /** A process restart: the event store reopened, a new service (no cached state). */
        restart: async () => {
          await state.events.close();
          state.events = await FileEventStore.open(dir, { fsync: false });
          state.service = make(state.events);
        },
        failures: async (sellerId: string) =>
          (await state.events.readStream(sellerWebhooksStream(sellerId))).filter((e): e is RecordedEvent<'WebhookDeliveryFailed', WebhookDeliveryFailed['data']> => e.type === 'WebhookDeliveryFailed').map((e) => e.data),
      };
    }

    it('delivers a signed notification to the seller’s webhooks subscribed to its kind, and to no one else', async () => {
      const t = await setup(() => 200);
      const ada = seller();
      const { webhook, secret } = await t.state.service.register(ada, t.receiver.url('/sales'), ['UNIT_SOLD', 'SOLD_OUT']);
      await t.state.service.register(ada, t.receiver.url('/stock'), ['STOCK_LOW']);
      expect(secret).toMatch(/^whsec_/);
      expect(webhook).toMatchObject({ url: t.receiver.url('/sales'), events: ['UNIT_SOLD', 'SOLD_OUT'], status: 'ACTIVE', consecutiveFailures: 0 });
      expect(JSON.stringify(await t.state.service.list(ada.userId))).not.toContain(secret); // shown once

      const sold = payload('UNIT_SOLD');
      const reports = await t.state.service.deliver(ada.userId, sold);
      expect(reports).toEqual([{ webhookId: webhook.id, outcome: 'DELIVERED', attempt: 1 }]);
      expect(await t.state.service.deliver(seller().userId, sold)).toEqual([]); // another seller has no webhooks
      expect(t.receiver.received.map((r) => r.path)).toEqual(['/sales']);
      const [request] = t.receiver.received;
      expect(verifyWebhookSignature(request!.body, request!.headers[SIGNATURE_HEADER] as string, secret)).toBe(true);
      expect(verifyWebhookSignature(request!.body.replace(sold.id, randomUUID()), request!.headers[SIGNATURE_HEADER] as string, secret)).toBe(false);
      expect((await t.state.service.list(ada.userId))[0]).toMatchObject({ lastDeliveredAt: '2026-12-02T03:00:00.000Z' });
    });

    it('retries after two failures on exponential backoff, across a restart, and delivers on the third attempt', async () => {
      const t = await setup((_r, i) => (i < 2 ? 500 : 200));
      const ada = seller();
      const { webhook, secret } = await t.state.service.register(ada, t.receiver.url(), ['UNIT_SOLD']);
      const sold = payload();
      const t0 = new Date('2026-12-02T03:00:00.000Z');
      expect(await t.state.service.deliver(ada.userId, sold)).toMatchObject([{ outcome: 'RETRY_SCHEDULED', attempt: 1 }]);
      expect(await t.state.service.retryDue(t0)).toEqual([]); // not due yet

      const [first] = await t.failures(ada.userId);
      const firstDelay = Date.parse(first!.nextAttemptAt!) - t0.getTime();
      expect(firstDelay).toBeGreaterThanOrEqual(BASE_MS / 2);
      expect(firstDelay).toBeLessThanOrEqual(BASE_MS);

      await t.restart(); // the due retry is in the store, not in this process
      const t1 = new Date(first!.nextAttemptAt!);
      expect(await t.state.service.queueStats(new Date(t1.getTime() + 30_000))).toEqual({ pending: 1, held: 0, oldestDueSeconds: 30 });
      expect(await t.state.service.retryDue(new Date(t1.getTime() - 1))).toEqual([]);
      expect(await t.state.service.retryDue(t1)).toMatchObject([{ webhookId: webhook.id, outcome: 'RETRY_SCHEDULED', attempt: 2 }]);
      const second = (await t.failures(ada.userId))[1]!;
      const secondDelay = Date.parse(second.nextAttemptAt!) - t1.getTime();
      expect(secondDelay).toBeGreaterThanOrEqual(BASE_MS);
      expect(secondDelay).toBeLessThanOrEqual(2 * BASE_MS);
      expect(second).toMatchObject({ attempt: 2, status: 500, retryable: true, error: matching(/answered 500/) });
      expect((await t.state.service.list(ada.userId))[0]).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 2, lastError: matching(/500/) });

      await t.restart();
      expect(await t.state.service.retryDue(new Date(second.nextAttemptAt!))).toEqual([{ webhookId: webhook.id, outcome: 'DELIVERED', attempt: 3 }]);
      expect(t.receiver.received).toHaveLength(3);
      // Every attempt carried the same delivery id and a valid signature.
      for (const r of t.receiver.received) {
        expect(r.headers['x-storefront-delivery']).toBe(sold.id);
        expect(verifyWebhookSignature(r.body, r.headers[SIGNATURE_HEADER] as string, secret)).toBe(true);
      }
      expect((await t.state.service.list(ada.userId))[0]).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 0 });
      expect(await t.documents.collection<WebhookRetryDoc>(WEBHOOK_RETRIES).count({ webhookId: webhook.id })).toBe(0);
      expect(await t.state.service.retryDue(new Date('2027-01-01T00:00:00.000Z'))).toEqual([]);
    });

    it('parks a webhook after N consecutive failures, shows it, sends nothing more until reactivated, then delivers what it held', async () => {
      let healthy = false;
      const t = await setup(() => (healthy ? 200 : 503), { retry: { maxAttempts: 3, baseDelayMs: BASE_MS, maxDelayMs: CAP_MS } });
      const ada = seller();
      const { webhook } = await t.state.service.register(ada, t.receiver.url(), ['UNIT_SOLD', 'SOLD_OUT']);
      const sold = payload();
      expect(await t.state.service.deliver(ada.userId, sold)).toMatchObject([{ outcome: 'RETRY_SCHEDULED', attempt: 1 }]);
      expect(await t.state.service.retryDue(new Date('2026-12-02T12:00:00.000Z'))).toMatchObject([{ outcome: 'RETRY_SCHEDULED', attempt: 2 }]);
      const far = new Date('2026-12-03T00:00:00.000Z');
      expect(await t.state.service.retryDue(far)).toMatchObject([{ outcome: 'PARKED', attempt: 3 }]);
      expect(t.receiver.received).toHaveLength(3);

      const [listed] = await t.state.service.list(ada.userId);
      expect(listed).toMatchObject({ id: webhook.id, status: 'PARKED', consecutiveFailures: 3, lastError: matching(/503/), parkedAt: far.toISOString() });
      expect((await t.failures(ada.userId)).at(-1)).toMatchObject({ attempt: 3, nextAttemptAt: null });

      expect(await t.state.service.queueStats(far)).toEqual({ pending: 0, held: 1, oldestDueSeconds: 0 });
      // Parked: new notifications and due retries go nowhere.
      expect(await t.state.service.deliver(ada.userId, payload('SOLD_OUT'))).toEqual([]);
      expect(await t.state.service.retryDue(new Date('2027-06-01T00:00:00.000Z'))).toEqual([]);
      expect(t.receiver.received).toHaveLength(3);

      healthy = true;
      await t.restart();
      const back = new Date('2026-12-04T00:00:00.000Z');
      t.setNow(back);
      expect(await t.state.service.reactivate(ada, webhook.id)).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 0, parkedAt: null });
      await expect(t.state.service.reactivate(seller(), webhook.id)).rejects.toMatchObject({ code: 'NOT_FOUND' }); // not theirs
      expect(await t.state.service.retryDue(back)).toEqual([{ webhookId: webhook.id, outcome: 'DELIVERED', attempt: 1 }]);
      expect(t.receiver.received.map((r) => r.headers['x-storefront-delivery'])).toEqual([sold.id, sold.id, sold.id, sold.id]);
      expect(await t.state.service.deliver(ada.userId, payload('SOLD_OUT'))).toMatchObject([{ outcome: 'DELIVERED' }]);
    });

    it('deletes a seller’s webhook with what was queued and held for it; the slot is free again; another seller’s is NOT_FOUND', async () => {
      const t = await setup(() => 503, { retry: { maxAttempts: 2, baseDelayMs: BASE_MS, maxDelayMs: CAP_MS } });
      const ada = seller();
      const { webhook: failing } = await t.state.service.register(ada, t.receiver.url('/failing'), ['UNIT_SOLD']);
      const { webhook: parked } = await t.state.service.register(ada, t.receiver.url('/parked'), ['SOLD_OUT']);
      expect(await t.state.service.deliver(ada.userId, payload('UNIT_SOLD'))).toMatchObject([{ outcome: 'RETRY_SCHEDULED' }]);
      expect(await t.state.service.deliver(ada.userId, payload('SOLD_OUT'))).toMatchObject([{ outcome: 'RETRY_SCHEDULED' }]);
      expect(await t.state.service.retryDue(new Date('2026-12-02T12:00:00.000Z'))).toMatchObject([{ outcome: 'PARKED' }, { outcome: 'PARKED' }]);
      expect(await t.state.service.queueStats(new Date('2026-12-02T12:00:00.000Z'))).toMatchObject({ held: 2 });
      await expect(t.state.service.delete(seller(), parked.id)).rejects.toMatchObject({ code: 'NOT_FOUND' }); // not theirs
      await expect(t.state.service.delete({ ...ada, role: 'CUSTOMER' }, parked.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });

      await t.state.service.delete(ada, parked.id);
      await t.restart(); // the deletion is in the log, not only in this process
      expect((await t.state.service.list(ada.userId)).map((w) => w.id)).toEqual([failing.id]);
      expect(await t.documents.collection<WebhookRetryDoc>(WEBHOOK_RETRIES).count({ webhookId: parked.id })).toBe(0);
      expect(await t.state.service.queueStats(new Date('2026-12-02T12:00:00.000Z'))).toMatchObject({ held: 1 });
      await expect(t.state.service.delete(ada, parked.id)).rejects.toMatchObject({ code: 'NOT_FOUND' }); // already deleted
      await expect(t.state.service.reactivate(ada, parked.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const sent = t.receiver.received.length;
      expect(await t.state.service.deliver(ada.userId, payload('SOLD_OUT'))).toEqual([]); // nothing goes to it any more
      expect(t.receiver.received).toHaveLength(sent);
      // The limit counts the webhooks that exist.
      for (let i = 1; i < MAX_WEBHOOKS_PER_SELLER; i++) await t.state.service.register(ada, t.receiver.url(`/more-${i}`), ['SOLD_OUT']);
      await expect(t.state.service.register(ada, t.receiver.url('/one-too-many'), ['SOLD_OUT'])).rejects.toMatchObject({ code: 'INVALID_STATE' });
      const last = (await t.state.service.list(ada.userId)).at(-1)!;
      await t.state.service.delete(ada, last.id);
      await t.state.service.register(ada, t.receiver.url('/room-again'), ['SOLD_OUT']);
    });

    it('a process that dies mid-send leaves the delivery to the next one, after its lease; one process claims a due retry', async () => {
      const t = await setup(() => 200, { leaseMs: 60_000 });
      const ada = seller();
      const { webhook } = await t.state.service.register(ada, t.receiver.url(), ['UNIT_SOLD']);
      // The first process sends and never hears back: it died (its sender never settles).
      const dying: WebhookSender = { send: () => new Promise<void>(() => undefined) };
      let settled = false;
      void t.make(t.state.events, dying).deliver(ada.userId, payload()).finally(() => (settled = true));
      const t0 = new Date('2026-12-02T03:00:00.000Z');
      await eventually(async () => expect(await t.state.service.queueStats(t0)).toMatchObject({ pending: 1 }));
      const survivor = t.make();
      expect(await survivor.retryDue(new Date(t0.getTime() + 59_999))).toEqual([]); // still leased
      expect(t.receiver.received).toHaveLength(0);

      // Two processes find it due at once: one of them sends it (with an atomic compare-and-set).
      const other = t.make();
      const due = new Date(t0.getTime() + 60_000);
      const [a, b] = await Promise.all([survivor.retryDue(due), other.retryDue(due)]);
      const reports = [...a, ...b];
      if (exclusiveClaims) {
        expect(reports).toEqual([{ webhookId: webhook.id, outcome: 'DELIVERED', attempt: 1 }]);
        expect(t.receiver.received).toHaveLength(1);
      } else {
        expect(reports.length).toBeGreaterThanOrEqual(1);
        expect(reports.every((r) => r.outcome === 'DELIVERED' && r.attempt === 1)).toBe(true);
        expect(t.receiver.received).toHaveLength(reports.length);
      }
      expect(settled).toBe(false);
      expect(await t.state.service.queueStats(due)).toEqual({ pending: 0, held: 0, oldestDueSeconds: 0 });
    });

    it('does not retry a delivery the receiver refused with a 4xx', async () => {
      const t = await setup(() => 400);
      const ada = seller();
      await t.state.service.register(ada, t.receiver.url(), ['STOCK_LOW']);
      expect(await t.state.service.deliver(ada.userId, payload('STOCK_LOW'))).toMatchObject([{ outcome: 'FAILED', attempt: 1, error: matching(/answered 400/) }]);
      expect(await t.failures(ada.userId)).toMatchObject([{ status: 400, retryable: false, nextAttemptAt: null }]);
      expect(await t.state.service.retryDue(new Date('2027-01-01T00:00:00.000Z'))).toEqual([]);
      expect(t.receiver.received).toHaveLength(1);
      expect((await t.state.service.list(ada.userId))[0]).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 1 });
    });

    it('one seller’s receiver that never answers does not hold back another seller’s delivery', async () => {
      const t = await setup((r) => (r.path === '/dead' ? 'hang' : 200));
      const dead = seller();
      const alive = seller();
      await t.state.service.register(dead, t.receiver.url('/dead'), ['UNIT_SOLD']);
      await t.state.service.register(alive, t.receiver.url('/alive'), ['UNIT_SOLD']);
      let deadSettled = false;
      const deadDelivery = t.state.service.deliver(dead.userId, payload()).finally(() => (deadSettled = true));
      expect(await t.state.service.deliver(alive.userId, payload())).toMatchObject([{ outcome: 'DELIVERED' }]);
      expect(deadSettled).toBe(false); // still waiting for the dead receiver
      expect(await deadDelivery).toMatchObject([{ outcome: 'RETRY_SCHEDULED', error: matching(/no answer within/) }]);
    });

    it('keeps the signing secret out of the event log: sealed in the registration and in the snapshots, opened only to sign', async () => {
      const t = await setup(() => 200, { snapshotEvery: 3 });
      const ada = seller();
      const { webhook, secret } = await t.state.service.register(ada, t.receiver.url(), ['UNIT_SOLD']);
      for (let i = 0; i < 4; i++) expect(await t.state.service.deliver(ada.userId, payload())).toMatchObject([{ outcome: 'DELIVERED' }]);

      const stream = await t.state.events.readStream(sellerWebhooksStream(ada.userId));
      const snapshots = await t.state.events.readStream(`snapshot-${sellerWebhooksStream(ada.userId)}`);
      expect(snapshots.length).toBeGreaterThan(0); // the snapshots are checked too, not only the events
      expect(stream[0]).toMatchObject({ type: 'WebhookRegistered', data: { webhookId: webhook.id, sealedSecret: { v: 1, alg: 'A256GCM', keyId: 'dev' } } });
      expect(stream[0]!.data).not.toHaveProperty('secret');
      const secretPart = secret.slice('whsec_'.length);
      for (const serialized of [JSON.stringify(stream), JSON.stringify(snapshots)]) {
        expect(serialized).not.toContain(secretPart);
        expect(serialized).not.toContain(Buffer.from(secret).toString('base64'));
      }
      // Nor anywhere on disk: the file log is JSON lines.
      const files = (readdirSync(t.dir, { recursive: true }) as string[]).map((f) => join(t.dir, f)).filter((f) => statSync(f).isFile());
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(readFileSync(file, 'utf8')).not.toContain(secretPart);

      // A process starting from the snapshot signs with the same secret.
      await t.restart();
      expect(await t.state.service.deliver(ada.userId, payload())).toMatchObject([{ outcome: 'DELIVERED' }]);
      const last = t.receiver.received.at(-1)!;
      expect(verifyWebhookSignature(last.body, last.headers[SIGNATURE_HEADER] as string, secret)).toBe(true);
    });

    it('signs with the clear secret of a webhook registered before secrets were encrypted: the legacy event is read as it is', async () => {
      const t = await setup(() => 200, { snapshotEvery: 2 });
      const ada = seller();
      const webhookId = randomUUID();
      const legacySecret = `whsec_${randomBytes(32).toString('base64url')}`;
      const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: ada.userId, occurredAt: '2026-11-01T00:00:00.000Z', schemaVersion: 1 };
      const legacy = { webhookId, sellerId: ada.userId, url: t.receiver.url('/legacy'), events: ['UNIT_SOLD'], secret: legacySecret, registeredAt: '2026-11-01T00:00:00.000Z' };
      await t.state.events.appendToStream(sellerWebhooksStream(ada.userId), [{ id: randomUUID(), type: 'WebhookRegistered', data: legacy, metadata }], { expectedRevision: 'no_stream' });
      const { secret: newSecret } = await t.state.service.register(ada, t.receiver.url('/new'), ['UNIT_SOLD']);
      expect(JSON.stringify(await t.state.service.list(ada.userId))).not.toContain(legacySecret);

      for (let round = 0; round < 2; round++) {
        const sold = payload();
        expect(await t.state.service.deliver(ada.userId, sold)).toMatchObject([{ webhookId, outcome: 'DELIVERED' }, { outcome: 'DELIVERED' }]);
        const byPath = (path: string) => t.receiver.received.filter((r) => r.path === path && r.headers['x-storefront-delivery'] === sold.id)[0]!;
        expect(verifyWebhookSignature(byPath('/legacy').body, byPath('/legacy').headers[SIGNATURE_HEADER] as string, legacySecret)).toBe(true);
        expect(verifyWebhookSignature(byPath('/new').body, byPath('/new').headers[SIGNATURE_HEADER] as string, newSecret)).toBe(true);
        await t.restart(); // the second round starts from a snapshot (a version 2 one, with the legacy secret as the event had it)
      }
      expect((await t.state.events.readStream(sellerWebhooksStream(ada.userId)))[0]!.data).toEqual(legacy); // history is not rewritten
    });

    it('opens old secrets after a key rotation; a secret the configured keys cannot open fails its delivery for good, with a coded reason, logged', async () => {
      const t = await setup(() => 200);
      const ada = seller();
      const k1 = { id: 'k1', key: randomBytes(32) };
      const k2 = { id: 'k2', key: randomBytes(32) };
      const { webhook, secret } = await t.make(t.state.events, undefined, new WebhookSecretBox([k1])).register(ada, t.receiver.url(), ['UNIT_SOLD']);

      // Rotated: k2 seals new secrets, k1 still opens the old ones.
      const rotated = t.make(t.state.events, undefined, new WebhookSecretBox([k2, k1]));
      expect(await rotated.deliver(ada.userId, payload())).toEqual([{ webhookId: webhook.id, outcome: 'DELIVERED', attempt: 1 }]);
      expect(verifyWebhookSignature(t.receiver.received[0]!.body, t.receiver.received[0]!.headers[SIGNATURE_HEADER] as string, secret)).toBe(true);

      const logged: { msg: string; code?: string; webhookId?: string; keyId?: string; reason?: string }[] = [];
      const logger = createLogger('webhooks-test', 'error', { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) });
      const forgot = new WebhookDeliveries({ events: t.state.events, documents: t.documents, sender: t.sender, secrets: new WebhookSecretBox([k2]), allowPrivate: true, logger });
      expect(await forgot.deliver(ada.userId, payload())).toEqual([{ webhookId: webhook.id, outcome: 'FAILED', attempt: 1, error: `WEBHOOK_SECRET_UNREADABLE: the signing secret of webhook ${webhook.id} cannot be decrypted: its key "k1" is not configured (WEBHOOK_SECRET_KEYS)` }]);
      expect(logged).toMatchObject([{ code: 'WEBHOOK_SECRET_UNREADABLE', webhookId: webhook.id, keyId: 'k1', reason: 'UNKNOWN_KEY' }]);
      const impostor = t.make(t.state.events, undefined, new WebhookSecretBox([{ id: 'k1', key: randomBytes(32) }]));
      expect(await impostor.deliver(ada.userId, payload())).toMatchObject([{ outcome: 'FAILED', error: matching(/^WEBHOOK_SECRET_UNREADABLE: .*the key configured as "k1" does not open it/) }]);

      // Nothing went out, nothing is queued: a permanent failure, recorded and shown to the seller.
      expect(t.receiver.received).toHaveLength(1);
      expect(await t.failures(ada.userId)).toMatchObject([
        { retryable: false, nextAttemptAt: null, status: null, error: matching(/^WEBHOOK_SECRET_UNREADABLE/) },
        { retryable: false, nextAttemptAt: null, status: null, error: matching(/^WEBHOOK_SECRET_UNREADABLE/) },
      ]);
      expect(await t.documents.collection<WebhookRetryDoc>(WEBHOOK_RETRIES).count({ webhookId: webhook.id })).toBe(0);
      expect(await rotated.retryDue(new Date('2027-01-01T00:00:00.000Z'))).toEqual([]);
      expect((await rotated.list(ada.userId))[0]).toMatchObject({ status: 'ACTIVE', consecutiveFailures: 2, lastError: matching(/^WEBHOOK_SECRET_UNREADABLE/) });
      // With the key back, it delivers again.
      expect(await rotated.deliver(ada.userId, payload())).toMatchObject([{ outcome: 'DELIVERED' }]);
    });

    it('lets only sellers register, and only allowed URLs and kinds', async () => {
      const t = await setup(() => 200, { allowPrivate: false });
      await expect(t.state.service.register({ userId: randomUUID(), role: 'CUSTOMER' }, 'https://hooks.example.com/x', ['UNIT_SOLD'])).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(t.state.service.register(seller(), 'https://127.0.0.1/x', ['UNIT_SOLD'])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: ['url'] });
      await expect(t.state.service.register(seller(), 'http://hooks.example.com/x', ['UNIT_SOLD'])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: ['url'] });
      await expect(t.state.service.register(seller(), 'https://hooks.example.com/x', [])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: ['events'] });
      await expect(t.state.service.register(seller(), 'https://hooks.example.com/x', ['NOPE' as NotificationKind])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: ['events'] });
      const ok = await t.state.service.register(seller(), 'https://hooks.example.com/x', ['UNIT_SOLD']);
      expect(ok.webhook.status).toBe('ACTIVE');
    });
  });
}

webhookSuite('embedded event store and documents', memoryDocuments, true);
withServer('MONGODB_URL', 'webhook delivery queue on FerretDB', (mongo) => webhookSuite('embedded event store, FerretDB', () => freshMongoDocuments(mongo), false));
