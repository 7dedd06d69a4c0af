import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

/**
 * Correlation ids: one id follows a client's request everywhere it goes — the gateway's log line
 * for it, the subgraphs' (sent as `x-correlation-id`), the metadata of every event it appended,
 * the relay's bus messages (`x-correlation-id` header) and the log lines of the projector and of
 * the consumers that handle them, hop after hop through the saga — and error responses carry it
 * (`extensions.correlationId`), so a user's bug report can be traced.
 *
 * It is the trace id of the client's W3C `traceparent` when one is sent, else a new one of the
 * same shape (32 lowercase hex digits). Within a request (or a message, or an event being
 * projected) it is held in async-local storage: loggers add it to every line, command handlers
 * to every event, without passing it through every call.
 */
export const CORRELATION_HEADER = 'x-correlation-id';

const storage = new AsyncLocalStorage<string>();

/** version-traceid-parentid-flags; a later version may append fields (W3C Trace Context, level 1). */
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}(?:$|-)/;
/** What a correlation id handed between our processes may look like: ids we make, trace ids, UUIDs (older events, bus messages). */
const WELL_FORMED = /^[\w.:-]{1,128}$/;

/** A new correlation id, shaped like a W3C trace id. */
export function newCorrelationId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The correlation id of a request arriving from a client: the trace id of a valid `traceparent`
 * (version 00 or later; an all-zero trace id is invalid), else a new one.
 */
export function correlationFromTraceparent(traceparent: unknown): string {
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!m) return newCorrelationId();
  const [, version, traceId, parentId] = m;
  const valid = version !== 'ff' && (version !== '00' || traceparent === m[0].replace(/-$/, '')) && !/^0+$/.test(traceId!) && !/^0+$/.test(parentId!);
  return valid ? traceId! : newCorrelationId();
}

/** The correlation id another of our processes sent (a header), if well formed; else a new one. */
export function correlationFromHeader(value: unknown): string {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  return typeof text === 'string' && WELL_FORMED.test(text) ? text : newCorrelationId();
}

/** Runs `work` with `correlationId` as the current one (for everything it calls, synchronously or not). */
export function withCorrelation<T>(correlationId: string, work: () => T): T {
  return storage.run(correlationId, work);
}

/** The correlation id of the request, message or event being handled, if any. */
export function currentCorrelationId(): string | undefined {
  return storage.getStore();
}

/** The current correlation id, or a new one (a write nobody asked for through a request: a timer, a seed). */
export function correlationIdOrNew(): string {
  return storage.getStore() ?? newCorrelationId();
}
