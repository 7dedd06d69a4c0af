import type { DomainEvent } from '../../platform/eventsourcing/decider.js';
import type { Role } from '../../platform/auth/tokens.js';

export const userStream = (userId: string) => `user-${userId}`;

export type UserRegistered = DomainEvent<'UserRegistered', { userId: string; email: string; name: string; role: Role; passwordHash: string; registeredAt: string }>;
export type ProfileUpdated = DomainEvent<'ProfileUpdated', { userId: string; name: string; updatedAt: string }>;
export type UserEvent = UserRegistered | ProfileUpdated;

/** On the email's own stream (`user-email-<hash of the normalised email>`): who holds it. */
export type EmailClaimed = DomainEvent<'EmailClaimed', { userId: string; claimedAt: string }>;
