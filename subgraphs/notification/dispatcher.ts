import { handleCommand, loadState } from '../../platform/eventsourcing/command-handler.js';
import type { DocumentStore } from '../../platform/documents/document-store.js';
import type { EventStore } from '../../platform/event-store/event-store.js';
import type { Logger } from '../../platform/logging.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import { newOwnerId, ProjectionLease, type LeaseOptions, DEFAULT_LEASE_OPTIONS } from '../../projections/lease.js';
import { DeliveryError, type EmailSender, type NotificationContent, type NotificationPriority, type WebhookPayload } from './channels/channel.js';
import { ALL_KINDS, notificationDecider, recipientDecider, type NotificationState } from './decider.js';
import { notificationStream, recipientStream, type DispatchedChannel } from './events.js';
import { OUTBOX, outboxId, type OutboxDoc } from './read-model/read-model.js';
import { composeEmail } from './channels/templates.js';
import { unsubscribeToken } from './unsubscribe-token.js';

/**
 * Where a seller's webhooks get a notification: the webhook transport (registration, signing,
 * its own retries and parking per webhook) implements it; resolving means it took the payload.
 * Throws `DeliveryError` when it cannot take it now (retried here with backoff) or ever.
 */
export interface WebhookDeliverer {
  deliver(sellerId: string, payload: WebhookPayload): Promise<unknown>;
  /** Sends the webhook deliveries whose retry is due (the transport's own retries): called by the dispatching process on each look. */
  retryDue?(now: Date): Promise<unknown>;
}

export interface DispatcherDeps {
  events: EventStore;
  documents: DocumentStore;
  metrics: Metrics;
  logger: Logger;
  clock: () => Date;
  internalSecret: Uint8Array;
  /** Where unsubscribe links point (`<publicUrl>/#/unsubscribe?token=…`). */
  publicUrl: string;
  /** The e-mail transport; without one, e-mail deliveries stay pending (logged), never dropped. */
  email?: EmailSender | undefined;
  /** The webhook transport; without one, webhook deliveries stay pending. */
  webhooks?: WebhookDeliverer | undefined;
}

export interface DispatcherOptions {
  /** Pending deliveries taken per look (HIGH first, then oldest first). */
  batch: number;
  /** Deliveries of a look in flight at once, started in the look's order (1: strictly in order). */
  concurrency: number;
  /** Pause between looks when nothing was due. */
  idleMs: number;
  lease: LeaseOptions;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = { batch: 20, concurrency: 4, idleMs: 200, lease: DEFAULT_LEASE_OPTIONS };

/** The lease only one dispatching process holds (the projection leases' collection, its own name). */
export const DISPATCHER_LEASE = 'notification-dispatcher';

const PRIORITIES: readonly NotificationPriority[] = ['HIGH', 'NORMAL'];
/** How often the leader exports the queue age (four look-ups each time): often enough for a scrape every 15 s. */
const QUEUE_AGE_EVERY_MS = 5000;

/**
 * Delivers the outbox (read-model/projections.ts: one document per notification and dispatched
 * channel). Every look takes the due pending deliveries by priority, then age, so a payment
 * failure raised behind a backlog of routine notifications goes out with the next look, whatever
 * the backlog. Each outcome is an event on the notification's stream (delivered; failed, with
 * the next try after exponential backoff; parked), which the outbox projection then reflects.
 * Only the holder of the dispatcher lease delivers: with several processes, one at a time.
 * Before sending, the notification's stream is read again: an outbox document the projector has
 * not yet updated never sends twice.
 */
export class NotificationDispatcher {
  private readonly lease: ProjectionLease;
  private running: Promise<void> | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  /** Outcomes recorded by this process that the outbox may not show yet: outbox id -> attempts after them (Infinity: final). */
  private readonly recorded = new Map<string, { attempts: number; at: number }>();
  private readonly channels: DispatchedChannel[];

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions = DEFAULT_DISPATCHER_OPTIONS,
    owner: string = newOwnerId(),
  ) {
    this.lease = new ProjectionLease(deps.documents, DISPATCHER_LEASE, owner, options.lease);
    this.channels = [...(deps.email ? (['EMAIL'] as const) : []), ...(deps.webhooks ? (['WEBHOOK'] as const) : [])];
    for (const priority of PRIORITIES) for (const channel of ['EMAIL', 'WEBHOOK'] as const) deps.metrics.notificationQueueAge.set({ priority, channel }, 0);
    // Exported at 0 from the start: StorefrontNotificationsParked watches their increase.
    for (const kind of ALL_KINDS) for (const channel of ['EMAIL', 'WEBHOOK'] as const) deps.metrics.notificationsFailed.inc({ channel, kind, outcome: 'parked' }, 0);
    if (!deps.email) deps.logger.warn('no e-mail sender configured: e-mail notifications stay pending until one is');
    if (!deps.webhooks) deps.logger.warn('no webhook deliverer configured: webhook notifications stay pending until one is');
  }

  /** Whether this process holds the lease (and dispatches). */
  get leading(): boolean {
    return this.lease.holds;
  }

  /** Looks at the lease every `renewMs` on its own timer, so that a slow look (a slow SMTP server) never lets it lapse. */
  start(): void {
    if (this.running) return;
    this.leaseTimer = setInterval(() => void this.lookAtLease(), this.options.lease.renewMs);
    this.leaseTimer.unref();
    this.running = this.lookAtLease().then(() => this.loop());
  }

  /** Renews the lease when held, else tries to take it; one look at a time. */
  private lookAtLease(): Promise<void> {
    return (this.looking ??= (async () => {
      try {
        if (this.lease.holds) await this.lease.renew();
        else if (!this.stopped) await this.lease.tryAcquire();
      } catch (error) {
        this.deps.logger.warn({ err: error }, 'could not renew or take the dispatcher lease');
      }
    })().finally(() => (this.looking = undefined)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    this.wake?.();
    await this.running;
    await this.looking;
    await this.lease.release().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'could not release the dispatcher lease; a standby takes over once it expires'));
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private async loop(): Promise<void> {
    let observedAt = 0;
    while (!this.stopped) {
      try {
        if (!this.lease.holds) {
          await this.pause(this.options.lease.renewMs);
          continue;
        }
        const handled = await this.dispatchOnce();
        await this.deps.webhooks?.retryDue?.(this.deps.clock());
        if (Date.now() - observedAt >= QUEUE_AGE_EVERY_MS) {
          await this.observeQueueAge();
          observedAt = Date.now();
        }
        if (handled === 0) await this.pause(this.options.idleMs);
      } catch (error) {
        this.deps.logger.error({ err: error }, 'notification dispatch failed; trying again');
        await this.pause(Math.max(this.options.idleMs, 1000));
      }
    }
  }

  /**
   * The due pending deliveries, HIGH first, then oldest first (what a look takes). Outcomes this
   * process recorded that the projector has not applied yet are skipped: the page is widened by
   * them (up to 25 batches), so a projector that lags behind the dispatcher slows it down only
   * once it is that far behind.
   */
  async due(limit: number): Promise<OutboxDoc[]> {
    if (this.channels.length === 0) return [];
    const now = this.deps.clock().toISOString();
    const page = await this.deps.documents.collection<OutboxDoc>(OUTBOX).find({
      filter: { status: 'PENDING', dueAt: { $lte: now }, channel: { $in: this.channels } },
      sort: [['rank', 1], ['raisedAt', 1]],
      first: limit + Math.min(this.recorded.size, 25 * limit),
    });
    return page.items.filter((doc) => !this.isStale(doc)).slice(0, limit);
  }

  /** An outbox document that does not show an outcome this process already recorded (the projector is behind). */
  private isStale(doc: OutboxDoc): boolean {
    const known = this.recorded.get(doc._id);
    if (!known) return false;
    if (doc.attempts >= known.attempts) {
      this.recorded.delete(doc._id);
      return false;
    }
    return true;
  }

  /**
   * One look: delivers the due pending deliveries of one batch, started in their order (priority,
   * then age) with at most `concurrency` in flight. Returns how many it took.
   */
  async dispatchOnce(): Promise<number> {
    const due = await this.due(this.options.batch);
    let next = 0;
    const worker = async () => {
      while (next < due.length && !this.stopped && this.lease.holds) await this.deliver(due[next++]!);
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(Math.max(1, this.options.concurrency), due.length) }, worker));
    this.forgetOld();
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return due.length;
  }

  private forgetOld(): void {
    const horizon = Date.now() - 60_000;
    for (const [id, known] of this.recorded) if (known.at < horizon) this.recorded.delete(id);
  }

  private async deliver(doc: OutboxDoc): Promise<void> {
    const { events, metrics, logger, clock } = this.deps;
    const stream = notificationStream(doc.notificationId);
    const state = await loadState(events, notificationDecider, stream);
    const channel = state.channels[doc.channel];
    if (!state.raised || channel?.status !== 'PENDING') {
      this.recorded.set(doc._id, { attempts: Infinity, at: Date.now() });
      return;
    }
    if (channel.attempts > 0) metrics.notificationsRetried.inc({ channel: doc.channel, kind: doc.kind });
    let failure: { error: string; retryable: boolean } | undefined;
    try {
      await this.send(doc.channel, state);
    } catch (error) {
      failure = { error: error instanceof Error ? error.message : String(error), retryable: error instanceof DeliveryError ? error.retryable : true };
    }
    const now = clock();
    const context = { actor: 'notification-dispatcher', correlationId: state.raised.causationId, causationId: state.raised.notificationId, now };
    const command = failure ? ({ type: 'RecordFailure', channel: doc.channel, ...failure, at: now.toISOString() } as const) : ({ type: 'RecordDelivered', channel: doc.channel, at: now.toISOString() } as const);
    const { events: recorded, state: after } = await handleCommand(events, notificationDecider, stream, command, context);
    const attempts = after.channels[doc.channel]?.status === 'PENDING' ? after.channels[doc.channel]!.attempts : Infinity;
    this.recorded.set(outboxId(doc.notificationId, doc.channel), { attempts, at: Date.now() });
    const outcome = recorded[0]?.type;
    if (outcome === 'NotificationDelivered') metrics.notificationsSent.inc({ channel: doc.channel, kind: doc.kind });
    else if (outcome === 'NotificationDeliveryFailed' || outcome === 'NotificationDeliveryParked') {
      const parked = outcome === 'NotificationDeliveryParked';
      metrics.notificationsFailed.inc({ channel: doc.channel, kind: doc.kind, outcome: parked ? 'parked' : 'retry' });
      logger[parked ? 'error' : 'warn']({ notificationId: doc.notificationId, channel: doc.channel, kind: doc.kind, attempts: after.channels[doc.channel]?.attempts, error: failure?.error }, parked ? 'notification delivery parked' : 'notification delivery failed; retrying with backoff');
    }
  }

  private async send(channel: DispatchedChannel, state: NotificationState): Promise<void> {
    const raised = state.raised!;
    const content: NotificationContent = { notificationId: raised.notificationId, kind: raised.kind, recipientId: raised.recipientId, occurredAt: raised.occurredAt, data: raised.data };
    if (channel === 'EMAIL') {
      const recipient = await loadState(this.deps.events, recipientDecider, recipientStream(raised.recipientId));
      if (!recipient.email) throw new DeliveryError('the recipient’s e-mail address is not known (yet)', true);
      const token = unsubscribeToken(raised.recipientId, raised.kind, this.deps.internalSecret);
      const url = `${this.deps.publicUrl.replace(/\/+$/, '')}/#/unsubscribe?token=${encodeURIComponent(token)}`;
      await this.deps.email!.send(composeEmail(content, { email: recipient.email, name: recipient.name }, url));
      return;
    }
    await this.deps.webhooks!.deliver(raised.recipientId, { id: raised.notificationId, kind: raised.kind, occurredAt: raised.occurredAt, data: raised.data });
  }

  /** Exports the age of the oldest due pending delivery per priority and channel (0: none). */
  async observeQueueAge(): Promise<void> {
    const docs = this.deps.documents.collection<OutboxDoc>(OUTBOX);
    const now = this.deps.clock();
    for (const priority of PRIORITIES) {
      for (const channel of ['EMAIL', 'WEBHOOK'] as const) {
        const oldest = (await docs.find({ filter: { status: 'PENDING', rank: priority === 'HIGH' ? 0 : 1, channel }, sort: [['raisedAt', 1]], first: 1 })).items[0];
        this.deps.metrics.notificationQueueAge.set({ priority, channel }, oldest ? Math.max(0, (now.getTime() - Date.parse(oldest.raisedAt)) / 1000) : 0);
      }
    }
  }
}
