import type { Collection, Doc, IndexSpec } from '../platform/documents/document-store.js';
import type { RecordedEvent } from '../platform/event-store/event-store.js';

/** Where a projection writes: the live collections, or a new version being rebuilt aside. */
export interface ProjectionTarget {
  collection<T extends Doc>(name: string): Collection<T>;
}

export interface ApplyResult {
  /** Whether a document changed (false for an event already applied). */
  changed: boolean;
  /** Cache tags made stale by the change. */
  invalidateTags?: string[];
  /**
   * Tags of the gateway's cached responses made stale by the change (platform/cache/response-tags.ts:
   * the entities changed, and their type's list tag when lists may hold or order them differently).
   */
  responseTags?: string[];
  /** Live notifications for subscriptions. */
  notifications?: { channel: string; message: unknown }[];
}

/**
 * A read model built from events. `apply` must not change the documents it reads (they may be
 * remembered for later batches), and must be idempotent by event position (use the
 * document store's guarded writes): delivery is at-least-once and replays repeat events.
 * It performs no side effects itself; it returns them, and the projector runs them only when
 * projecting live (never while rebuilding aside).
 */
export interface Projection {
  name: string;
  /**
   * Version of what `apply` builds (a whole number, 1 when absent). Bump it whenever a change
   * makes the documents differ from what the previous version built (a new field, another
   * meaning): a projector that finds the live read model built by a lower version rebuilds it
   * aside from the first event while the old one serves, then switches to it; one that finds a
   * higher version refuses to write it (an older release must never downgrade it). See
   * projections/versions.ts.
   */
  version?: number;
  /** The logical collections this projection owns (rebuilt and switched together). */
  collections: readonly string[];
  indexes?: Readonly<Record<string, readonly IndexSpec[]>>;
  /**
   * The order in which a batch's writes reach the store, collection by collection (those named
   * here last, in this order; the others first). A flush is not atomic: a projector killed during
   * it (or losing its lease while retrying it) leaves part of the batch written, and the next
   * holder applies the batch's events again on top of it. Position guards make that harmless for
   * a document whose change depends only on itself; a projection that decides from one document
   * whether an event still changes others (product analytics: a line already sold is not counted
   * again) must name that document's collection last, after the collections whose figures it
   * gates, so that a kill never leaves the decision written without the figures it stands for.
   */
  flushOrder?: readonly string[];
  /**
   * Whether its changes feed the gateway's response cache (`responseTags`): its projector then
   * says on the invalidation feed, every second, that it runs with nothing left undelivered.
   */
  feedsGateway?: boolean;
  /** False for a projection whose replay would repeat outside effects (the relay). */
  rebuildable?: boolean;
  /**
   * What happens when the handler keeps failing on an event (not a server outage): the event is
   * parked either way; `stop` (the default) stands at it, so the read model never silently
   * misses an event, until the parked event is retried; `park` moves on (for projections whose
   * events are independent of each other, such as the relay's messages).
   */
  onPoison?: 'stop' | 'park';
  handles(event: RecordedEvent): boolean;
  /**
   * The documents `apply` reads for this event, so that a batch's documents are read at once,
   * before it is applied, rather than one round trip each (optional: `apply` reads what is missing).
   */
  documents?(event: RecordedEvent): readonly { collection: string; id: string }[];
  apply(event: RecordedEvent, target: ProjectionTarget): Promise<ApplyResult>;
  /**
   * Writes out what `apply` buffered for the batch (the relay publishes a batch in one call).
   * The projector calls it after every batch and moves the checkpoint only once it succeeded;
   * after a failure it is called again, so it must keep its buffer until it succeeds.
   */
  flush?(): Promise<void>;
  /**
   * Drops what `apply` buffered since the last successful `flush`: the projector abandoned the
   * batch (a handler failed, or the subscription is being restarted) and will apply its events
   * again, so keeping the buffer would send them twice (and grow it with every restart).
   */
  discard?(): void;
}
