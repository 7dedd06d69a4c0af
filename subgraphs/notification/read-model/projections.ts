import type { Collection, Doc } from '../../../platform/documents/document-store.js';
import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import type { ApplyResult, Projection } from '../../../projections/projection.js';
import type { NotificationDelivered, NotificationDeliveryFailed, NotificationDeliveryParked, NotificationRaised, NotificationRead } from '../events.js';
import { INBOX, inboxChannel, OUTBOX, outboxId, rankOf, type InboxDoc, type OutboxDoc } from './read-model.js';

const UNCHANGED: ApplyResult = { changed: false };

/** Reads a document, derives the next one (a new object) and writes it guarded by the event's position; undefined when already applied. */
async function update<T extends Doc>(docs: Collection<T>, id: string, position: number, change: (before: Readonly<T> | undefined) => T | undefined): Promise<T | undefined> {
  const before = await docs.get(id);
  if (before && (before._position ?? -1) >= position) return undefined;
  const after = change(before);
  if (!after || !(await docs.upsertIfNewer(after, position))) return undefined;
  return after;
}

/** The in-app inbox: notifications raised with IN_APP, and whether each was read. New entries are published to their recipient's channel. */
export const inboxProjection: Projection = {
  name: 'notification-inbox',
  version: 1,
  collections: [INBOX],
  indexes: { [INBOX]: [{ keys: [['recipientId', 1], ['seq', -1]] }, { keys: [['recipientId', 1], ['read', 1], ['seq', -1]] }] },
  handles: (event) => (event.type === 'NotificationRaised' && (event.data as NotificationRaised['data']).channels.includes('IN_APP')) || event.type === 'NotificationRead',
  documents: (event) => [{ collection: INBOX, id: (event.data as { notificationId: string }).notificationId }],
  async apply(event: RecordedEvent, target) {
    const docs = target.collection<InboxDoc>(INBOX);
    if (event.type === 'NotificationRaised') {
      const n = event.data as NotificationRaised['data'];
      const written = await update(docs, n.notificationId, event.position, (before) => (before ? undefined : { _id: n.notificationId, recipientId: n.recipientId, kind: n.kind, priority: n.priority, occurredAt: n.occurredAt, data: n.data, read: false, seq: event.position }));
      return written ? { changed: true, notifications: [{ channel: inboxChannel(n.recipientId), message: written }] } : UNCHANGED;
    }
    const read = event.data as NotificationRead['data'];
    const written = await update(docs, read.notificationId, event.position, (before) => (before && !before.read ? { ...before, read: true } : undefined));
    return written ? { changed: true } : UNCHANGED;
  },
};

type OutcomeEvent = NotificationDelivered | NotificationDeliveryFailed | NotificationDeliveryParked;
const OUTCOMES = new Set(['NotificationDelivered', 'NotificationDeliveryFailed', 'NotificationDeliveryParked']);

/** The outbox: every dispatched channel of every notification, pending until delivered or parked (see dispatcher.ts). */
export const outboxProjection: Projection = {
  name: 'notification-outbox',
  version: 1,
  collections: [OUTBOX],
  indexes: { [OUTBOX]: [{ keys: [['status', 1], ['rank', 1], ['raisedAt', 1]] }] },
  handles: (event) => (event.type === 'NotificationRaised' && (event.data as NotificationRaised['data']).channels.some((c) => c !== 'IN_APP')) || OUTCOMES.has(event.type),
  documents(event) {
    if (event.type !== 'NotificationRaised') return [{ collection: OUTBOX, id: outboxId((event.data as OutcomeEvent['data']).notificationId, (event.data as OutcomeEvent['data']).channel) }];
    const n = event.data as NotificationRaised['data'];
    return n.channels.filter((c) => c !== 'IN_APP').map((c) => ({ collection: OUTBOX, id: outboxId(n.notificationId, c) }));
  },
  async apply(event: RecordedEvent, target) {
    const docs = target.collection<OutboxDoc>(OUTBOX);
    let changed = false;
    if (event.type === 'NotificationRaised') {
      const n = event.data as NotificationRaised['data'];
      for (const channel of n.channels) {
        if (channel === 'IN_APP') continue;
        const written = await update(docs, outboxId(n.notificationId, channel), event.position, (before) =>
          before
            ? undefined
            : { _id: outboxId(n.notificationId, channel), notificationId: n.notificationId, channel, kind: n.kind, recipientId: n.recipientId, priority: n.priority, rank: rankOf(n.priority), raisedAt: n.raisedAt, dueAt: n.raisedAt, status: 'PENDING' as const, attempts: 0, lastError: null },
        );
        changed ||= written !== undefined;
      }
      return { changed };
    }
    const outcome = { type: event.type, data: event.data } as OutcomeEvent;
    const written = await update(docs, outboxId(outcome.data.notificationId, outcome.data.channel), event.position, (before): OutboxDoc | undefined => {
      if (!before) return undefined;
      switch (outcome.type) {
        case 'NotificationDelivered':
          return { ...before, status: 'DELIVERED', attempts: outcome.data.attempt };
        case 'NotificationDeliveryFailed':
          return { ...before, attempts: outcome.data.attempt, dueAt: outcome.data.retryAt, lastError: outcome.data.error };
        case 'NotificationDeliveryParked':
          return { ...before, status: 'PARKED', attempts: outcome.data.attempts, lastError: outcome.data.error };
      }
    });
    return written ? { changed: true } : UNCHANGED;
  },
};

export function notificationProjections(): Projection[] {
  return [inboxProjection, outboxProjection];
}
