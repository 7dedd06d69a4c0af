import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import type { Role } from '../../platform/auth/tokens.js';
import type { PublicContract, PublicEvent } from '../../projections/relay.js';
import { DEFAULT_TIME_ZONE, type UserEvent } from './events.js';

/**
 * The user service's public contract on the bus (topic `user.events.v1`), keyed by user id: who
 * a user is, for services that address them (notifications) without asking the user service.
 * Never the password hash.
 */
export const USER_TOPIC = 'user.events.v1';

export type UserPublicEvent =
  | { type: 'UserRegistered.v1'; value: { userId: string; email: string; name: string; role: Role; timeZone: string; occurredAt: string } }
  /** `timeZone` only when the update changed it. */
  | { type: 'ProfileUpdated.v1'; value: { userId: string; name: string; timeZone?: string; occurredAt: string } };

export const userPublicEvents: PublicContract = (event: RecordedEvent): PublicEvent | undefined => {
  const e = { type: event.type, data: event.data } as UserEvent;
  const occurredAt = event.metadata.occurredAt;
  let published: UserPublicEvent;
  switch (e.type) {
    case 'UserRegistered':
      published = { type: 'UserRegistered.v1', value: { userId: e.data.userId, email: e.data.email, name: e.data.name, role: e.data.role, timeZone: e.data.timeZone ?? DEFAULT_TIME_ZONE, occurredAt } };
      break;
    case 'ProfileUpdated':
      published = { type: 'ProfileUpdated.v1', value: { userId: e.data.userId, name: e.data.name, ...(e.data.timeZone !== undefined && { timeZone: e.data.timeZone }), occurredAt } };
      break;
    default:
      return undefined; // e-mail claims and anything else: internal
  }
  return { topic: USER_TOPIC, key: published.value.userId, ...published };
};
