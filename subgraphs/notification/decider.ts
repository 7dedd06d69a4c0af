import type { Decider } from '../../platform/eventsourcing/decider.js';
import { assertNever } from '../../platform/errors.js';
import type { DeliveryChannel, NotificationKind, NotificationPriority } from './channels/channel.js';
import type { DispatchedChannel, NotificationEvent, NotificationRaised, OrderCustomerNoted, ProductFactEvent, RecipientEvent } from './events.js';

// -------------------------------------------------------------------------------- the kinds

export const CUSTOMER_KINDS = ['ORDER_CONFIRMED', 'ORDER_REJECTED', 'ORDER_PAID', 'PAYMENT_FAILED', 'ORDER_CANCELLED', 'ORDER_SHIPPED'] as const satisfies readonly NotificationKind[];
export const SELLER_KINDS = ['UNIT_SOLD', 'STOCK_LOW', 'SOLD_OUT'] as const satisfies readonly NotificationKind[];
export const ALL_KINDS: readonly NotificationKind[] = [...CUSTOMER_KINDS, ...SELLER_KINDS];

export const isSellerKind = (kind: NotificationKind) => (SELLER_KINDS as readonly string[]).includes(kind);

/** Payment failures and rejections go out first: the customer has something to do about them. */
export const priorityOf = (kind: NotificationKind): NotificationPriority => (kind === 'PAYMENT_FAILED' || kind === 'ORDER_REJECTED' ? 'HIGH' : 'NORMAL');

/** The channels a kind goes through until the user chooses (a unit sold is too frequent for e-mail). */
export function defaultChannels(kind: NotificationKind): DeliveryChannel[] {
  if (kind === 'UNIT_SOLD') return ['IN_APP', 'WEBHOOK'];
  return isSellerKind(kind) ? ['IN_APP', 'EMAIL', 'WEBHOOK'] : ['IN_APP', 'EMAIL'];
}

/** The channels a user may choose for a kind: webhooks are for sellers' kinds only. */
export const allowedChannels = (kind: NotificationKind): DeliveryChannel[] => (isSellerKind(kind) ? ['IN_APP', 'EMAIL', 'WEBHOOK'] : ['IN_APP', 'EMAIL']);

/** A product's stock alert threshold until its seller sets one. */
export const DEFAULT_STOCK_ALERT_THRESHOLD = 5;

/**
 * The stock alert a reservation causes, from the message alone (stock after it, and the quantity
 * it took): SOLD_OUT when it took the last unit, STOCK_LOW when it crossed below the threshold.
 * Deterministic, so a redelivered message decides the same alert (which its id then refuses).
 */
export function stockAlert(stockAfter: number, quantity: number, threshold: number): 'STOCK_LOW' | 'SOLD_OUT' | undefined {
  const before = stockAfter + quantity;
  if (stockAfter <= 0 && before > 0) return 'SOLD_OUT';
  if (stockAfter > 0 && stockAfter < threshold && before >= threshold) return 'STOCK_LOW';
  return undefined;
}

// ---------------------------------------------------------------------------- notifications

/** Attempts of a dispatched channel before it is parked. */
export const MAX_DELIVERY_ATTEMPTS = 5;
/** Backoff before the n-th retry: 2^(n-1) seconds, at most 5 minutes. */
export const retryDelayMs = (attempt: number) => Math.min(300_000, 1000 * 2 ** (attempt - 1));

export type NotificationCommand =
  | { type: 'Raise'; notification: NotificationRaised['data'] }
  | { type: 'RecordDelivered'; channel: DispatchedChannel; at: string }
  | { type: 'RecordFailure'; channel: DispatchedChannel; error: string; retryable: boolean; at: string }
  | { type: 'MarkRead'; recipientId: string; at: string };

export interface ChannelState {
  status: 'PENDING' | 'DELIVERED' | 'PARKED';
  attempts: number;
}

export interface NotificationState {
  raised: NotificationRaised['data'] | null;
  channels: Partial<Record<DispatchedChannel, ChannelState>>;
  read: boolean;
}

/**
 * One notification. Raised once: its id is derived from the causing message, kind and
 * recipient, so a redelivered message finds it raised and decides nothing. A channel's outcome
 * is recorded once it is final (delivered, parked); failures before count attempts and set the
 * next try with exponential backoff.
 */
export const notificationDecider: Decider<NotificationCommand, NotificationEvent, NotificationState> = {
  initialState: () => ({ raised: null, channels: {}, read: false }),
  decide(command, state) {
    if (command.type === 'Raise') return state.raised ? [] : [{ type: 'NotificationRaised', data: command.notification }];
    const raised = state.raised;
    if (!raised) return [];
    const notificationId = raised.notificationId;
    switch (command.type) {
      case 'RecordDelivered': {
        const channel = state.channels[command.channel];
        if (channel?.status !== 'PENDING') return [];
        return [{ type: 'NotificationDelivered', data: { notificationId, channel: command.channel, attempt: channel.attempts + 1, deliveredAt: command.at } }];
      }
      case 'RecordFailure': {
        const channel = state.channels[command.channel];
        if (channel?.status !== 'PENDING') return [];
        const attempt = channel.attempts + 1;
        if (!command.retryable || attempt >= MAX_DELIVERY_ATTEMPTS) return [{ type: 'NotificationDeliveryParked', data: { notificationId, channel: command.channel, attempts: attempt, error: command.error, parkedAt: command.at } }];
        const retryAt = new Date(Date.parse(command.at) + retryDelayMs(attempt)).toISOString();
        return [{ type: 'NotificationDeliveryFailed', data: { notificationId, channel: command.channel, attempt, error: command.error, failedAt: command.at, retryAt } }];
      }
      case 'MarkRead':
        if (state.read || raised.recipientId !== command.recipientId) return [];
        return [{ type: 'NotificationRead', data: { notificationId, recipientId: command.recipientId, readAt: command.at } }];
      default:
        return assertNever(command, 'notification command');
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'NotificationRaised': {
        const channels: NotificationState['channels'] = {};
        for (const c of event.data.channels) if (c !== 'IN_APP') channels[c] = { status: 'PENDING', attempts: 0 };
        return { ...state, raised: event.data, channels };
      }
      case 'NotificationDelivered':
        return { ...state, channels: { ...state.channels, [event.data.channel]: { status: 'DELIVERED', attempts: event.data.attempt } } };
      case 'NotificationDeliveryFailed':
        return { ...state, channels: { ...state.channels, [event.data.channel]: { status: 'PENDING', attempts: event.data.attempt } } };
      case 'NotificationDeliveryParked':
        return { ...state, channels: { ...state.channels, [event.data.channel]: { status: 'PARKED', attempts: event.data.attempts } } };
      case 'NotificationRead':
        return { ...state, read: true };
      default:
        return assertNever(event, 'notification event');
    }
  },
};

// ----------------------------------------------------------------------------------- orders

export interface OrderFactsState {
  customerId: string | null;
}

/** The customer of an order, noted once (a redelivered OrderPlaced.v1 decides nothing). */
export const orderFactsDecider: Decider<{ type: 'NoteCustomer'; orderId: string; customerId: string; at: string }, OrderCustomerNoted, OrderFactsState> = {
  initialState: () => ({ customerId: null }),
  decide: (command, state) => (state.customerId !== null ? [] : [{ type: 'OrderCustomerNoted', data: { orderId: command.orderId, customerId: command.customerId, notedAt: command.at } }]),
  evolve: (_state, event) => ({ customerId: event.data.customerId }),
};

// --------------------------------------------------------------------------------- products

export type ProductFactCommand =
  | { type: 'NoteProduct'; productId: string; sellerId: string; name: string | undefined; at: string }
  | { type: 'RenameProduct'; productId: string; name: string; at: string }
  | { type: 'SetThreshold'; productId: string; threshold: number; by: string; at: string };

export interface ProductFactState {
  sellerId: string | null;
  name: string;
  threshold: number;
}

/** A product as its seller's notifications need it; idempotent by state (nothing new, nothing appended). */
export const productFactDecider: Decider<ProductFactCommand, ProductFactEvent, ProductFactState> = {
  initialState: () => ({ sellerId: null, name: '', threshold: DEFAULT_STOCK_ALERT_THRESHOLD }),
  decide(command, state) {
    switch (command.type) {
      case 'NoteProduct': {
        const name = command.name ?? state.name;
        if (state.sellerId === command.sellerId && state.name === name) return [];
        return [{ type: 'ProductNoted', data: { productId: command.productId, sellerId: command.sellerId, name, notedAt: command.at } }];
      }
      case 'RenameProduct':
        if (state.sellerId === null || state.name === command.name) return [];
        return [{ type: 'ProductRenamed', data: { productId: command.productId, name: command.name, notedAt: command.at } }];
      case 'SetThreshold':
        if (state.threshold === command.threshold) return [];
        return [{ type: 'StockAlertThresholdSet', data: { productId: command.productId, threshold: command.threshold, setBy: command.by, setAt: command.at } }];
      default:
        return assertNever(command, 'product fact command');
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'ProductNoted':
        return { ...state, sellerId: event.data.sellerId, name: event.data.name };
      case 'ProductRenamed':
        return { ...state, name: event.data.name };
      case 'StockAlertThresholdSet':
        return { ...state, threshold: event.data.threshold };
      default:
        return assertNever(event, 'product fact event');
    }
  },
};

// ------------------------------------------------------------------------------- recipients

export type RecipientCommand =
  | { type: 'NoteRecipient'; userId: string; email: string; name: string; role: string; at: string }
  | { type: 'RenameRecipient'; userId: string; name: string; at: string }
  | { type: 'SetPreference'; userId: string; kind: NotificationKind; channels: DeliveryChannel[]; via: 'PREFERENCES' | 'UNSUBSCRIBE_LINK'; at: string };

export interface RecipientState {
  email: string | null;
  name: string | null;
  /** Chosen channels per kind; a kind absent has its default channels. */
  preferences: Partial<Record<NotificationKind, DeliveryChannel[]>>;
}

export const channelsFor = (state: RecipientState, kind: NotificationKind): DeliveryChannel[] => state.preferences[kind] ?? defaultChannels(kind);

const sameChannels = (a: readonly DeliveryChannel[], b: readonly DeliveryChannel[]) => a.length === b.length && a.every((c) => b.includes(c));

/** A user as notifications need them: address, name, preferences. */
export const recipientDecider: Decider<RecipientCommand, RecipientEvent, RecipientState> = {
  initialState: () => ({ email: null, name: null, preferences: {} }),
  decide(command, state) {
    switch (command.type) {
      case 'NoteRecipient':
        if (state.email === command.email && state.name === command.name) return [];
        return [{ type: 'RecipientNoted', data: { userId: command.userId, email: command.email, name: command.name, role: command.role, notedAt: command.at } }];
      case 'RenameRecipient':
        if (state.name === command.name) return [];
        return [{ type: 'RecipientRenamed', data: { userId: command.userId, name: command.name, notedAt: command.at } }];
      case 'SetPreference': {
        const channels = ALL_CHANNEL_ORDER.filter((c) => command.channels.includes(c));
        if (state.preferences[command.kind] && sameChannels(state.preferences[command.kind]!, channels)) return [];
        return [{ type: 'NotificationPreferenceSet', data: { userId: command.userId, kind: command.kind, channels, setAt: command.at, via: command.via } }];
      }
      default:
        return assertNever(command, 'recipient command');
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'RecipientNoted':
        return { ...state, email: event.data.email, name: event.data.name };
      case 'RecipientRenamed':
        return { ...state, name: event.data.name };
      case 'NotificationPreferenceSet':
        return { ...state, preferences: { ...state.preferences, [event.data.kind]: event.data.channels } };
      default:
        return assertNever(event, 'recipient event');
    }
  },
};

const ALL_CHANNEL_ORDER: readonly DeliveryChannel[] = ['IN_APP', 'EMAIL', 'WEBHOOK'];
