import { correlationIdOrNew } from '../../platform/correlation.js';
import { handleCommand, loadState, type CommandContext } from '../../platform/eventsourcing/command-handler.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { MAX_PAGE_SIZE, unauthenticated } from '../../platform/graphql/errors.js';
import { isUuid, uuidV5 } from '../../platform/ids.js';
import type { Identity } from '../../platform/auth/tokens.js';
import type { ServicePorts } from '../../platform/ports.js';
import type { Subscription } from '../../platform/pubsub/pubsub.js';
import type { DeliveryChannel, NotificationKind } from './channels/channel.js';
import {
  ALL_KINDS,
  allowedChannels,
  channelsFor,
  notificationDecider,
  orderFactsDecider,
  priorityOf,
  productFactDecider,
  recipientDecider,
  stockAlert,
  type ProductFactCommand,
  type ProductFactState,
  type RecipientCommand,
} from './decider.js';
import { notificationStream, orderFactsStream, productFactsStream, recipientStream } from './events.js';
import { INBOX, inboxChannel, type InboxDoc, type InboxPage } from './read-model/read-model.js';
import { readUnsubscribeToken } from './unsubscribe-token.js';

export type Actor = Identity;

/** A command without its time (the service adds it): distributes over the command union. */
export type WithoutTime<C> = C extends unknown ? Omit<C, 'at'> : never;

export interface NotificationServiceDeps extends ServicePorts {
  clock: () => Date;
  /** Signs and checks unsubscribe tokens. */
  internalSecret: Uint8Array;
}

/** Who caused a step that arrived over the bus. */
export interface Causation {
  messageId: string;
  correlationId?: string;
}

/** Namespace of notification ids: uuidv5(causing message id, kind, recipient). */
const NOTIFICATION_NAMESPACE = '5b0f7c1e-2d4a-4e8b-9a61-3c7d2e9f4b10';

/**
 * A notification's id, derived from what caused it: the same message (redelivered, duplicated,
 * published again after a relay takeover) for the same kind and recipient is the same
 * notification, which the decider raises only once.
 */
export const notificationIdFor = (messageId: string, kind: NotificationKind, recipientId: string) => uuidV5(`${messageId}\n${kind}\n${recipientId}`, NOTIFICATION_NAMESPACE);

/** Highest stock alert threshold a seller may set. */
export const MAX_STOCK_ALERT_THRESHOLD = 1_000_000;
/**
 * A message about something older than this raises no notification (its facts are still noted):
 * a notification service deployed onto an existing history, whose consumers read the topics from
 * their beginning, does not tell anyone about last year's orders.
 */
export const MAX_NOTIFICATION_AGE_MS = 24 * 60 * 60 * 1000;

/** At most this many ids per markNotificationsRead. */
export const MAX_MARK_READ = 100;

/**
 * The notification slice's application service. The consumers (consumers.ts) turn other
 * services' public events into its own facts and notifications; the API reads the inbox read
 * model and records reads and preferences; the dispatcher (dispatcher.ts) delivers the outbox.
 */
export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  get metrics() {
    return this.deps.metrics;
  }

  private consumerContext(causation: Causation): CommandContext {
    return { actor: 'consumer:notification', correlationId: causation.correlationId ?? causation.messageId, causationId: causation.messageId, now: this.deps.clock() };
  }

  // ------------------------------------------------------------------- facts from the bus

  async noteOrderCustomer(orderId: string, customerId: string, causation: Causation): Promise<void> {
    if (!isUuid(orderId)) return;
    const context = this.consumerContext(causation);
    await handleCommand(this.deps.events, orderFactsDecider, orderFactsStream(orderId), { type: 'NoteCustomer', orderId, customerId, at: context.now.toISOString() }, context);
  }

  async productFact(command: WithoutTime<ProductFactCommand>, causation: Causation): Promise<void> {
    if (!isUuid(command.productId)) return;
    const context = this.consumerContext(causation);
    await handleCommand(this.deps.events, productFactDecider, productFactsStream(command.productId), { ...command, at: context.now.toISOString() }, context);
  }

  async recipientFact(command: WithoutTime<Extract<RecipientCommand, { type: 'NoteRecipient' | 'RenameRecipient' }>>, causation: Causation): Promise<void> {
    const context = this.consumerContext(causation);
    await handleCommand(this.deps.events, recipientDecider, recipientStream(command.userId), { ...command, at: context.now.toISOString() }, context);
  }

  // ---------------------------------------------------------------------- notifications

  /** An order event for its customer (known from OrderPlaced.v1, which comes first on the order's partition). */
  async notifyCustomer(orderId: string, kind: NotificationKind, data: Record<string, unknown>, occurredAt: string, causation: Causation): Promise<boolean> {
    if (!isUuid(orderId)) return false;
    const { customerId } = await loadState(this.deps.events, orderFactsDecider, orderFactsStream(orderId));
    if (customerId === null) {
      this.deps.logger.warn({ orderId, kind }, 'no customer known for the order (its OrderPlaced.v1 was never seen): nobody to notify');
      return false;
    }
    return this.raise(kind, customerId, { orderId, ...data }, occurredAt, causation);
  }

  private async product(productId: string): Promise<ProductFactState | undefined> {
    if (!isUuid(productId)) return undefined;
    const state = await loadState(this.deps.events, productFactDecider, productFactsStream(productId));
    return state.sellerId === null ? undefined : state;
  }

  /** A unit (or several) of a product sold (StockSold.v1): its seller hears. */
  async unitSold(productId: string, orderId: string, quantity: number, occurredAt: string, causation: Causation): Promise<boolean> {
    const product = await this.product(productId);
    if (!product) return false;
    return this.raise('UNIT_SOLD', product.sellerId!, { productId, productName: product.name, orderId, quantity }, occurredAt, causation);
  }

  /** A reservation took stock (StockReserved.v1): the seller hears when it crossed below their threshold, or took the last unit. */
  async stockTaken(productId: string, sellerId: string, stock: number, quantity: number, occurredAt: string, causation: Causation): Promise<boolean> {
    if (!isUuid(productId)) return false;
    await this.productFact({ type: 'NoteProduct', productId, sellerId, name: undefined }, causation);
    const product = (await this.product(productId))!;
    const alert = stockAlert(stock, quantity, product.threshold);
    if (!alert) return false;
    return this.raise(alert, sellerId, { productId, productName: product.name, stock, threshold: product.threshold }, occurredAt, causation);
  }

  /**
   * Raises a notification of `kind` for `recipientId`, through the channels of their preferences
   * (none: nothing is raised). Returns whether it was raised now (false for a duplicate).
   */
  private async raise(kind: NotificationKind, recipientId: string, data: Record<string, unknown>, occurredAt: string, causation: Causation): Promise<boolean> {
    if (this.deps.clock().getTime() - Date.parse(occurredAt) > MAX_NOTIFICATION_AGE_MS) {
      this.deps.metrics.notificationsRaised.inc({ kind, priority: priorityOf(kind), outcome: 'stale' });
      return false;
    }
    const recipient = await loadState(this.deps.events, recipientDecider, recipientStream(recipientId));
    const channels = channelsFor(recipient, kind);
    if (channels.length === 0) {
      this.deps.metrics.notificationsRaised.inc({ kind, priority: priorityOf(kind), outcome: 'muted' });
      return false;
    }
    const context = this.consumerContext(causation);
    const notificationId = notificationIdFor(causation.messageId, kind, recipientId);
    const priority = priorityOf(kind);
    const { events } = await handleCommand(
      this.deps.events,
      notificationDecider,
      notificationStream(notificationId),
      { type: 'Raise', notification: { notificationId, kind, priority, recipientId, channels, occurredAt, raisedAt: context.now.toISOString(), data, causationId: causation.messageId } },
      context,
    );
    this.deps.metrics.notificationsRaised.inc({ kind, priority, outcome: events.length > 0 ? 'raised' : 'duplicate' });
    if (events.length > 0 && channels.includes('IN_APP')) this.deps.metrics.notificationsSent.inc({ channel: 'IN_APP', kind });
    return events.length > 0;
  }

  // ------------------------------------------------------------------------------ API

  private self(userId: string, actor: Actor | undefined): Actor {
    if (!actor) throw unauthenticated('sign in to see your notifications');
    if (actor.userId !== userId) throw new ForbiddenError("only the user themself may see or change their notifications");
    return actor;
  }

  /** A user's inbox, newest first (only the user themself). */
  async inbox(userId: string, args: { first?: number | null; after?: string | null; unreadOnly?: boolean | null }, actor: Actor | undefined): Promise<InboxPage> {
    this.self(userId, actor);
    const first = args.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw new ValidationError(`first must be between 1 and ${MAX_PAGE_SIZE}`, ['first']);
    const docs = this.deps.documents.collection<InboxDoc>(INBOX);
    const filter = { recipientId: userId, ...(args.unreadOnly && { read: false }) };
    const [page, unreadCount] = await Promise.all([
      docs.find({ filter, sort: [['seq', -1]], first, ...(args.after && { after: args.after }) }), // a foreign cursor: INVALID_INPUT
      docs.count({ recipientId: userId, read: false }),
    ]);
    return { ...page, unreadCount };
  }

  /** Marks the caller's notifications read; ids of others' (or unknown) notifications change nothing. Returns how many became read. */
  async markRead(ids: readonly string[], actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<number> {
    if (!actor) throw unauthenticated('sign in to mark notifications read');
    if (ids.length > MAX_MARK_READ) throw new ValidationError(`at most ${MAX_MARK_READ} ids at once`, ['ids']);
    let marked = 0;
    for (const id of new Set(ids)) {
      if (!isUuid(id)) continue;
      const now = this.deps.clock();
      const { events } = await handleCommand(this.deps.events, notificationDecider, notificationStream(id), { type: 'MarkRead', recipientId: actor.userId, at: now.toISOString() }, { actor: actor.userId, correlationId, now });
      marked += events.length;
    }
    return marked;
  }

  async preferences(userId: string, actor: Actor | undefined): Promise<{ kind: NotificationKind; channels: DeliveryChannel[] }[]> {
    this.self(userId, actor);
    const state = await loadState(this.deps.events, recipientDecider, recipientStream(userId));
    return ALL_KINDS.map((kind) => ({ kind, channels: channelsFor(state, kind) }));
  }

  async setPreference(kind: NotificationKind, channels: readonly DeliveryChannel[], actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<{ kind: NotificationKind; channels: DeliveryChannel[] }> {
    if (!actor) throw unauthenticated('sign in to choose your notifications');
    const allowed = allowedChannels(kind);
    const refused = channels.filter((c) => !allowed.includes(c));
    if (refused.length > 0) throw new ValidationError(`${kind} cannot go through ${refused.join(', ')}`, ['channels']);
    const now = this.deps.clock();
    const { state } = await handleCommand(this.deps.events, recipientDecider, recipientStream(actor.userId), { type: 'SetPreference', userId: actor.userId, kind, channels: [...channels], via: 'PREFERENCES', at: now.toISOString() }, { actor: actor.userId, correlationId, now });
    return { kind, channels: channelsFor(state, kind) };
  }

  /** Turns e-mail off for the user and kind a signed token names; needs no sign-in. INVALID_INPUT for a token that is not ours. */
  async unsubscribe(token: string, correlationId: string = correlationIdOrNew()): Promise<{ kind: NotificationKind; channels: DeliveryChannel[] }> {
    const named = readUnsubscribeToken(token, this.deps.internalSecret);
    if (!named) throw new ValidationError('this unsubscribe link is not valid', ['token']);
    const stream = recipientStream(named.userId);
    const now = this.deps.clock();
    const { state } = await handleCommand(
      this.deps.events,
      recipientDecider,
      stream,
      (current): RecipientCommand => ({ type: 'SetPreference', userId: named.userId, kind: named.kind, channels: channelsFor(current, named.kind).filter((c) => c !== 'EMAIL'), via: 'UNSUBSCRIBE_LINK', at: now.toISOString() }),
      { actor: `unsubscribe:${named.userId}`, correlationId, now },
    );
    return { kind: named.kind, channels: channelsFor(state, named.kind) };
  }

  /** Only the product's seller (as product.events.v1 named them); NOT_FOUND while the product is unknown here. */
  async setStockAlertThreshold(productId: string, threshold: number, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<number> {
    if (!actor) throw unauthenticated('sign in to set stock alerts');
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > MAX_STOCK_ALERT_THRESHOLD) throw new ValidationError(`threshold must be a whole number from 0 to ${MAX_STOCK_ALERT_THRESHOLD}`, ['threshold']);
    const product = await this.product(productId);
    if (!product) throw new NotFoundError(`product ${productId} does not exist`, ['productId']);
    if (product.sellerId !== actor.userId) throw new ForbiddenError("only the product's seller may set its stock alert");
    const now = this.deps.clock();
    const { state } = await handleCommand(this.deps.events, productFactDecider, productFactsStream(productId), { type: 'SetThreshold', productId, threshold, by: actor.userId, at: now.toISOString() }, { actor: actor.userId, correlationId, now });
    return state.threshold;
  }

  /** The caller's new inbox entries, live; only ever their own (a channel per user). */
  async received(actor: Actor | undefined): Promise<Subscription<InboxDoc>> {
    if (!actor) throw unauthenticated('sign in to receive notifications');
    const subscription = this.deps.pubsub.subscribe<InboxDoc>(inboxChannel(actor.userId));
    await subscription.ready;
    return subscription;
  }
}
