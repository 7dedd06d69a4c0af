/**
 * The seam between the notification slice (what to send, to whom, when, with what priority; its
 * outbox and retry state are events) and the transports that send it (SMTP, HTTP webhooks).
 * Transports are stateless: they send once or throw a `DeliveryError`; the slice decides about
 * retries, backoff and parking, and records each outcome as an event.
 */

/** What a notification is about. Customer kinds first, then seller kinds. */
export type NotificationKind =
  | 'ORDER_CONFIRMED'
  | 'ORDER_REJECTED'
  | 'ORDER_PAID'
  | 'PAYMENT_FAILED'
  | 'ORDER_CANCELLED'
  | 'ORDER_SHIPPED'
  | 'UNIT_SOLD'
  | 'STOCK_LOW'
  | 'SOLD_OUT';

/** Payment failures and rejections go out before routine notifications. */
export type NotificationPriority = 'HIGH' | 'NORMAL';

export type DeliveryChannel = 'IN_APP' | 'EMAIL' | 'WEBHOOK';

/** What every channel renders from: one notification, as the slice recorded it. */
export interface NotificationContent {
  notificationId: string;
  kind: NotificationKind;
  /** The user it is for (customer or seller). */
  recipientId: string;
  /** When the causing event happened (ISO 8601). */
  occurredAt: string;
  /** Kind-specific facts: orderId, reason, productId, productName, stock, quantity, amount, refunded, ... */
  data: Record<string, unknown>;
}

export interface OutgoingEmail {
  notificationId: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Where the recipient unsubscribes from this kind without signing in (a signed token in the URL); also sent as List-Unsubscribe. */
  unsubscribeUrl: string;
}

export interface EmailSender {
  /** Sends once; throws `DeliveryError` (retryable or not). */
  send(email: OutgoingEmail): Promise<void>;
  close(): Promise<void>;
}

export interface WebhookTarget {
  webhookId: string;
  url: string;
  /** The per-webhook secret the body is signed with (HMAC-SHA256). */
  secret: string;
}

/** The JSON body a webhook receives. */
export interface WebhookPayload {
  /** The notification id: receivers deduplicate on it (a retry sends the same id). */
  id: string;
  kind: NotificationKind;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface WebhookSender {
  /** POSTs the signed payload once; throws `DeliveryError` (retryable or not) on anything but a 2xx answer. */
  send(target: WebhookTarget, payload: WebhookPayload): Promise<void>;
}

/** A failed delivery: `retryable` false for a permanent refusal (an address that is not allowed, a 4xx other than 408/429). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
