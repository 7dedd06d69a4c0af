import type { Decider, DomainEvent } from '../../../platform/eventsourcing/decider.js';
import type { SnapshotPolicy } from '../../../platform/eventsourcing/stream-states.js';
import { IllegalStateError, NotFoundError, ValidationError, assertNever } from '../../../platform/errors.js';
import type { NotificationKind, WebhookPayload } from './channel.js';
import type { SealedWebhookSecret, StoredWebhookSecret } from './webhook-secrets.js';

/**
 * A seller's webhooks and their delivery state, as events in one stream per seller,
 * `sellerwebhooks-<sellerId>`: registrations, each delivery's outcome (delivered, or failed with
 * when it is tried again), parking after too many consecutive failures, and reactivation. The
 * stream is the truth about every outcome; the queue of due retries (a collection, see
 * webhooks.ts) says what to try when, and carries the payload each failure event also records.
 */
export const sellerWebhooksStream = (sellerId: string) => `sellerwebhooks-${sellerId}`;

/** A seller registers at most this many webhooks. */
export const MAX_WEBHOOKS_PER_SELLER = 10;

/**
 * `sealedSecret`: the signing secret encrypted (webhook-secrets.ts); it is never in clear in the log.
 * `secret`: only in events written before secrets were encrypted (read as they are, never rewritten).
 */
export type WebhookRegistered = DomainEvent<
  'WebhookRegistered',
  { webhookId: string; sellerId: string; url: string; events: NotificationKind[]; sealedSecret?: SealedWebhookSecret; /** Legacy: in clear. */ secret?: string; registeredAt: string }
>;

/** One attempt failed. `nextAttemptAt` null: not tried again (a permanent refusal, or the webhook was parked by it). */
export type WebhookDeliveryFailed = DomainEvent<
  'WebhookDeliveryFailed',
  { webhookId: string; notificationId: string; attempt: number; error: string; status: number | null; retryable: boolean; failedAt: string; nextAttemptAt: string | null; payload: WebhookPayload }
>;

export type WebhookDelivered = DomainEvent<'WebhookDelivered', { webhookId: string; notificationId: string; attempt: number; deliveredAt: string }>;

/** Nothing is sent to the webhook any more (until the seller reactivates it): `after` consecutive failures. */
export type WebhookParked = DomainEvent<'WebhookParked', { webhookId: string; after: number; lastError: string; parkedAt: string }>;

export type WebhookReactivated = DomainEvent<'WebhookReactivated', { webhookId: string; reactivatedAt: string; by: string }>;

/** The seller removed it: nothing is sent to it any more, and it no longer counts towards the limit. */
export type WebhookDeleted = DomainEvent<'WebhookDeleted', { webhookId: string; deletedAt: string; by: string }>;

export type WebhookEvent = WebhookRegistered | WebhookDeliveryFailed | WebhookDelivered | WebhookParked | WebhookReactivated | WebhookDeleted;

export const WEBHOOK_EVENT_TYPES: ReadonlySet<string> = new Set<WebhookEvent['type']>(['WebhookRegistered', 'WebhookDeliveryFailed', 'WebhookDelivered', 'WebhookParked', 'WebhookReactivated', 'WebhookDeleted']);

export type WebhookStatus = 'ACTIVE' | 'PARKED';

export interface WebhookState {
  webhookId: string;
  url: string;
  events: NotificationKind[];
  /** Sealed (or, for a legacy registration, as the event had it): opened only to sign a delivery. */
  secret: StoredWebhookSecret;
  status: WebhookStatus;
  consecutiveFailures: number;
  lastError: string | null;
  lastFailureAt: string | null;
  lastDeliveredAt: string | null;
  registeredAt: string;
  parkedAt: string | null;
}

export interface SellerWebhooksState {
  sellerId: string | null;
  /** In registration order. */
  webhooks: WebhookState[];
}

export type WebhookCommand =
  /** `sealedSecret`: sealed by the service (for this webhook id) before the command is decided. */
  | { type: 'RegisterWebhook'; webhookId: string; sellerId: string; url: string; events: NotificationKind[]; sealedSecret: SealedWebhookSecret; at: string }
  | { type: 'RecordDelivered'; webhookId: string; notificationId: string; attempt: number; at: string }
  | {
      type: 'RecordFailed';
      webhookId: string;
      notificationId: string;
      attempt: number;
      error: string;
      status: number | null;
      retryable: boolean;
      /** When to try again if it is tried again (the service computed it: backoff with jitter). */
      retryAt: string;
      /** Consecutive failures that park the webhook (WEBHOOK_MAX_ATTEMPTS). */
      parkAfter: number;
      payload: WebhookPayload;
      at: string;
    }
  | { type: 'ReactivateWebhook'; webhookId: string; by: string; at: string }
  | { type: 'DeleteWebhook'; webhookId: string; by: string; at: string };

const find = (state: SellerWebhooksState, webhookId: string): WebhookState | undefined => state.webhooks.find((w) => w.webhookId === webhookId);

function existing(state: SellerWebhooksState, webhookId: string): WebhookState {
  const webhook = find(state, webhookId);
  if (!webhook) throw new NotFoundError(`webhook ${webhookId} does not exist`, ['id']);
  return webhook;
}

export const webhookDecider: Decider<WebhookCommand, WebhookEvent, SellerWebhooksState> = {
  initialState: () => ({ sellerId: null, webhooks: [] }),

  decide(command, state) {
    switch (command.type) {
      case 'RegisterWebhook': {
        if (find(state, command.webhookId)) return []; // a retried registration
        if (state.webhooks.length >= MAX_WEBHOOKS_PER_SELLER) throw new IllegalStateError(`a seller has at most ${MAX_WEBHOOKS_PER_SELLER} webhooks`, ['url']);
        if (command.events.length === 0) throw new ValidationError('choose at least one notification kind', ['events']);
        const { webhookId, sellerId, url, sealedSecret } = command;
        return [{ type: 'WebhookRegistered', data: { webhookId, sellerId, url, events: [...new Set(command.events)], sealedSecret, registeredAt: command.at } }];
      }
      case 'RecordDelivered':
        if (!find(state, command.webhookId)) return []; // deleted while the request was in flight: nothing to record
        return [{ type: 'WebhookDelivered', data: { webhookId: command.webhookId, notificationId: command.notificationId, attempt: command.attempt, deliveredAt: command.at } }];
      case 'RecordFailed': {
        const webhook = find(state, command.webhookId);
        if (!webhook) return []; // deleted while the request was in flight
        // Parked by this failure: nothing more goes out until the seller reactivates it.
        const parks = webhook.status === 'ACTIVE' && webhook.consecutiveFailures + 1 >= command.parkAfter;
        const retries = command.retryable && !parks && webhook.status === 'ACTIVE';
        const failed: WebhookDeliveryFailed = {
          type: 'WebhookDeliveryFailed',
          data: {
            webhookId: command.webhookId,
            notificationId: command.notificationId,
            attempt: command.attempt,
            error: command.error,
            status: command.status,
            retryable: command.retryable,
            failedAt: command.at,
            nextAttemptAt: retries ? command.retryAt : null,
            payload: command.payload,
          },
        };
        if (!parks) return [failed];
        return [failed, { type: 'WebhookParked', data: { webhookId: command.webhookId, after: webhook.consecutiveFailures + 1, lastError: command.error, parkedAt: command.at } }];
      }
      case 'ReactivateWebhook': {
        const webhook = existing(state, command.webhookId);
        if (webhook.status === 'ACTIVE') return [];
        return [{ type: 'WebhookReactivated', data: { webhookId: command.webhookId, reactivatedAt: command.at, by: command.by } }];
      }
      case 'DeleteWebhook':
        existing(state, command.webhookId);
        return [{ type: 'WebhookDeleted', data: { webhookId: command.webhookId, deletedAt: command.at, by: command.by } }];
      default:
        return assertNever(command, 'webhook command');
    }
  },

  evolve(state, event) {
    const update = (webhookId: string, change: (w: WebhookState) => WebhookState): SellerWebhooksState => ({ ...state, webhooks: state.webhooks.map((w) => (w.webhookId === webhookId ? change(w) : w)) });
    switch (event.type) {
      case 'WebhookRegistered': {
        const { webhookId, sellerId, url, events, registeredAt } = event.data;
        const webhook: WebhookState = { webhookId, url, events, secret: storedSecretOf(event.data), status: 'ACTIVE', consecutiveFailures: 0, lastError: null, lastFailureAt: null, lastDeliveredAt: null, registeredAt, parkedAt: null };
        return { sellerId, webhooks: [...state.webhooks, webhook] };
      }
      case 'WebhookDelivered':
        return update(event.data.webhookId, (w) => ({ ...w, consecutiveFailures: 0, lastDeliveredAt: event.data.deliveredAt }));
      case 'WebhookDeliveryFailed':
        return update(event.data.webhookId, (w) => ({ ...w, consecutiveFailures: w.consecutiveFailures + 1, lastError: event.data.error, lastFailureAt: event.data.failedAt }));
      case 'WebhookParked':
        return update(event.data.webhookId, (w) => ({ ...w, status: 'PARKED', parkedAt: event.data.parkedAt }));
      case 'WebhookReactivated':
        return update(event.data.webhookId, (w) => ({ ...w, status: 'ACTIVE', consecutiveFailures: 0, parkedAt: null }));
      case 'WebhookDeleted':
        return { ...state, webhooks: state.webhooks.filter((w) => w.webhookId !== event.data.webhookId) };
      default:
        return assertNever(event, 'webhook event');
    }
  },
};

/** What a registration recorded: the sealed secret, or a legacy event's clear one. */
function storedSecretOf(data: WebhookRegistered['data']): StoredWebhookSecret {
  if (data.sealedSecret) return data.sealedSecret;
  if (typeof data.secret === 'string') return { v: 0, plain: data.secret };
  throw new Error(`WebhookRegistered for webhook ${data.webhookId} has neither sealedSecret nor secret`);
}

/**
 * Snapshots of seller webhook streams (every delivery appends an event): the state is bounded by
 * MAX_WEBHOOKS_PER_SELLER. Snapshots are events too: they hold each secret as the state does,
 * sealed (a legacy webhook's clear secret, already in its registration event, is copied as it is).
 * Version 2: the secret became a `StoredWebhookSecret`; version 1 snapshots (a clear `secret`
 * string) are ignored and the state is folded from the events again.
 */
export function webhookSnapshots(every = 200): SnapshotPolicy<SellerWebhooksState> {
  return {
    streamFor: (streamName) => `snapshot-${streamName}`,
    type: 'SellerWebhooksSnapshot',
    version: 2,
    every,
    toSnapshot: (state) => state,
    fromSnapshot: (data) => data as SellerWebhooksState,
  };
}
