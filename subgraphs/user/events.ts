import type { DomainEvent } from '../../platform/eventsourcing/decider.js';
import type { Role } from '../../platform/auth/tokens.js';

export const userStream = (userId: string) => `user-${userId}`;

/** `timeZone`: an IANA zone (analytics count a seller's days in it); absent in events older than it (UTC). */
export type UserRegistered = DomainEvent<'UserRegistered', { userId: string; email: string; name: string; role: Role; passwordHash: string; timeZone?: string; registeredAt: string }>;
/** `name` is always the name after the update; `timeZone` is there when the update set one. */
export type ProfileUpdated = DomainEvent<'ProfileUpdated', { userId: string; name: string; timeZone?: string; updatedAt: string }>;

/** A user's time zone when they never chose one. */
export const DEFAULT_TIME_ZONE = 'UTC';
export type UserEvent = UserRegistered | ProfileUpdated;

/** On the email's own stream (`user-email-<hash of the normalised email>`): who holds it. */
export type EmailClaimed = DomainEvent<'EmailClaimed', { userId: string; claimedAt: string }>;
