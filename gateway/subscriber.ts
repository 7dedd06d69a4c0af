import type { ExecutionResult } from 'graphql';
import { GraphQLError } from 'graphql';
import { decodeCursor, encodeCursor, RESUMABLE_ENDINGS, tooSlow } from '../platform/subscriptions/cursor.js';

/** Decoded positions of events: a shared feed hands one result object to every subscriber, decoded once. */
const positions = new WeakMap<ExecutionResult, { position: number; atMs: number } | undefined>();

/** The log position of an event, from its `extensions.cursor`; undefined for results without one (errors). */
export function positionOf(result: ExecutionResult): { position: number; atMs: number } | undefined {
  if (positions.has(result)) return positions.get(result);
  const cursor = result.extensions?.cursor;
  let at: { position: number; atMs: number } | undefined;
  if (typeof cursor === 'string') {
    try {
      at = decodeCursor(cursor);
    } catch {
      at = undefined;
    }
  }
  positions.set(result, at);
  return at;
}

/** The JSON of events, once per event: a shared feed sends one result object to every subscriber. */
const payloads = new WeakMap<ExecutionResult, string>();

function payloadJson(result: ExecutionResult): string {
  let json = payloads.get(result);
  if (json === undefined) {
    json = JSON.stringify(result);
    payloads.set(result, json);
  }
  return json;
}

/** A client's socket, for sending its events without going through graphql-ws's per-event path. */
export interface DirectSink {
  /** True while a message sent now would not queue behind much unsent data. */
  ready(): boolean;
  send(text: string): void;
}

/**
 * One client subscription at the gateway: the events its upstream pushes, in a bounded buffer.
 * Events at or before the last position it queued are dropped (the seam of a resume, where the
 * same event can come from the catch-up and from the shared live feed). When the buffer is full
 * the subscription ends with SUBSCRIBER_TOO_SLOW carrying the cursor of the last event the client
 * was given, so it resumes from there: nothing is dropped silently.
 */
export class Subscriber implements AsyncIterableIterator<ExecutionResult> {
  private buffer: ExecutionResult[] = [];
  private waiting: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  private done = false;
  private ending = false;
  private detached = false;
  /** Highest position queued for the client (-1: none yet). */
  private queuedPosition = -1;
  /** The cursor of the last event taken by the client (its `after` before any). */
  private delivered: string | null;
  /** The cursor of the last event queued (its `after` before any). */
  private queuedCursor: string | null;
  /** Where events go straight to the client (see `sendDirectly`). */
  private sink: { prefix: string; out: DirectSink } | undefined;

  constructor(
    private readonly options: {
      maxBuffered: number;
      after: string | null;
      onOverflow: () => void;
      /** Runs once, when the subscription stops taking events from upstream (however it ends). */
      onClose: () => void;
      /** Runs for every event handed to the client. */
      onDeliver?: () => void;
    },
  ) {
    this.delivered = options.after;
    this.queuedCursor = options.after;
    if (options.after) {
      try {
        this.queuedPosition = decodeCursor(options.after).position;
      } catch {
        // The subgraph answers a malformed cursor with INVALID_INPUT.
      }
    }
  }

  /**
   * Sends events straight to the client's socket as graphql-ws `next` messages for `messageId`,
   * serialised once per event for all subscribers, while graphql-ws waits for this iterator's
   * next event (so everything before has been sent, and order holds) and the socket keeps up.
   * Otherwise, and for results with errors, events take the iterator path: graphql-ws sends them,
   * waiting for each to be written, and a client that does not read fills this subscriber's
   * bounded buffer as before. In the fan-out of one event to 10,000 subscribers, graphql-ws's
   * path (several promises, a message object and its serialisation per subscriber) was most of
   * the gateway's JavaScript time.
   */
  sendDirectly(messageId: string, out: DirectSink): void {
    this.sink = { prefix: `{"id":${JSON.stringify(messageId)},"type":"next","payload":`, out };
  }

  /** Highest position queued so far. */
  get position(): number {
    return this.queuedPosition;
  }

  get closed(): boolean {
    return this.done || this.ending;
  }

  push(event: ExecutionResult): void {
    if (this.closed) return;
    let result = event;
    const at = positionOf(result);
    if (at && !result.errors) {
      if (at.position <= this.queuedPosition) return;
      this.queuedPosition = at.position;
      this.queuedCursor = result.extensions!.cursor as string;
    } else if (!result.data && result.errors?.some((e) => RESUMABLE_ENDINGS.has(String(e.extensions.code)))) {
      // A shared upstream ended (fell behind, or was interrupted): each subscriber resumes from
      // what it has, not from the upstream's cursor.
      const cursor = this.queuedCursor;
      result = { errors: result.errors.map((e) => new GraphQLError(e.message, { extensions: { ...e.extensions, cursor } })), extensions: { cursor } };
    }
    if (this.waiting && this.sink && !result.errors && this.sink.out.ready()) {
      this.take(result);
      this.sink.out.send(`${this.sink.prefix}${payloadJson(result)}}`);
      return;
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      this.take(result);
      w({ value: result, done: false });
      return;
    }
    if (this.buffer.length >= this.options.maxBuffered) {
      this.overflow();
      return;
    }
    this.buffer.push(result);
  }

  /** Ends after what is buffered (with `last`, e.g. an upstream's error, as the final message). */
  end(last?: ExecutionResult): void {
    if (this.closed) return;
    if (last && this.waiting) {
      // The client is waiting for its next event: this is it, and the last.
      const w = this.waiting;
      this.waiting = undefined;
      this.ending = true;
      this.detach();
      w({ value: last, done: false });
      return;
    }
    if (last) this.buffer.push(last);
    if (this.buffer.length === 0) this.finish();
    else {
      this.ending = true;
      this.detach();
    }
  }

  /** Ends the subscription with SUBSCRIBER_TOO_SLOW (its buffer, or one held for it, is full). */
  overflow(): void {
    if (this.closed) return;
    // The client resumes after the last event it took; if it took none, just before the first
    // event it was going to get (nothing it saw is repeated, nothing it missed is skipped).
    const first = this.buffer.map(positionOf).find((p) => p !== undefined);
    const cursor = this.delivered ?? (first ? encodeCursor(first.position - 1, first.atMs) : null);
    this.buffer = [{ errors: [tooSlow(cursor, 'the gateway held as many events for it as it may')], extensions: { cursor } }];
    this.ending = true;
    this.options.onOverflow();
    this.detach();
  }

  /** Stops taking events from upstream (once, however the subscription ends). */
  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.options.onClose();
  }

  private take(result: ExecutionResult): void {
    this.options.onDeliver?.();
    const cursor = result.extensions?.cursor;
    if (typeof cursor === 'string' && !result.errors) this.delivered = cursor;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.ending = false;
    this.detach();
    if (this.waiting) {
      this.waiting({ value: undefined, done: true });
      this.waiting = undefined;
    }
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.buffer.shift();
    if (value) {
      this.take(value);
      if (this.ending && this.buffer.length === 0) this.finish();
      return Promise.resolve({ value, done: false });
    }
    if (this.done || this.ending) {
      this.finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.buffer = [];
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.buffer = [];
    this.finish();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}
