import type { Doc, Page } from '../../../platform/documents/document-store.js';
import type { NotificationKind, NotificationPriority } from '../channels/channel.js';
import type { DispatchedChannel } from '../events.js';

/**
 * The notification read models, projected from the notification service's own events
 * (projections.ts) and rebuildable with `npm run replay -- <projection>`.
 */

/** The in-app inbox: one document per notification sent IN_APP, newest first per recipient (`seq`: its event position). */
export const INBOX = 'notification_inbox';
export interface InboxDoc extends Doc {
  recipientId: string;
  kind: NotificationKind;
  priority: NotificationPriority;
  occurredAt: string;
  data: Record<string, unknown>;
  read: boolean;
  seq: number;
}

/** A page of a user's inbox, with how many of theirs are unread. */
export interface InboxPage extends Page<InboxDoc> {
  unreadCount: number;
}

/**
 * The outbox the dispatcher delivers from: one document per notification and dispatched channel
 * (e-mail, webhook), its state, and when it is due. `rank` 0 is HIGH priority, 1 NORMAL: pending
 * deliveries are taken by rank, then oldest first.
 */
export const OUTBOX = 'notification_outbox';
export interface OutboxDoc extends Doc {
  notificationId: string;
  channel: DispatchedChannel;
  kind: NotificationKind;
  recipientId: string;
  priority: NotificationPriority;
  rank: number;
  raisedAt: string;
  dueAt: string;
  status: 'PENDING' | 'DELIVERED' | 'PARKED';
  attempts: number;
  lastError: string | null;
}

export const rankOf = (priority: NotificationPriority) => (priority === 'HIGH' ? 0 : 1);
export const outboxId = (notificationId: string, channel: DispatchedChannel) => `${notificationId}:${channel}`;

/** The pub/sub channel of one user's new inbox entries (the notificationReceived subscription listens only to its caller's). */
export const inboxChannel = (userId: string) => `notifications.inbox.${userId}`;

/** A User entity reference. */
export interface UserRef {
  id: string;
}
