import { randomBytes, randomUUID } from 'node:crypto';
import type { Identity } from '../../../platform/auth/tokens.js';
import { DEFAULT_WEBHOOK_RETRY } from '../../../platform/config.js';
import type { DocumentStore, Doc } from '../../../platform/documents/document-store.js';
import type { EventStore } from '../../../platform/event-store/event-store.js';
import { handleCommand, loadState, type CommandContext } from '../../../platform/eventsourcing/command-handler.js';
import { StreamStates } from '../../../platform/eventsourcing/stream-states.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../platform/errors.js';
import type { Logger } from '../../../platform/logging.js';
import { DeliveryError, type NotificationKind, type WebhookPayload, type WebhookSender } from './channel.js';
import { validateWebhookUrl } from './webhook.js';
import { sellerWebhooksStream, webhookDecider, webhookSnapshots, type SellerWebhooksState, type WebhookCommand, type WebhookState, type WebhookStatus } from './webhook-decider.js';
import { WebhookSecretUnreadableError, type WebhookSecretBox } from './webhook-secrets.js';

/** Every kind a webhook may subscribe to (a seller may want customer-side order events of their own products later; for now all kinds are accepted). */
export const NOTIFICATION_KINDS: readonly NotificationKind[] = ['ORDER_CONFIRMED', 'ORDER_REJECTED', 'ORDER_PAID', 'PAYMENT_FAILED', 'ORDER_CANCELLED', 'ORDER_SHIPPED', 'UNIT_SOLD', 'STOCK_LOW', 'SOLD_OUT'];

/** The queue of webhook deliveries to try again (one document per webhook and notification). */
export const WEBHOOK_RETRIES = 'webhook_retries';

export interface WebhookRetryDoc extends Doc {
  sellerId: string;
  webhookId: string;
  notificationId: string;
  payload: WebhookPayload;
  /** Attempts made so far. */
  attempt: number;
  /** ISO 8601: due from then. */
  nextAttemptAt: string;
  /** HELD: the webhook was parked; tried again when the seller reactivates it. */
  status: 'PENDING' | 'HELD';
}

export interface WebhookRetryPolicy {
  /** Consecutive failed attempts that park a webhook; a delivery is tried at most this often (WEBHOOK_MAX_ATTEMPTS, default 8). */
  maxAttempts: number;
  /** Delay before the second attempt (WEBHOOK_RETRY_BASE_SECONDS, default 60 s); doubled for each further one. */
  baseDelayMs: number;
  /** Longest delay between two attempts (WEBHOOK_RETRY_MAX_SECONDS, default 6 h). */
  maxDelayMs: number;
}

/** The defaults of WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_BASE_SECONDS and WEBHOOK_RETRY_MAX_SECONDS (platform/config.ts). */
export const DEFAULT_RETRY_POLICY: WebhookRetryPolicy = { ...DEFAULT_WEBHOOK_RETRY };

/**
 * The delay after failed attempt `attempt` (1-based): exponential (base·2^(attempt-1), capped),
 * with "equal jitter": between half the delay and all of it, so that receivers coming back from
 * an outage are not hit by every sender at once, and each delay is still at least as long as the
 * one before (up to the cap).
 */
export function backoffDelayMs(attempt: number, policy: Pick<WebhookRetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

/** What `list` shows a seller (never the secret). */
export interface WebhookView {
  id: string;
  url: string;
  events: NotificationKind[];
  status: WebhookStatus;
  consecutiveFailures: number;
  lastError: string | null;
  lastFailureAt: string | null;
  lastDeliveredAt: string | null;
  createdAt: string;
  parkedAt: string | null;
}

export type DeliveryOutcome = 'DELIVERED' | 'RETRY_SCHEDULED' | 'FAILED' | 'PARKED' | 'ALREADY_QUEUED';

export interface DeliveryReport {
  webhookId: string;
  outcome: DeliveryOutcome;
  attempt: number;
  error?: string;
}

/** Hooks for the slice's metrics (sent, failed, retried, parked by channel): optional. */
export interface WebhookObserver {
  attempted?(outcome: Exclude<DeliveryOutcome, 'ALREADY_QUEUED'>, attempt: number, durationMs: number): void;
}

export interface WebhookDeliveriesDeps {
  events: EventStore;
  documents: DocumentStore;
  sender: WebhookSender;
  /**
   * Seals each new secret before it goes into the event log and opens it to sign a delivery
   * (WEBHOOK_SECRET_KEYS; `webhookSecretBox` in webhook-secrets.ts).
   */
  secrets: WebhookSecretBox;
  clock?: () => Date;
  logger?: Logger;
  retry?: Partial<WebhookRetryPolicy>;
  /** Development (the embedded default): loopback and private URLs may be registered. */
  allowPrivate: boolean;
  /** Default true unless allowPrivate: registration refuses http:// URLs. */
  requireHttps?: boolean;
  /** Jitter source (tests pass a fixed one). */
  random?: () => number;
  /**
   * How long an attempt under way holds its delivery (default 60 s, longer than a send's timeout):
   * if the process dies meanwhile, `retryDue` tries it again once this has passed.
   */
  leaseMs?: number;
  /** Retries tried at once by `retryDue` (a slow receiver holds one of these, never all). Default 16. */
  concurrency?: number;
  observer?: WebhookObserver;
  /** Events between two snapshots of a seller's stream (default 200; tests take a few). */
  snapshotEvery?: number;
}

const toView = (w: WebhookState): WebhookView => ({
  id: w.webhookId,
  url: w.url,
  events: w.events,
  status: w.status,
  consecutiveFailures: w.consecutiveFailures,
  lastError: w.lastError,
  lastFailureAt: w.lastFailureAt,
  lastDeliveredAt: w.lastDeliveredAt,
  createdAt: w.registeredAt,
  parkedAt: w.parkedAt,
});

const retryId = (webhookId: string, notificationId: string) => `${webhookId}:${notificationId}`;
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 500);

/**
 * Seller webhooks: registration, delivery with retries on exponential backoff, parking after too
 * many consecutive failures, reactivation. Every outcome is an event in the seller's stream; the
 * deliveries to try again are also queued in a collection (`webhook_retries`, written after the
 * event, guarded by its position), which `retryDue(now)` works through: a retry survives a
 * restart, and the notification dispatcher drives the tick.
 *
 * Every attempt first takes a lease on its queue document (created for a first attempt, claimed
 * by compare-and-set for a retry: of several processes calling `retryDue`, one sends it, where
 * the document store's compare-and-set is atomic; FerretDB 1.24's is not under concurrency): the
 * document says "due again at the end of the lease" until the outcome is recorded, so a process
 * that dies at any point, even mid-send, leaves a delivery that is tried again. At least once: such
 * a delivery may reach the receiver twice (receivers deduplicate on `x-storefront-delivery`).
 */
export class WebhookDeliveries {
  private readonly states: StreamStates<SellerWebhooksState>;
  private readonly policy: WebhookRetryPolicy;
  private readonly clock: () => Date;
  private readonly random: () => number;
  private indexes: Promise<void> | undefined;

  constructor(private readonly deps: WebhookDeliveriesDeps) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...deps.retry };
    if (!Number.isInteger(this.policy.maxAttempts) || this.policy.maxAttempts < 1) throw new Error('webhook maxAttempts must be a positive integer');
    this.clock = deps.clock ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.states = new StreamStates<SellerWebhooksState>(webhookSnapshots(deps.snapshotEvery));
  }

  private get retries() {
    return this.deps.documents.collection<WebhookRetryDoc>(WEBHOOK_RETRIES);
  }

  private ensureIndexes(): Promise<void> {
    this.indexes ??= this.deps.documents.ensureIndexes(WEBHOOK_RETRIES, [{ keys: [['status', 1], ['nextAttemptAt', 1]] }, { keys: [['webhookId', 1]] }]).catch((error: unknown) => {
      this.indexes = undefined;
      throw error;
    });
    return this.indexes;
  }

  private run(sellerId: string, command: WebhookCommand, actor: string, correlationId: string = randomUUID()) {
    const context: CommandContext = { actor, correlationId, now: new Date(command.at) };
    return handleCommand(this.deps.events, webhookDecider, sellerWebhooksStream(sellerId), command, context, { states: this.states });
  }

  private load(sellerId: string): Promise<SellerWebhooksState> {
    return loadState(this.deps.events, webhookDecider, sellerWebhooksStream(sellerId), this.states);
  }

  // ----------------------------------------------------------------------------- seller API

  /**
   * Registers a webhook for the signed-in seller (FORBIDDEN for anyone else; INVALID_INPUT for a
   * URL that is not allowed or no kinds). The secret is returned here only: list never shows it,
   * and the event log holds it sealed (webhook-secrets.ts).
   */
  async register(actor: Identity, url: string, kinds: readonly NotificationKind[]): Promise<{ webhook: WebhookView; secret: string }> {
    if (actor.role !== 'SELLER') throw new ForbiddenError('only sellers may register webhooks');
    const normalised = validateWebhookUrl(url, { allowPrivate: this.deps.allowPrivate, requireHttps: this.deps.requireHttps });
    const unknown = kinds.filter((k) => !NOTIFICATION_KINDS.includes(k));
    if (unknown.length > 0) throw new ValidationError(`unknown notification kinds: ${unknown.join(', ')}`, ['events']);
    const webhookId = randomUUID();
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const sealedSecret = this.deps.secrets.seal(webhookId, secret);
    const { state } = await this.run(actor.userId, { type: 'RegisterWebhook', webhookId, sellerId: actor.userId, url: normalised, events: [...kinds], sealedSecret, at: this.clock().toISOString() }, actor.userId);
    return { webhook: toView(state.webhooks.find((w) => w.webhookId === webhookId)!), secret };
  }

  /** The seller's webhooks, with their status (ACTIVE, PARKED), consecutive failures and last error. */
  async list(sellerId: string): Promise<WebhookView[]> {
    return (await this.load(sellerId)).webhooks.map(toView);
  }

  /** For the seller who owns it: a parked webhook goes back to ACTIVE, and the deliveries it held are due now (NOT_FOUND for another seller's). */
  async reactivate(actor: Identity, webhookId: string): Promise<WebhookView> {
    if (actor.role !== 'SELLER') throw new ForbiddenError('only sellers may reactivate webhooks');
    const state = await this.load(actor.userId);
    if (!state.webhooks.some((w) => w.webhookId === webhookId)) throw new NotFoundError(`webhook ${webhookId} does not exist`, ['id']);
    const now = this.clock();
    const result = await this.run(actor.userId, { type: 'ReactivateWebhook', webhookId, by: actor.userId, at: now.toISOString() }, actor.userId);
    if (result.position !== undefined) await this.releaseHeld(webhookId, now, result.position);
    return toView(result.state.webhooks.find((w) => w.webhookId === webhookId)!);
  }

  /**
   * For the seller who owns it: the webhook is removed (NOT_FOUND for another seller's or one
   * already deleted), with every delivery queued or held for it; a request in flight is not
   * recorded (its outcome finds the webhook gone).
   */
  async delete(actor: Identity, webhookId: string): Promise<void> {
    if (actor.role !== 'SELLER') throw new ForbiddenError('only sellers may delete webhooks');
    const state = await this.load(actor.userId);
    if (!state.webhooks.some((w) => w.webhookId === webhookId)) throw new NotFoundError(`webhook ${webhookId} does not exist`, ['id']);
    const result = await this.run(actor.userId, { type: 'DeleteWebhook', webhookId, by: actor.userId, at: this.clock().toISOString() }, actor.userId);
    await this.ensureIndexes();
    const position = result.position!;
    for (;;) {
      const page = await this.retries.find({ filter: { webhookId }, first: 100 });
      if (page.items.length === 0) return;
      // A document written after the deletion (none is expected) stays; retryDue drops it.
      if ((await this.retries.writeManyIfNewer(page.items.map((doc) => ({ id: doc._id, doc: null, position, stored: doc._position ?? null })))) === 0) return;
    }
  }

  private async releaseHeld(webhookId: string, now: Date, position: number): Promise<void> {
    await this.ensureIndexes();
    for (let after: string | undefined; ; ) {
      const page = await this.retries.find({ filter: { webhookId, status: 'HELD' }, first: 100, after });
      await this.retries.writeManyIfNewer(page.items.map((doc) => ({ id: doc._id, doc: { ...doc, status: 'PENDING' as const, attempt: 0, nextAttemptAt: now.toISOString() }, position, stored: doc._position ?? null })));
      if (!page.hasNextPage) return;
      after = page.endCursor;
    }
  }

  // ------------------------------------------------------------------------------ delivery

  /**
   * Sends one notification to every ACTIVE webhook of the seller subscribed to its kind, at once
   * (one slow receiver does not delay the others), first attempt now. A failure is recorded and,
   * when retryable, queued for `retryDue`; the call itself does not fail for a receiver's sake.
   * A notification already queued for a webhook (a redelivered call) is not sent again from here.
   */
  async deliver(sellerId: string, payload: WebhookPayload): Promise<DeliveryReport[]> {
    const state = await this.load(sellerId);
    const targets = state.webhooks.filter((w) => w.status === 'ACTIVE' && w.events.includes(payload.kind));
    if (targets.length === 0) return [];
    await this.ensureIndexes();
    return Promise.all(
      targets.map(async (webhook) => {
        const now = this.clock();
        const lease: WebhookRetryDoc = { _id: retryId(webhook.webhookId, payload.id), sellerId, webhookId: webhook.webhookId, notificationId: payload.id, payload, attempt: 0, nextAttemptAt: this.leaseEnd(now), status: 'PENDING' };
        if (!(await this.retries.replaceIf(lease, 0, null))) return { webhookId: webhook.webhookId, outcome: 'ALREADY_QUEUED' as const, attempt: 0 };
        return this.attempt(sellerId, webhook, payload, 1, now);
      }),
    );
  }

  /**
   * Tries the queued deliveries due at `now` (at most `limit`, oldest first, `concurrency` at a
   * time). The dispatcher calls it on a tick; after a restart it picks up where the last process
   * left. Returns what happened to each.
   */
  async retryDue(now: Date = this.clock(), limit = 200): Promise<DeliveryReport[]> {
    await this.ensureIndexes();
    const due = await this.retries.find({ filter: { status: 'PENDING', nextAttemptAt: { $lte: now.toISOString() } }, sort: [['nextAttemptAt', 1]], first: limit });
    const reports: DeliveryReport[] = [];
    let next = 0;
    const worker = async () => {
      while (next < due.items.length) {
        const report = await this.retryOne(due.items[next++]!, now);
        if (report) reports.push(report);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrency ?? 16, due.items.length) }, worker));
    return reports;
  }

  /**
   * The retry queue at `now`, for the slice's metrics: deliveries waiting for their next attempt
   * (PENDING), those held by parked webhooks (HELD), and how long the most overdue one has been
   * due (0 when none is): a growing figure means `retryDue` is not keeping up or not called.
   */
  async queueStats(now: Date = this.clock()): Promise<{ pending: number; held: number; oldestDueSeconds: number }> {
    await this.ensureIndexes();
    const [pending, held, oldest] = await Promise.all([
      this.retries.count({ status: 'PENDING' }),
      this.retries.count({ status: 'HELD' }),
      this.retries.find({ filter: { status: 'PENDING', nextAttemptAt: { $lte: now.toISOString() } }, sort: [['nextAttemptAt', 1]], first: 1 }),
    ]);
    const due = oldest.items[0];
    return { pending, held, oldestDueSeconds: due ? Math.max(0, (now.getTime() - Date.parse(due.nextAttemptAt)) / 1000) : 0 };
  }

  private leaseEnd(now: Date): string {
    return new Date(now.getTime() + (this.deps.leaseMs ?? 60_000)).toISOString();
  }

  private async retryOne(doc: WebhookRetryDoc, now: Date): Promise<DeliveryReport | undefined> {
    // Claimed by compare-and-set: another process that found it due too sends nothing.
    const claimed = await this.retries.replaceIf({ ...doc, nextAttemptAt: this.leaseEnd(now) }, doc._position ?? 0, { status: 'PENDING', attempt: doc.attempt, nextAttemptAt: doc.nextAttemptAt });
    if (!claimed) return undefined;
    const webhook = (await this.load(doc.sellerId)).webhooks.find((w) => w.webhookId === doc.webhookId);
    if (!webhook) {
      // Deleted (a delivery queued while the seller deleted it): dropped, unless rewritten since it was claimed.
      await this.retries.deleteIfNewer(doc._id, (doc._position ?? 0) + 1);
      return undefined;
    }
    if (webhook.status === 'PARKED') {
      // Parked since it was queued (a delivery that failed while another one parked the webhook): held
      // for the reactivation. Compare-and-set: a newer write of the document wins.
      await this.retries.replaceIf({ ...doc, status: 'HELD' }, doc._position ?? 0, { status: 'PENDING', attempt: doc.attempt, nextAttemptAt: this.leaseEnd(now) });
      return { webhookId: doc.webhookId, outcome: 'PARKED', attempt: doc.attempt };
    }
    return this.attempt(doc.sellerId, webhook, doc.payload, doc.attempt + 1, now);
  }

  /** One attempt, its outcome recorded (event first, then the queue). */
  private async attempt(sellerId: string, webhook: WebhookState, payload: WebhookPayload, attempt: number, now: Date): Promise<DeliveryReport> {
    const started = performance.now();
    const id = retryId(webhook.webhookId, payload.id);
    const base = { webhookId: webhook.webhookId, notificationId: payload.id, attempt };
    try {
      await this.deps.sender.send({ webhookId: webhook.webhookId, url: webhook.url, secret: this.signingSecret(sellerId, webhook) }, payload);
    } catch (error) {
      const failure = error instanceof DeliveryError ? error : new DeliveryError(errorText(error), true);
      const retryAt = new Date(now.getTime() + backoffDelayMs(attempt, this.policy, this.random)).toISOString();
      const result = await this.run(sellerId, { type: 'RecordFailed', ...base, error: errorText(failure), status: failure.status ?? null, retryable: failure.retryable, retryAt, parkAfter: this.policy.maxAttempts, payload, at: now.toISOString() }, 'system:webhooks');
      if (result.position === undefined) {
        // Deleted while the request was in flight: nothing is recorded, nothing tried again.
        this.deps.observer?.attempted?.('FAILED', attempt, performance.now() - started);
        return { webhookId: webhook.webhookId, outcome: 'FAILED', attempt, error: `${errorText(failure)} (the webhook was deleted meanwhile)` };
      }
      const failed = result.events.find((e) => e.type === 'WebhookDeliveryFailed');
      const parked = result.events.some((e) => e.type === 'WebhookParked');
      // Parked by this failure or by another one meanwhile: a retryable delivery waits for the reactivation.
      const held = failure.retryable && result.state.webhooks.find((w) => w.webhookId === webhook.webhookId)?.status === 'PARKED';
      const nextAttemptAt = failed?.type === 'WebhookDeliveryFailed' ? failed.data.nextAttemptAt : null;
      const position = result.position;
      if (nextAttemptAt) await this.retries.upsertIfNewer({ _id: id, sellerId, webhookId: webhook.webhookId, notificationId: payload.id, payload, attempt, nextAttemptAt, status: 'PENDING' }, position);
      else if (held) await this.retries.upsertIfNewer({ _id: id, sellerId, webhookId: webhook.webhookId, notificationId: payload.id, payload, attempt, nextAttemptAt: now.toISOString(), status: 'HELD' }, position);
      else await this.retries.deleteIfNewer(id, position);
      if (parked) {
        // Whatever else was queued for it waits for the reactivation too.
        await this.holdQueued(webhook.webhookId, position);
        this.deps.logger?.warn({ webhookId: webhook.webhookId, sellerId, after: this.policy.maxAttempts, error: errorText(failure) }, 'webhook parked after consecutive failures');
      }
      const outcome = parked || held ? 'PARKED' : nextAttemptAt ? 'RETRY_SCHEDULED' : 'FAILED';
      this.deps.observer?.attempted?.(outcome, attempt, performance.now() - started);
      return { webhookId: webhook.webhookId, outcome, attempt, error: errorText(failure) };
    }
    const result = await this.run(sellerId, { type: 'RecordDelivered', ...base, at: now.toISOString() }, 'system:webhooks');
    if (result.position !== undefined) await this.retries.deleteIfNewer(id, result.position); // else deleted meanwhile, with its queue
    this.deps.observer?.attempted?.('DELIVERED', attempt, performance.now() - started);
    return { webhookId: webhook.webhookId, outcome: 'DELIVERED', attempt };
  }

  /**
   * The webhook's secret in clear, for this one request. One that the configured keys cannot open
   * (WEBHOOK_SECRET_KEYS lacks its key, or has another key under its id) is a permanent failure of
   * the delivery, like a 4xx: recorded with the WEBHOOK_SECRET_UNREADABLE reason (the seller sees
   * it as the webhook's last error), logged as an error for the operator, not tried again; after
   * WEBHOOK_MAX_ATTEMPTS such failures the webhook is parked as after any others. Nothing goes out
   * unsigned or signed with anything else.
   */
  private signingSecret(sellerId: string, webhook: WebhookState): string {
    try {
      return this.deps.secrets.reveal(webhook.webhookId, webhook.secret);
    } catch (error) {
      if (!(error instanceof WebhookSecretUnreadableError)) throw error;
      this.deps.logger?.error({ code: error.code, webhookId: webhook.webhookId, sellerId, keyId: error.keyId, reason: error.reason }, 'a webhook signing secret cannot be decrypted with WEBHOOK_SECRET_KEYS: its deliveries fail');
      throw new DeliveryError(error.message, false);
    }
  }

  private async holdQueued(webhookId: string, position: number): Promise<void> {
    for (let after: string | undefined; ; ) {
      const page = await this.retries.find({ filter: { webhookId, status: 'PENDING' }, first: 100, after });
      await this.retries.writeManyIfNewer(page.items.map((doc) => ({ id: doc._id, doc: { ...doc, status: 'HELD' as const }, position, stored: doc._position ?? null })));
      if (!page.hasNextPage) return;
      after = page.endCursor;
    }
  }
}
