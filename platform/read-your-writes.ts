import { AsyncLocalStorage } from 'node:async_hooks';
import { GraphQLError } from 'graphql';

/**
 * Read-your-writes (README, "Read your writes"). Every mutation that appended events answers with
 * `extensions.position`, the event-log position of the last event it appended (a string, opaque
 * to clients). A query sent with that position in this header is answered only once every read
 * model it reads has reached it, or with an error coded READ_MODEL_BEHIND once the wait bound
 * passes. The gateway forwards it to every subgraph fetch.
 */
export const READ_AFTER_POSITION_HEADER = 'x-read-after-position';

/** How long a subgraph holds a query for its read models to reach the position, by default (READ_AFTER_POSITION_MAX_WAIT_MS). */
export const DEFAULT_READ_AFTER_MAX_WAIT_MS = 5000;

/** The extension code of a query whose read models did not reach the position in time. */
export const READ_MODEL_BEHIND = 'READ_MODEL_BEHIND';

/** A position as clients see it: a decimal string (EventStoreDB positions are 64-bit; JSON numbers are not). */
export function formatPosition(position: number): string {
  return String(position);
}

/**
 * The position a request asks to read after: undefined without the header; a GraphQLError coded
 * INVALID_INPUT (HTTP 400) when it is not one this system hands out (digits only, within what it
 * can represent exactly; several values are refused too).
 */
export function readAfterPosition(header: unknown): number | undefined {
  if (header === undefined || header === null) return undefined;
  const text = Array.isArray(header) ? (header.length === 1 ? (header[0] as unknown) : undefined) : header;
  const value = typeof text === 'string' ? text.trim() : undefined;
  if (value !== undefined && /^\d{1,16}$/.test(value)) {
    const position = Number(value);
    if (Number.isSafeInteger(position)) return position;
  }
  const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 40)) : 'several values';
  throw new GraphQLError(`${READ_AFTER_POSITION_HEADER} must be a position as a mutation's extensions.position returns it (a string of digits), not ${shown}`, {
    extensions: { code: 'INVALID_INPUT', field: [READ_AFTER_POSITION_HEADER], http: { status: 400 } },
  });
}

/** The higher of two positions as clients see them (decimal strings), either possibly absent. */
export function laterPosition(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return BigInt(a) >= BigInt(b) ? a : b;
}

export interface BehindReadModel {
  readModel: string;
  /** Where it stood when the wait ended (as the service knew it). */
  position: number;
}

/**
 * The error of a query whose read models did not reach `required` within `waitedMs`: names each
 * read model, where it is and how far behind, coded READ_MODEL_BEHIND, HTTP 503 with Retry-After
 * (the client may ask again with the same header, or without it to read what is there).
 */
export function readModelBehind(required: number, behind: readonly BehindReadModel[], waitedMs: number): GraphQLError {
  const which = behind.map((b) => `${b.readModel} is at position ${b.position}, ${required - b.position} behind`).join('; ');
  // Apollo Server takes the answer's status and headers from `http` (its headers a Map).
  const extensions: Record<string, unknown> = {
    code: READ_MODEL_BEHIND,
    requiredPosition: formatPosition(required),
    readModels: Object.fromEntries(behind.map((b) => [b.readModel, formatPosition(b.position)])),
    http: { status: 503, headers: new Map([['retry-after', '1']]) },
  };
  return new GraphQLError(`the read models did not reach position ${required} within ${waitedMs} ms: ${which}`, { extensions });
}

/**
 * The positions appended during one request, recorded by the command handler (every append a
 * mutation makes goes through it) and read by the server that answers it: per request, across
 * every await, without threading a context through each resolver and service.
 */
const appends = new AsyncLocalStorage<{ position: number | undefined }>();

/** Runs `work` (one request) recording what it appends. */
export function recordingAppends<T>(work: () => T): T {
  return appends.run({ position: undefined }, work);
}

/** Notes an append's position for the request being served, if any (appends outside requests — consumers, the saga — note nothing). */
export function noteAppended(position: number): void {
  const current = appends.getStore();
  if (current) current.position = Math.max(current.position ?? position, position);
}

/** The position of the last event the current request appended; undefined when it appended none. */
export function appendedPosition(): number | undefined {
  return appends.getStore()?.position;
}
