import { correlationIdOrNew } from '../../platform/correlation.js';
import { randomUUID } from 'node:crypto';
import { backoffMs } from '../../platform/bus/bus.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { GraphQLError } from 'graphql';
import { handleCommand, loadState, type CommandContext } from '../../platform/eventsourcing/command-handler.js';
import { ForbiddenError, IllegalStateError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { pageSize, unauthenticated, type UserError } from '../../platform/graphql/errors.js';
import { liveFeed, startCursor } from '../../platform/graphql/live-feed.js';
import { assertResumable, decodeCursor, type FeedEnd } from '../../platform/subscriptions/cursor.js';
import { DEFAULT_RESUME, type ResumeOptions } from '../../platform/subscriptions/resume.js';
import { evolveOrderDoc } from './read-model/projection.js';
import { isUuid, uuidV5 } from '../../platform/ids.js';
import type { ServicePorts } from '../../platform/ports.js';
import { canSee, orderDecider, paymentStep, RefundRequiredError, requireOrder, SYSTEM_ACTOR, type Actor, type OrderCommand, type OrderState, type PlacedOrder } from './decider.js';
import { ORDER_EVENT_TYPES, orderStream, type Money, type OrderEvent, type OrderLine } from './events.js';
import { PaymentDeclinedError, TransientPaymentError, type PaymentProvider } from './payments.js';
import { ORDER_STATUS_CHANNEL, ORDERS, type OrderDoc, type OrderPage, type OrderStatusNotification } from './read-model/read-model.js';

/** Namespace of order ids derived from (customer, idempotency key): the same key, the same order stream. */
const ORDER_ID_NAMESPACE = '6c0e35a2-8f55-4c39-b2a4-1f0f7d3e9b21';

export function orderIdFor(customerId: string, idempotencyKey: string): string {
  return uuidV5(`${customerId}\n${idempotencyKey}`, ORDER_ID_NAMESPACE);
}

export interface OrderServiceDeps extends ServicePorts {
  payments: PaymentProvider;
  clock: () => Date;
  /** Attempts at the payment provider when it fails transiently (tok_flaky). */
  paymentRetry?: { maxAttempts: number; initialBackoffMs: number };
  /** How long an order may stay PENDING or CONFIRMED (unpaid) before `expireStale` ends it. */
  timeouts?: { pendingSeconds: number; paymentSeconds: number };
  /** How far back an orderStatusChanged subscriber may resume from (defaults: DEFAULT_RESUME). */
  resume?: Partial<ResumeOptions>;
}

export const DEFAULT_ORDER_TIMEOUTS = { pendingSeconds: 120, paymentSeconds: 1800 };
const EXPIRY_BATCH = 100;
/** How often a cancel reads the order again when a payment was recorded between its read and its write. */
const CANCEL_ATTEMPTS = 3;

export interface PaymentOutcome {
  order: OrderDoc;
  userErrors: UserError[];
}

/** Who caused a saga step that arrived over the bus. */
export interface Causation {
  messageId: string;
  correlationId?: string;
}

const MAX_KEY_LENGTH = 200;

function optionalKey(key: string | null | undefined, field: string[]): string | null {
  if (key === null || key === undefined) return null;
  const trimmed = key.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_KEY_LENGTH) throw new ValidationError(`idempotencyKey must be 1 to ${MAX_KEY_LENGTH} characters`, field);
  return trimmed;
}

const toDoc = (order: PlacedOrder): OrderDoc => ({ ...order, _id: order.orderId });

/**
 * The order slice's application service. Commands go through the order decider to the order's
 * stream; the saga's other half (reservations) happens in the product service, which reacts to
 * the public order events and answers with public stock events (see reservation-replies.ts).
 * Mutations answer with the order folded from its stream, so the caller sees its write at once.
 */
export class OrderService {
  constructor(private readonly deps: OrderServiceDeps) {}

  get metrics() {
    return this.deps.metrics;
  }

  private async execute(orderId: string, command: OrderCommand, context: Omit<CommandContext, 'now'> & { now?: Date }): Promise<{ order: PlacedOrder; events: OrderEvent[] }> {
    const now = context.now ?? this.deps.clock();
    const result = await handleCommand(this.deps.events, orderDecider, orderStream(orderId), command, { ...context, now });
    const { before, state: after } = result;
    // A command moves an order through at most one status (placing it, or the reply that settles it).
    if (after.status !== 'none' && after.status !== before.status) {
      this.deps.metrics.orderTransitions.inc({ status: after.status });
      if (before.status === 'PENDING' && (after.status === 'CONFIRMED' || after.status === 'REJECTED')) {
        const seconds = (now.getTime() - Date.parse(after.createdAt)) / 1000;
        this.deps.metrics.orderConfirmDuration.observe({ outcome: after.status === 'CONFIRMED' ? 'confirmed' : 'rejected' }, Math.max(0, seconds));
      }
    }
    return { order: requireOrder(result.state, orderId), events: result.events };
  }

  private async load(orderId: string): Promise<OrderState> {
    if (!isUuid(orderId)) return { status: 'none' };
    return loadState(this.deps.events, orderDecider, orderStream(orderId));
  }

  private requireActor(actor: Actor | undefined): Actor {
    if (!actor) throw unauthenticated('sign in first');
    return actor;
  }

  async place(input: { items: readonly OrderLine[]; idempotencyKey?: string | null }, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<OrderDoc> {
    const by = this.requireActor(actor);
    const idempotencyKey = optionalKey(input.idempotencyKey, ['input', 'idempotencyKey']);
    const orderId = idempotencyKey ? orderIdFor(by.userId, idempotencyKey) : randomUUID();
    const at = this.deps.clock();
    const { order } = await this.execute(orderId, { type: 'PlaceOrder', orderId, by, items: input.items, idempotencyKey, at: at.toISOString() }, { actor: by.userId, correlationId, now: at });
    return toDoc(order);
  }

  /**
   * Charges the order's total once: the provider's idempotency key is the order's, so two calls
   * (same client key, another key, or racing) never charge twice. Transient provider failures
   * are retried with backoff; a decline is final and releases the stock (PAYMENT_FAILED).
   */
  async pay(orderId: string, payment: { token: string; idempotencyKey?: string | null }, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<PaymentOutcome> {
    const by = this.requireActor(actor);
    const token = payment.token.trim();
    if (token.length === 0 || token.length > 200) throw new ValidationError('a payment token is required', ['payment', 'token']);
    const idempotencyKey = optionalKey(payment.idempotencyKey, ['payment', 'idempotencyKey']);
    const state = await this.load(orderId);
    const step = paymentStep(state, orderId, by, idempotencyKey);
    if (step.action === 'already-paid') return { order: toDoc(requireOrder(state, orderId)), userErrors: [] };
    const context = { actor: by.userId, correlationId };
    let chargeId: string;
    try {
      chargeId = (await this.chargeWithRetry({ idempotencyKey: `order-${orderId}`, token, amount: step.amount, reference: orderId })).chargeId;
    } catch (error) {
      if (!(error instanceof PaymentDeclinedError)) throw error;
      this.deps.metrics.paymentAttempts.inc({ outcome: 'declined' });
      const { order } = await this.execute(orderId, { type: 'RecordPaymentFailure', orderId, by, reason: error.message, at: this.deps.clock().toISOString() }, context);
      return { order: toDoc(order), userErrors: [{ code: 'PAYMENT_DECLINED', message: error.message, field: ['payment', 'token'] }] };
    }
    this.deps.metrics.paymentAttempts.inc({ outcome: 'paid' });
    try {
      const { order } = await this.execute(orderId, { type: 'RecordPayment', orderId, by, chargeId, amount: step.amount, idempotencyKey, at: this.deps.clock().toISOString() }, context);
      return { order: toDoc(order), userErrors: [] };
    } catch (error) {
      // The order changed while the provider answered (cancelled meanwhile): give the money back.
      if (error instanceof IllegalStateError) await this.refund(orderId, chargeId);
      throw error;
    }
  }

  private async chargeWithRetry(request: Parameters<PaymentProvider['charge']>[0]): Promise<{ chargeId: string }> {
    const { maxAttempts, initialBackoffMs } = this.deps.paymentRetry ?? { maxAttempts: 5, initialBackoffMs: 50 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deps.payments.charge(request);
      } catch (error) {
        if (!(error instanceof TransientPaymentError)) throw error;
        this.deps.metrics.paymentAttempts.inc({ outcome: 'transient' });
        this.deps.logger.warn({ orderId: request.reference, attempt, error: error.message }, 'payment provider failed transiently; retrying');
        if (attempt >= maxAttempts) {
          throw new GraphQLError('the payment provider is unavailable; the order was not charged, try again later', { extensions: { code: 'SERVICE_UNAVAILABLE' } });
        }
        await sleep(backoffMs({ maxAttempts, initialBackoffMs, maxBackoffMs: 2000 }, attempt));
      }
    }
  }

  private async refund(orderId: string, chargeId: string): Promise<string> {
    const { refundId } = await this.deps.payments.refund({ idempotencyKey: `refund-${orderId}`, chargeId });
    this.deps.metrics.paymentAttempts.inc({ outcome: 'refunded' });
    return refundId;
  }

  /**
   * Before shipping: releases the stock (through the saga) and refunds a paid order. A payment
   * recorded while it decided (a racing payOrder) sends it back to read the PAID order and refund it.
   */
  async cancel(orderId: string, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<OrderDoc> {
    const by = this.requireActor(actor);
    for (let attempt = 1; ; attempt++) {
      const state = await this.load(orderId);
      const at = this.deps.clock().toISOString();
      const order = requireOrder(state, orderId);
      // Decide first without side effects: refund only what the decider would cancel.
      const wouldCancel = orderDecider.decide({ type: 'CancelOrder', orderId, by, refundId: order.chargeId ? 'pending' : null, at }, state).length > 0;
      const refundId = wouldCancel && order.status === 'PAID' && order.chargeId ? await this.refund(orderId, order.chargeId) : null;
      try {
        const result = await this.execute(orderId, { type: 'CancelOrder', orderId, by, refundId, at }, { actor: by.userId, correlationId });
        return toDoc(result.order);
      } catch (error) {
        // Paid between the read and the write (a racing payOrder): read again, and refund this time.
        if (!(error instanceof RefundRequiredError) || attempt >= CANCEL_ATTEMPTS) throw error;
      }
    }
  }

  async ship(orderId: string, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<OrderDoc> {
    const by = this.requireActor(actor);
    if (!isUuid(orderId)) throw new NotFoundError(`order ${orderId} does not exist`, ['id']);
    const { order } = await this.execute(orderId, { type: 'ShipOrder', orderId, by, at: this.deps.clock().toISOString() }, { actor: by.userId, correlationId });
    return toDoc(order);
  }

  /** Saga: the product service reserved a line. */
  async recordReservation(reply: { orderId: string; productId: string; unitPrice: Money; sellerId: string }, causation: Causation): Promise<void> {
    if (!isUuid(reply.orderId)) return;
    const { orderId, productId, unitPrice, sellerId } = reply;
    await this.execute(orderId, { type: 'RecordReservation', orderId, productId, unitPrice, sellerId, at: this.deps.clock().toISOString() }, this.sagaContext(causation)).catch(ignoreUnknownOrder);
  }

  /** Saga: the product service could not reserve a line. */
  async recordRejection(reply: { orderId: string; productId: string; reason: string }, causation: Causation): Promise<void> {
    if (!isUuid(reply.orderId)) return;
    const { orderId, productId, reason } = reply;
    await this.execute(orderId, { type: 'RecordRejection', orderId, productId, reason, at: this.deps.clock().toISOString() }, this.sagaContext(causation)).catch(ignoreUnknownOrder);
  }

  /**
   * Ends orders left hanging, oldest first, up to a batch per kind: PENDING longer than the
   * pending timeout (the reservation never completed) are rejected, CONFIRMED and unpaid longer
   * than the payment timeout are cancelled (unless the provider holds a charge for them, which
   * is then recorded: the order is PAID); either way the saga releases their stock. Candidates
   * come from the read model; the decider checks the stream's own timestamps. Returns how many
   * orders it ended.
   */
  async expireStale(): Promise<number> {
    const now = this.deps.clock();
    const { pendingSeconds, paymentSeconds } = this.deps.timeouts ?? DEFAULT_ORDER_TIMEOUTS;
    const pendingSince = new Date(now.getTime() - pendingSeconds * 1000).toISOString();
    const confirmedSince = new Date(now.getTime() - paymentSeconds * 1000).toISOString();
    const orders = this.deps.documents.collection<OrderDoc>(ORDERS);
    const [pending, unpaid] = await Promise.all([
      orders.find({ filter: { status: 'PENDING', createdAt: { $lt: pendingSince } }, sort: [['createdAt', 1]], first: EXPIRY_BATCH }),
      orders.find({ filter: { status: 'CONFIRMED', updatedAt: { $lt: confirmedSince } }, sort: [['updatedAt', 1]], first: EXPIRY_BATCH }),
    ]);
    let ended = 0;
    const context = () => ({ actor: SYSTEM_ACTOR, correlationId: correlationIdOrNew(), now });
    for (const order of unpaid.items) {
      // Charged but never recorded (the process died between the two): the order is paid.
      const charge = await this.deps.payments.findCharge(order._id);
      if (!charge) continue;
      const { events } = await this.execute(order._id, { type: 'ReconcilePayment', orderId: order._id, chargeId: charge.chargeId, amount: charge.amount, at: now.toISOString() }, context());
      if (events.length > 0) {
        this.deps.metrics.paymentAttempts.inc({ outcome: 'reconciled' });
        this.deps.logger.warn({ orderId: order._id, chargeId: charge.chargeId }, 'recorded a charge the provider made but the order never recorded');
      }
    }
    for (const order of [...pending.items, ...unpaid.items]) {
      const command = { type: 'ExpireOrder' as const, orderId: order._id, pendingSince, confirmedSince, at: now.toISOString() };
      const { events } = await this.execute(order._id, command, context());
      if (events.length > 0) ended++;
    }
    if (ended > 0) this.deps.logger.info({ ended }, 'expired orders left pending or unpaid; their stock is released');
    return ended;
  }

  private sagaContext(causation: Causation) {
    return { actor: 'saga:order', correlationId: causation.correlationId ?? causation.messageId, causationId: causation.messageId };
  }

  // ------------------------------------------------------------------------------ queries

  /**
   * One order for its customer or an admin. Read from the read model; an order placed a moment
   * ago and not projected yet is folded from its stream, so a client can read its own write.
   */
  async order(orderId: string, actor: Actor | undefined): Promise<OrderDoc | null> {
    const by = this.requireActor(actor);
    if (!isUuid(orderId)) return null;
    const doc = (await this.deps.documents.collection<OrderDoc>(ORDERS).get(orderId)) ?? (await this.orderFromStream(orderId));
    if (!doc) return null;
    if (!canSee(doc, by)) throw new ForbiddenError('only the customer who placed this order, or an admin, may see it');
    return doc;
  }

  private async orderFromStream(orderId: string): Promise<OrderDoc | undefined> {
    const state = await this.load(orderId);
    return state.status === 'none' ? undefined : toDoc(state);
  }

  /** A customer's orders, newest first: for the customer themself or an admin. */
  async ordersOf(customerId: string, args: { first?: number | null; after?: string | null }, actor: Actor | undefined): Promise<OrderPage> {
    const by = this.requireActor(actor);
    if (by.userId !== customerId && by.role !== 'ADMIN') throw new ForbiddenError('only the customer themself, or an admin, may see their orders');
    const collection = this.deps.documents.collection<OrderDoc>(ORDERS);
    const filter = { customerId };
    const page = await collection.find({ filter, sort: [['createdAt', -1]], first: pageSize(args.first), ...(args.after != null && { after: args.after }) });
    return { ...page, totalCount: () => collection.count(filter) };
  }

  /**
   * The order as it is now, then each status change, for its customer or an admin. Starting from
   * the current state means a client that subscribes right after `placeOrder` cannot miss a
   * confirmation that came first (the saga often takes milliseconds). With `after` (the cursor of
   * the last event a client saw), every status change after it instead, read from the order's
   * stream in the event log, then the live ones (see liveFeed for the seam).
   */
  async statusChanges(orderId: string, actor: Actor | undefined, after: string | null = null): Promise<AsyncIterableIterator<OrderStatusNotification | FeedEnd>> {
    const { metrics, pubsub, clock, events } = this.deps;
    const cursor = after === null ? undefined : decodeCursor(after);
    const resume = { ...DEFAULT_RESUME, ...this.deps.resume };
    // Listen before reading the current state, so that no change between the two is missed.
    const subscription = pubsub.subscribe<OrderStatusNotification>(ORDER_STATUS_CHANNEL);
    try {
      await subscription.ready;
      const horizon = await events.headPosition();
      const now = clock();
      const current = await this.order(orderId, actor);
      if (!current) throw new NotFoundError(`order ${orderId} does not exist`, ['orderId']);
      const seen = current.version;
      const common = { field: 'orderStatusChanged', subscription, metrics, clock, interruptions: pubsub } as const;
      if (cursor) {
        assertResumable(cursor, { head: horizon, nowMs: now.getTime(), retentionMs: resume.retentionSeconds * 1000 });
        const catchUp = await this.statusChangesBetween(orderId, cursor.position, horizon);
        return liveFeed({ ...common, wanted: (n) => n.order._id === orderId, catchUp, horizon, startCursor: after ?? startCursor(horizon, now) });
      }
      const initial = { order: current, at: current.updatedAt, position: current._position ?? horizon };
      return liveFeed({ ...common, initial, wanted: (n) => n.order._id === orderId && n.order.version > seen, startCursor: startCursor(horizon, now) });
    } catch (error) {
      await subscription.return?.();
      throw error;
    }
  }

  /** The status changes of one order after `after` up to `horizon`, from its stream, as the orders projection published them. */
  private async statusChangesBetween(orderId: string, after: number, horizon: number): Promise<OrderStatusNotification[]> {
    const changes: OrderStatusNotification[] = [];
    let doc: OrderDoc | undefined;
    for (const e of await this.deps.events.readStream(orderStream(orderId))) {
      if (e.position > horizon) break;
      if (!ORDER_EVENT_TYPES.has(e.type)) continue;
      const before = doc;
      doc = evolveOrderDoc(doc, { type: e.type, data: e.data } as OrderEvent) ?? doc;
      if (e.position > after && doc && before?.status !== doc.status) changes.push({ order: { ...doc, _position: e.position }, at: e.metadata.occurredAt, position: e.position });
    }
    return changes;
  }
}

/** A reply for an order this deployment never placed (another deployment's, or garbage) changes nothing. */
function ignoreUnknownOrder(error: unknown): void {
  if (!(error instanceof NotFoundError)) throw error;
}
