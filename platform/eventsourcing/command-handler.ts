import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConcurrencyError } from '../errors.js';
import type { EventStore, NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { fold, type Decider, type DomainEvent } from './decider.js';

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
  /** The stream as it was read before deciding. */
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
  options: RetryOptions = {},
): Promise<HandleResult<State, Event>> {
  return queuedPerStream(store, streamName, async () => {
    const maxRetries = options.maxRetries ?? 10;
    for (let attempt = 0; ; attempt++) {
      const recorded = await store.readStream(streamName);
      const before = fold(decider, recorded.map((e) => toDomainEvent<Event>(e)));
      const revision = recorded.length - 1;
      const cmd = typeof command === 'function' ? (command as (s: State, r: number) => Command)(before, revision) : command;
      const events = decider.decide(cmd, before);
      if (events.length === 0) return { before, state: before, events, history: recorded, revision, position: undefined };
      const envelopes: NewEvent[] = events.map((event) => ({
        id: randomUUID(),
        type: event.type,
        data: event.data,
        metadata: {
          correlationId: context.correlationId,
          causationId: context.causationId ?? context.correlationId,
          actor: context.actor,
          occurredAt: context.now.toISOString(),
          schemaVersion: SCHEMA_VERSION,
        },
      }));
      try {
        const result = await store.appendToStream(streamName, envelopes, { expectedRevision: revision < 0 ? 'no_stream' : revision });
        return { before, state: fold(decider, events, before), events, history: recorded, revision: result.nextRevision, position: result.position };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= maxRetries) throw error;
        const base = options.baseDelayMs ?? 5;
        await sleep(Math.random() * Math.min(200, base * 2 ** attempt));
      }
    }
  });
}

/** The current state of a stream, folded by its decider: a read, no command. */
export async function loadState<Event extends DomainEvent, State>(store: EventStore, decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>, streamName: string): Promise<State> {
  return fold(decider, (await store.readStream(streamName)).map((e) => toDomainEvent<Event>(e)));
}

export function toDomainEvent<Event extends DomainEvent>(recorded: RecordedEvent): Event {
  return { type: recorded.type, data: recorded.data } as Event;
}
