/**
 * Event store port. Streams are named `<aggregate>-<id>`; revisions are 0-based per stream;
 * positions are global, strictly increasing across all streams (the order of `$all`).
 */

export interface EventMetadata {
  correlationId: string;
  causationId: string;
  /** Who caused it: a user id, or `system:<component>`. */
  actor: string;
  /** ISO-8601 timestamp set by the writer (deciders read no clock). */
  occurredAt: string;
  schemaVersion: number;
}

export interface NewEvent<Type extends string = string, Data = unknown> {
  /** UUID set by the writer: appending the same ids again is a no-op (idempotent retry). */
  id: string;
  type: Type;
  data: Data;
  metadata: EventMetadata;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> extends NewEvent<Type, Data> {
  streamName: string;
  revision: number;
  position: number;
  /** When the store recorded it (ISO-8601). */
  recordedAt: string;
}

/**
 * What the writer believes about the stream:
 * - `no_stream`: it must not exist yet;
 * - `stream_exists`: it must exist;
 * - `any`: no check;
 * - a number: the revision of its last event.
 */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | number;

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  nextRevision: number;
  /** Global position of the last event appended. */
  position: number;
}

/** Position to subscribe after. `start` delivers everything. */
export type SubscribeFrom = 'start' | { after: number };

export interface AllSubscription extends AsyncIterable<RecordedEvent> {
  /** Stops delivery; a pending iteration ends. */
  close(): Promise<void>;
  /**
   * The events that follow, at most `max`, that are at hand without waiting (none if delivery
   * would have to wait), taken out of the iteration: a consumer catching up takes a batch at once
   * rather than one asynchronous step per event. Optional: an adapter without it is iterated.
   */
  takeReady?(max: number): RecordedEvent[];
}

export interface EventStore {
  appendToStream(streamName: string, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  /** Events of one stream in revision order; a stream that does not exist is empty. */
  readStream(streamName: string, options?: { fromRevision?: number }): Promise<RecordedEvent[]>;
  /**
   * The last event of one stream (the one with the highest revision), or undefined when the stream
   * does not exist: one event read however long the stream is (e.g. the newest snapshot).
   */
  readLastEvent(streamName: string): Promise<RecordedEvent | undefined>;
  /** Catch-up subscription to every (non-system) event after a position, then live. */
  subscribeToAll(options: { from: SubscribeFrom }): AllSubscription;
  /** Position of the last event in the store, 0 when empty. */
  headPosition(): Promise<number>;
  close(): Promise<void>;
}

export function describeExpected(expected: ExpectedRevision): string {
  return typeof expected === 'number' ? `revision ${expected}` : expected;
}
