import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencyError } from '../errors.js';
import { noteAppended } from '../read-your-writes.js';
import type { EventMetadata, EventStore, NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { fold, type Decider, type DomainEvent } from './decider.js';
import type { StreamStates } from './stream-states.js';

/** Who and what caused a command; becomes every resulting event's metadata. */
export interface CommandContext {
  actor: string;
  correlationId: string;
  causationId?: string;
  /** When the command happened; deciders get time from the command, the handler from here. */
  now: Date;
}

export interface HandleResult<State, Event> {
  /** The state as read, before the command. */
  before: State;
  state: State;
  /** The events this command appended (empty when the decider decided nothing). */
  events: Event[];
  /**
   * The events read before deciding: the whole stream, or, with `states`, only those after the
   * cached or snapshotted state the command started from.
   */
  history: RecordedEvent[];
  /** Revision of the stream after the command; -1 if the stream still does not exist. */
  revision: number;
  position: number | undefined;
}

export interface RetryOptions {
  /** Attempts after the first on a concurrency conflict. */
  maxRetries?: number;
  baseDelayMs?: number;
}

export interface CommandOptions<State> extends RetryOptions {
  /** Cached and snapshotted states of the aggregate's streams: a command reads only newer events. */
  states?: StreamStates<State>;
}

export const SCHEMA_VERSION = 1;

const streamQueues = new WeakMap<EventStore, Map<string, Promise<unknown>>>();

/**
 * Runs `work` after every earlier command on the same stream in this process has finished, so
 * that writers in one process queue instead of conflicting (e.g. fifty reservations of one hot
 * product). Writers in other processes still meet at the expected revision.
 */
function queuedPerStream<T>(store: EventStore, streamName: string, work: () => Promise<T>): Promise<T> {
  let queues = streamQueues.get(store);
  if (!queues) streamQueues.set(store, (queues = new Map<string, Promise<unknown>>()));
  const previous = queues.get(streamName) ?? Promise.resolve();
  const result = previous.then(work, work);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  queues.set(streamName, settled);
  void settled.then(() => {
    if (queues.get(streamName) === settled) queues.delete(streamName);
  });
  return result;
}

/**
 * Read the stream, fold it, decide, append with the revision read. When another writer got
 * there first, re-read and re-decide, a bounded number of times with jittered backoff: the
 * decider sees the new state, so invariants (e.g. stock never below zero) still hold.
 */
export function handleCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  decider: Decider<Command, Event, State>,
  streamName: string,
  command: Command | ((state: State, revision: number) => Command),
  context: CommandContext,
  options: CommandOptions<State> = {},
): Promise<HandleResult<State, Event>> {
  return queuedPerStream(store, streamName, async () => {
    const maxRetries = options.maxRetries ?? 10;
    const states = options.states;
    const metadata: EventMetadata = {
      correlationId: context.correlationId,
      causationId: context.causationId ?? context.correlationId,
      actor: context.actor,
      occurredAt: context.now.toISOString(),
      schemaVersion: SCHEMA_VERSION,
    };
    for (let attempt = 0; ; attempt++) {
      const loaded = states ? await states.load(store, decider, streamName) : await readWhole(store, decider, streamName);
      const { state: before, revision, read } = loaded;
      const cmd = typeof command === 'function' ? (command as (s: State, r: number) => Command)(before, revision) : command;
      const events = decider.decide(cmd, before);
      if (events.length === 0) {
        await states?.remember(store, streamName, loaded, metadata);
        return { before, state: before, events, history: read, revision, position: undefined };
      }
      const envelopes: NewEvent[] = events.map((event) => ({ id: randomUUID(), type: event.type, data: event.data, metadata }));
      try {
        const result = await store.appendToStream(streamName, envelopes, { expectedRevision: revision < 0 ? 'no_stream' : revision });
        noteAppended(result.position); // the request being served answers with it (extensions.position: read-your-writes)
        const state = fold(decider, events, before);
        await states?.remember(store, streamName, { state, revision: result.nextRevision, snapshotRevision: loaded.snapshotRevision }, metadata);
        return { before, state, events, history: read, revision: result.nextRevision, position: result.position };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= maxRetries) throw error;
        const base = options.baseDelayMs ?? 5;
        await sleep(Math.random() * Math.min(200, base * 2 ** attempt));
      }
    }
  });
}

async function readWhole<Event extends DomainEvent, State>(store: EventStore, decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>, streamName: string) {
  const read = await store.readStream(streamName);
  return { state: fold(decider, read.map((e) => toDomainEvent<Event>(e))), revision: read.length - 1, read, snapshotRevision: -1 };
}

/** The current state of a stream, folded by its decider (from a cached or snapshotted state when given): a read, no command. */
export async function loadState<Event extends DomainEvent, State>(
  store: EventStore,
  decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>,
  streamName: string,
  states?: StreamStates<State>,
): Promise<State> {
  return (states ? await states.load(store, decider, streamName) : await readWhole(store, decider, streamName)).state;
}

export function toDomainEvent<Event extends DomainEvent>(recorded: RecordedEvent): Event {
  return { type: recorded.type, data: recorded.data } as Event;
}
