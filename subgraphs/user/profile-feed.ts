import type { Doc } from '../../platform/documents/document-store.js';
import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import { anyTag, entityTag } from '../../platform/cache/response-tags.js';
import { assertNever } from '../../platform/errors.js';
import type { Projection } from '../../projections/projection.js';
import type { UserEvent } from './events.js';

/** The public part of each user's profile (never the email or password hash). */
export const USER_PROFILES = 'user_profiles';

export interface UserProfileDoc extends Doc {
  name: string;
  role: string;
  registeredAt: string;
}

const USER_EVENT_TYPES: ReadonlySet<string> = new Set<UserEvent['type']>(['UserRegistered', 'ProfileUpdated']);

/**
 * Users are read by folding their own stream (no read model serves them), so nothing else tells
 * the gateway's response cache that a user's public profile (a seller's name in the catalog)
 * changed. This projection does: it keeps each public profile, guarded by event position (so it
 * knows what changed and where it stands), and announces `User:<id>` for every change.
 */
export const userProfilesFeed: Projection = {
  name: 'user-profiles',
  version: 1,
  collections: [USER_PROFILES],
  feedsGateway: true,
  handles: (event) => USER_EVENT_TYPES.has(event.type),
  documents: (event) => [{ collection: USER_PROFILES, id: (event.data as UserEvent['data']).userId }],
  async apply(event: RecordedEvent, target) {
    const userEvent = { type: event.type, data: event.data } as UserEvent;
    const collection = target.collection<UserProfileDoc>(USER_PROFILES);
    const id = userEvent.data.userId;
    const before = await collection.get(id);
    if (before && (before._position ?? -1) >= event.position) return { changed: false };
    let after: UserProfileDoc | undefined;
    switch (userEvent.type) {
      case 'UserRegistered':
        after = { _id: id, name: userEvent.data.name, role: userEvent.data.role, registeredAt: userEvent.data.registeredAt };
        break;
      case 'ProfileUpdated':
        after = before && { ...before, name: userEvent.data.name };
        break;
      default:
        return assertNever(userEvent, 'user event');
    }
    if (!after || !(await collection.upsertIfNewer(after, event.position))) return { changed: false };
    return { changed: true, responseTags: [entityTag('User', id), anyTag('User')] };
  },
};
