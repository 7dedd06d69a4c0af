import { GraphQLError } from 'graphql';

/**
 * Subscription cursors: the position of an event in the event log, opaque to clients. A cursor
 * also carries when its event happened, so a service can tell that it is older than what it
 * keeps for resuming (its retention) without reading the log.
 */
export interface CursorPosition {
  /** Global position in the event log (comparable across every stream and process). */
  position: number;
  /** When the event happened (epoch milliseconds). */
  atMs: number;
}

/** What every event a resumable feed delivers carries. */
export interface Positioned {
  position: number;
  /** When it happened (ISO-8601). */
  at: string;
}

const PREFIX = 'c1.';

export function encodeCursor(position: number, atMs: number): string {
  return PREFIX + Buffer.from(`${position}.${Math.max(0, Math.trunc(atMs))}`, 'utf8').toString('base64url');
}

/** The cursor of a delivered event. */
export function cursorOf(event: Positioned): string {
  return encodeCursor(event.position, Date.parse(event.at));
}

/** The payload of a subscription event, if it carries a position (a resumable feed's events do). */
export function positionedCursor(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { position, at } = payload as Partial<Positioned>;
  if (typeof position !== 'number' || typeof at !== 'string' || Number.isNaN(Date.parse(at))) return undefined;
  return encodeCursor(position, Date.parse(at));
}

export function invalidCursor(message: string, field: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'INVALID_INPUT', field: [field] } });
}

/** Decodes a cursor; anything this service did not issue is INVALID_INPUT. */
export function decodeCursor(cursor: string, field = 'after'): CursorPosition {
  const fail = () => invalidCursor(`${field} is not a subscription cursor this service issued (use the cursor of the last event received, or subscribe without ${field} after refetching state)`, field);
  if (!cursor.startsWith(PREFIX) || cursor.length > 64) throw fail();
  const text = Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString('utf8');
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(text);
  if (!match) throw fail();
  const position = Number(match[1]);
  const atMs = Number(match[2]);
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(atMs)) throw fail();
  return { position, atMs };
}

/**
 * CURSOR_EXPIRED: the cursor's event is older than the retention, or the cursor is ahead of the
 * log (another deployment's log, or one since reset). Either way the client must refetch state.
 */
export function cursorExpired(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'CURSOR_EXPIRED' } });
}

/** Checks that a decoded cursor can be resumed from: within the retention, and not ahead of the log. */
export function assertResumable(cursor: CursorPosition, options: { head: number; nowMs: number; retentionMs: number }): void {
  if (options.nowMs - cursor.atMs > options.retentionMs) {
    throw cursorExpired(`the cursor is older than the ${Math.round(options.retentionMs / 1000)} s this service keeps for resuming: refetch the current state, then subscribe without after`);
  }
  if (cursor.position > options.head) throw cursorExpired('the cursor is ahead of this event log (another deployment, or a reset log): refetch the current state, then subscribe without after');
}

/** Ends a subscription with a coded error (the last event the client got is given by its cursor). */
export class FeedEnd {
  constructor(readonly error: GraphQLError) {}
}

/**
 * SUBSCRIPTION_INTERRUPTED: the service lost its connection to the live notifications (Redis), so
 * some may not have reached it; the client resumes from `cursor` and gets them from the log.
 */
export function interrupted(cursor: string | null): GraphQLError {
  return new GraphQLError('the live feed was interrupted (the service lost its connection to the notifications): subscribe again with after set to extensions.cursor to get what it may have missed', {
    extensions: { code: 'SUBSCRIPTION_INTERRUPTED', cursor },
  });
}

/** Codes that end a subscription with the cursor to resume from (in extensions.cursor). */
export const RESUMABLE_ENDINGS: ReadonlySet<string> = new Set(['SUBSCRIBER_TOO_SLOW', 'SUBSCRIPTION_INTERRUPTED']);

/** SUBSCRIBER_TOO_SLOW: the subscriber's bounded buffer overflowed; it resumes from `cursor`. */
export function tooSlow(cursor: string | null, where: string): GraphQLError {
  return new GraphQLError(`this subscriber did not keep up with its feed (${where}): subscribe again with after set to extensions.cursor to resume without losing an event`, {
    extensions: { code: 'SUBSCRIBER_TOO_SLOW', cursor },
  });
}
