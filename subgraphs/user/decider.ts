import { createHash } from 'node:crypto';
import type { Role } from '../../platform/auth/tokens.js';
import { AlreadyExistsError, assertNever, ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors.js';
import type { Decider } from '../../platform/eventsourcing/decider.js';
import { validateTimeZone } from '../../platform/time-zones.js';
import { DEFAULT_TIME_ZONE, type EmailClaimed, type UserEvent } from './events.js';

export type UserState =
  | { status: 'none' }
  | { status: 'registered'; userId: string; email: string; name: string; role: Role; passwordHash: string; timeZone: string; registeredAt: string; updatedAt: string };

export type RegisterUser = { type: 'RegisterUser'; userId: string; email: string; name: string; role: Role; passwordHash: string; timeZone?: string | null; at: string };
export type UpdateProfile = { type: 'UpdateProfile'; userId: string; name?: string | null; timeZone?: string | null; by: { userId: string; role: Role }; at: string };
export type UserCommand = RegisterUser | UpdateProfile;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** One stream per normalised email makes uniqueness an append with "no stream expected". */
export function emailStream(email: string): string {
  return `user-email-${createHash('sha256').update(normaliseEmail(email)).digest('hex').slice(0, 32)}`;
}

export function validateEmail(email: string): string {
  const normalised = normaliseEmail(email);
  if (normalised.length === 0) throw new ValidationError('email must not be empty', ['input', 'email']);
  if (normalised.length > 254 || !EMAIL.test(normalised)) throw new ValidationError('email is not a valid address', ['input', 'email']);
  return normalised;
}

export { validateTimeZone };

export function validatePassword(password: string): void {
  if (password.length < 8) throw new ValidationError('password must be at least 8 characters', ['input', 'password']);
  if (password.length > 256) throw new ValidationError('password must be at most 256 characters', ['input', 'password']);
}

function validateName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new ValidationError('name must not be empty', ['input', 'name']);
  if (trimmed.length > 100) throw new ValidationError('name must be at most 100 characters', ['input', 'name']);
  return trimmed;
}

export function decide(command: UserCommand, state: UserState): UserEvent[] {
  switch (command.type) {
    case 'RegisterUser': {
      if (state.status !== 'none') throw new AlreadyExistsError('this user already exists');
      return [
        {
          type: 'UserRegistered',
          data: {
            userId: command.userId,
            email: validateEmail(command.email),
            name: validateName(command.name),
            role: command.role,
            passwordHash: command.passwordHash,
            timeZone: command.timeZone == null ? DEFAULT_TIME_ZONE : validateTimeZone(command.timeZone),
            registeredAt: command.at,
          },
        },
      ];
    }
    case 'UpdateProfile': {
      if (state.status === 'none') throw new NotFoundError(`user ${command.userId} does not exist`);
      if (command.by.userId !== state.userId && command.by.role !== 'ADMIN') throw new ForbiddenError('only the user or an admin may change a profile');
      const name = command.name == null ? state.name : validateName(command.name);
      const timeZone = command.timeZone == null ? state.timeZone : validateTimeZone(command.timeZone);
      if (name === state.name && timeZone === state.timeZone) return [];
      return [{ type: 'ProfileUpdated', data: { userId: state.userId, name, ...(timeZone !== state.timeZone && { timeZone }), updatedAt: command.at } }];
    }
    default:
      return assertNever(command, 'user command');
  }
}

export function evolve(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'UserRegistered': {
      const d = event.data;
      return { status: 'registered', userId: d.userId, email: d.email, name: d.name, role: d.role, passwordHash: d.passwordHash, timeZone: d.timeZone ?? DEFAULT_TIME_ZONE, registeredAt: d.registeredAt, updatedAt: d.registeredAt };
    }
    case 'ProfileUpdated':
      return state.status === 'none' ? state : { ...state, name: event.data.name, timeZone: event.data.timeZone ?? state.timeZone, updatedAt: event.data.updatedAt };
    default:
      return assertNever(event, 'user event');
  }
}

export const userDecider: Decider<UserCommand, UserEvent, UserState> = { decide, evolve, initialState: () => ({ status: 'none' }) };

/** The email's stream: the first claim wins; the same user claiming again is a no-op (retry). */
export type ClaimEmail = { type: 'ClaimEmail'; userId: string; at: string };
export type EmailState = { claimedBy: string | undefined };

export const emailDecider: Decider<ClaimEmail, EmailClaimed, EmailState> = {
  decide: (command, state) => {
    if (state.claimedBy === command.userId) return [];
    if (state.claimedBy) throw new AlreadyExistsError('an account with this email already exists', ['input', 'email']);
    return [{ type: 'EmailClaimed', data: { userId: command.userId, claimedAt: command.at } }];
  },
  evolve: (state, event) => (state.claimedBy ? state : { claimedBy: event.data.userId }),
  initialState: () => ({ claimedBy: undefined }),
};
