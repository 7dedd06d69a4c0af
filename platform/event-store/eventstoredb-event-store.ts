import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { ConcurrencyError, InfrastructureError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { describeExpected, type AllSubscription, type AppendResult, type EventMetadata, type EventStore, type ExpectedRevision, type NewEvent, type RecordedEvent, type SubscribeFrom } from './event-store.js';

/*
 * The EventStore port on EventStoreDB / KurrentDB with @eventstore/db-client (6.2.1, the last
 * release under that name). Everything driver-specific lives in this one file, so moving to
 * @kurrent/kurrentdb-client is a change here only. Positions are commit positions (as numbers:
 * exact up to 2^53 bytes of log).
 */

function toExpected(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'any':
      return ANY;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
}

function toRecorded(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event || !event.isJson) return undefined;
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata as unknown as EventMetadata,
    streamName: event.streamId,
    revision: Number(event.revision),
    position: Number(event.position?.commit ?? 0n),
    recordedAt: (event.created instanceof Date ? event.created : new Date(Number(event.created) / 10_000)).toISOString(),
  };
}

export class EventStoreDBEventStore implements EventStore {
  private constructor(private readonly client: EventStoreDBClient) {}

  static async connect(url: string): Promise<EventStoreDBEventStore> {
    let client: EventStoreDBClient;
    try {
      client = EventStoreDBClient.connectionString(url);
      await Promise.race([
        (async () => {
          for await (const _ of client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) break;
        })(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref()),
      ]);
    } catch (error) {
      throw new InfrastructureError('eventstore', redactUrl(url), `cannot connect (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    return new EventStoreDBEventStore(client);
  }

  async appendToStream(streamName: string, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    try {
      const result = await this.client.appendToStream(
        streamName,
        events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data as Record<string, unknown>, metadata: e.metadata as unknown as Record<string, unknown> })),
        { expectedRevision: toExpected(options.expectedRevision) },
      );
      return { nextRevision: Number(result.nextExpectedRevision), position: Number(result.position?.commit ?? 0n) };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = error.actualVersion;
        throw new ConcurrencyError(streamName, describeExpected(options.expectedRevision), typeof actual === 'bigint' ? `revision ${actual}` : String(actual));
      }
      throw error;
    }
  }

  async readStream(streamName: string, options: { fromRevision?: number } = {}): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamName, { direction: FORWARDS, fromRevision: options.fromRevision ? BigInt(options.fromRevision) : START })) {
        const recorded = toRecorded(resolved);
        if (recorded) events.push(recorded);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async readLastEvent(streamName: string): Promise<RecordedEvent | undefined> {
    try {
      for await (const resolved of this.client.readStream(streamName, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        const recorded = toRecorded(resolved);
        if (recorded) return recorded;
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    return undefined;
  }

  subscribeToAll(options: { from: SubscribeFrom }): AllSubscription {
    const from = options.from === 'start' ? START : { commit: BigInt(options.from.after), prepare: BigInt(options.from.after) };
    const subscription = this.client.subscribeToAll({ fromPosition: from, filter: excludeSystemEvents() });
    async function* iterate(): AsyncGenerator<RecordedEvent> {
      for await (const resolved of subscription) {
        const recorded = toRecorded(resolved);
        if (recorded) yield recorded;
      }
    }
    const iterator = iterate();
    return {
      [Symbol.asyncIterator]: () => iterator,
      close: async () => {
        await subscription.unsubscribe();
        await iterator.return(undefined);
      },
    };
  }

  async headPosition(): Promise<number> {
    // The newest non-system event ($all also holds the server's own $-prefixed events).
    for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 10_000 })) {
      if (resolved.event && !resolved.event.type.startsWith('$')) return Number(resolved.event.position.commit);
    }
    return 0;
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}
