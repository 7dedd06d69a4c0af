import { randomUUID } from 'node:crypto';
import type { EventMetadata, EventStore, RecordedEvent } from '../event-store/event-store.js';
import { fold, type Decider, type DomainEvent } from './decider.js';

/**
 * How an aggregate's state is snapshotted: a snapshot is one event, in a stream of its own (never
 * in the aggregate's stream), whose type no projection or public contract handles, so replays and
 * the relay pass over it. A snapshot is an optimisation only: a command decides the same on the
 * state folded from every event as on a snapshot plus the events after it. `toSnapshot` may drop
 * what the decider no longer looks at (bounded state), as long as that stays true.
 */
export interface SnapshotPolicy<State> {
  /** The stream holding the snapshots of `streamName`, e.g. `snapshot-product-<id>`. */
  streamFor(streamName: string): string;
  /** Event type of a snapshot: not a domain event of any slice. */
  type: string;
  /** Format version: a snapshot of another version is ignored (the state is folded from events). */
  version: number;
  /** A snapshot is written once at least this many events follow the last one. */
  every: number;
  /** The state as JSON, bounded (what the decider will never look at again is left out). */
  toSnapshot(state: State): unknown;
  fromSnapshot(data: unknown): State;
}

/** What a snapshot event holds. */
interface SnapshotData {
  version: number;
  /** Revision of the aggregate's stream the state includes. */
  revision: number;
  state: unknown;
}

interface Entry<State> {
  state: State;
  /** Revision of the last event folded into `state`; -1: the stream does not exist. */
  revision: number;
  /** Revision the newest snapshot includes; -1: none. */
  snapshotRevision: number;
}

export interface LoadedState<State> {
  state: State;
  revision: number;
  /** The events read from the aggregate's stream (only those after a cached or snapshotted state). */
  read: RecordedEvent[];
}

/**
 * The folded state of an aggregate's streams, kept so that a command's cost does not grow with its
 * stream: (1) in process, the last state of each recently used stream with its revision (an LRU of
 * `maxStreams`): a command reads only the events after it, usually none; revision-checked, so other
 * processes' appends are read and folded, never missed; (2) durable, a snapshot every `every`
 * events, so a cold process (a restart, another instance) reads one snapshot and at most about
 * `every` events, not the whole stream.
 *
 * One per service and event store; commands on one stream run one at a time per process (the
 * command handler queues them), and a stale entry is only ever a starting point for a read.
 */
export class StreamStates<State> {
  private readonly entries = new Map<string, Entry<State>>();

  constructor(
    private readonly policy: SnapshotPolicy<State> | undefined,
    private readonly options: { maxStreams?: number; enabled?: boolean } = {},
  ) {}

  /** The current state of a stream: cached state or snapshot, then the events after it. */
  async load<Event extends DomainEvent>(store: EventStore, decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>, streamName: string): Promise<LoadedState<State> & { snapshotRevision: number }> {
    const start = this.options.enabled === false ? undefined : (this.entries.get(streamName) ?? (await this.readSnapshot(store, streamName)));
    const from: Entry<State> = start ?? { state: decider.initialState(), revision: -1, snapshotRevision: -1 };
    const read = await store.readStream(streamName, { fromRevision: from.revision + 1 });
    const state = fold(
      decider,
      read.map((e) => ({ type: e.type, data: e.data }) as Event),
      from.state,
    );
    const revision = read.length > 0 ? read[read.length - 1]!.revision : from.revision;
    return { state, revision, read, snapshotRevision: from.snapshotRevision };
  }

  /**
   * Keeps `state` (at `revision`) for the next command on the stream and, when a snapshot is due,
   * writes one and keeps the bounded state it holds instead, so that this process decides on
   * exactly what a cold one reading the snapshot would. A failed snapshot write only means the
   * next one is tried at the next command.
   */
  async remember(store: EventStore, streamName: string, loaded: { state: State; revision: number; snapshotRevision: number }, metadata: EventMetadata): Promise<void> {
    if (this.options.enabled === false) return;
    let entry: Entry<State> = { state: loaded.state, revision: loaded.revision, snapshotRevision: loaded.snapshotRevision };
    const policy = this.policy;
    if (policy && loaded.revision >= 0 && loaded.revision - loaded.snapshotRevision >= policy.every) {
      const data: SnapshotData = { version: policy.version, revision: loaded.revision, state: policy.toSnapshot(loaded.state) };
      try {
        await store.appendToStream(policy.streamFor(streamName), [{ id: randomUUID(), type: policy.type, data, metadata }], { expectedRevision: 'any' });
        entry = { state: policy.fromSnapshot(data.state), revision: loaded.revision, snapshotRevision: loaded.revision };
      } catch {
        // The events are written; only the shortcut to them is not. The next command tries again.
      }
    }
    this.entries.delete(streamName); // re-inserted last: the Map's order is the LRU order
    this.entries.set(streamName, entry);
    const max = this.options.maxStreams ?? 1000;
    while (this.entries.size > max) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets the cached state of one stream (e.g. after an append of unknown outcome). */
  forget(streamName: string): void {
    this.entries.delete(streamName);
  }

  private async readSnapshot(store: EventStore, streamName: string): Promise<Entry<State> | undefined> {
    const policy = this.policy;
    if (!policy) return undefined;
    const last = await store.readLastEvent(policy.streamFor(streamName));
    if (!last || last.type !== policy.type) return undefined;
    const data = last.data as Partial<SnapshotData>;
    if (data.version !== policy.version || typeof data.revision !== 'number') return undefined;
    return { state: policy.fromSnapshot(data.state), revision: data.revision, snapshotRevision: data.revision };
  }
}
