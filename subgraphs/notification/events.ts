import type { DomainEvent } from '../../platform/eventsourcing/decider.js';
import type { DeliveryChannel, NotificationKind, NotificationPriority } from './channels/channel.js';

/**
 * The notification service's own events, in its own streams. What it learns from other services'
 * public events (who placed an order, who sells a product, a user's address) is recorded here
 * first; every notification is an event too (the outbox the dispatcher delivers from), and so is
 * every delivery outcome. Every read model (inbox, outbox) is projected from these events only.
 *
 * Streams:
 * - `notification-<notificationId>`: one notification, its delivery outcomes and whether it was read;
 * - `notifyorder-<orderId>`: the customer of an order (OrderPlaced.v1 says; later order events do not);
 * - `notifyproduct-<productId>`: a product's seller and name, and the seller's stock alert threshold;
 * - `recipient-<userId>`: a user's address and name (user.events.v1), and their notification preferences.
 */
export const notificationStream = (notificationId: string) => `notification-${notificationId}`;
export const orderFactsStream = (orderId: string) => `notifyorder-${orderId}`;
export const productFactsStream = (productId: string) => `notifyproduct-${productId}`;
export const recipientStream = (userId: string) => `recipient-${userId}`;

/** Channels a notification is sent through that the dispatcher delivers (IN_APP is the inbox read model itself). */
export type DispatchedChannel = Exclude<DeliveryChannel, 'IN_APP'>;

/**
 * A notification was decided: what, for whom, through which channels (the recipient's
 * preferences when it was raised), how urgent. `causationId` is the message it was derived from.
 */
export type NotificationRaised = DomainEvent<
  'NotificationRaised',
  {
    notificationId: string;
    kind: NotificationKind;
    priority: NotificationPriority;
    recipientId: string;
    channels: DeliveryChannel[];
    occurredAt: string;
    raisedAt: string;
    data: Record<string, unknown>;
    causationId: string;
  }
>;
/** A channel took the notification (the SMTP server accepted the e-mail; the webhook deliverer took it). */
export type NotificationDelivered = DomainEvent<'NotificationDelivered', { notificationId: string; channel: DispatchedChannel; attempt: number; deliveredAt: string }>;
/** A delivery attempt failed and is tried again at `retryAt`. */
export type NotificationDeliveryFailed = DomainEvent<'NotificationDeliveryFailed', { notificationId: string; channel: DispatchedChannel; attempt: number; error: string; failedAt: string; retryAt: string }>;
/** Given up on a channel: a permanent refusal, or too many failed attempts. */
export type NotificationDeliveryParked = DomainEvent<'NotificationDeliveryParked', { notificationId: string; channel: DispatchedChannel; attempts: number; error: string; parkedAt: string }>;
/** The recipient marked it read in the inbox. */
export type NotificationRead = DomainEvent<'NotificationRead', { notificationId: string; recipientId: string; readAt: string }>;

export type NotificationEvent = NotificationRaised | NotificationDelivered | NotificationDeliveryFailed | NotificationDeliveryParked | NotificationRead;

/** OrderPlaced.v1 named the order's customer. */
export type OrderCustomerNoted = DomainEvent<'OrderCustomerNoted', { orderId: string; customerId: string; notedAt: string }>;

/** ProductListed.v1 (or a later message) named the product's seller and name. */
export type ProductNoted = DomainEvent<'ProductNoted', { productId: string; sellerId: string; name: string; notedAt: string }>;
/** The product's name changed (ProductDetailsChanged.v1). */
export type ProductRenamed = DomainEvent<'ProductRenamed', { productId: string; name: string; notedAt: string }>;
/** The seller chose below which stock they hear that it runs low. */
export type StockAlertThresholdSet = DomainEvent<'StockAlertThresholdSet', { productId: string; threshold: number; setBy: string; setAt: string }>;

export type ProductFactEvent = ProductNoted | ProductRenamed | StockAlertThresholdSet;

/** UserRegistered.v1: where the user is reached. */
export type RecipientNoted = DomainEvent<'RecipientNoted', { userId: string; email: string; name: string; role: string; notedAt: string }>;
/** ProfileUpdated.v1. */
export type RecipientRenamed = DomainEvent<'RecipientRenamed', { userId: string; name: string; notedAt: string }>;
/** The user chose the channels of one kind (an empty list: none). */
export type NotificationPreferenceSet = DomainEvent<'NotificationPreferenceSet', { userId: string; kind: NotificationKind; channels: DeliveryChannel[]; setAt: string; via: 'PREFERENCES' | 'UNSUBSCRIBE_LINK' }>;

export type RecipientEvent = RecipientNoted | RecipientRenamed | NotificationPreferenceSet;

export const NOTIFICATION_EVENT_TYPES: ReadonlySet<string> = new Set<NotificationEvent['type']>(['NotificationRaised', 'NotificationDelivered', 'NotificationDeliveryFailed', 'NotificationDeliveryParked', 'NotificationRead']);
