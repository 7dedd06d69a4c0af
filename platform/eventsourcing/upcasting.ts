import type { AllSubscription, EventStore, NewEvent, RecordedEvent } from '../event-store/event-store.js';

/**
 * Event versioning. Every event carries the version of its type's schema in
 * `metadata.schemaVersion`; a type whose shape changed declares its current version and, for each
 * older version, how an event of that version becomes one of the next (an upcaster: a pure
 * function of the data). Events are upcast when they are read, so deciders and projections only
 * ever see the current shape, and a stream written by an earlier release stays readable. Nothing
 * stored is rewritten.
 */
export interface EventSchema {
  /** The version written now (1 for a type that never changed). */
  version: number;
  /** `upcasters[v]` turns the data of version `v` into version `v + 1`. */
  upcasters: Readonly<Record<number, (data: Record<string, unknown>) => Record<string, unknown>>>;
}

/** Schemas by event type; a type not listed is at version 1 and never upcast. */
export type EventSchemas = Readonly<Record<string, EventSchema>>;

export class UnknownSchemaVersionError extends Error {
  constructor(
    readonly type: string,
    readonly version: number,
    readonly current: number,
  ) {
    super(`event type ${type} has no upcaster from schema version ${version} (current: ${current}): a release that reads this log must know every version it holds`);
    this.name = 'UnknownSchemaVersionError';
  }
}

/** The version an event of `type` is written with now. */
export function schemaVersionOf(schemas: EventSchemas, type: string): number {
  return schemas[type]?.version ?? 1;
}

/**
 * The event in its type's current shape: upcast one version at a time from the version it was
 * written with (the same object when it is current). An event written by a newer release than
 * this one is returned as it is: it is a newer shape, not an older one to convert.
 */
export function upcastEvent(schemas: EventSchemas, event: RecordedEvent): RecordedEvent {
  const schema = schemas[event.type];
  const written = event.metadata.schemaVersion ?? 1;
  if (!schema || written >= schema.version) return event;
  let data = event.data as Record<string, unknown>;
  for (let version = written; version < schema.version; version++) {
    const upcast = schema.upcasters[version];
    if (!upcast) throw new UnknownSchemaVersionError(event.type, version, schema.version);
    data = upcast(data);
  }
  return { ...event, data, metadata: { ...event.metadata, schemaVersion: schema.version } };
}

/**
 * An event store whose readers see every event in its current shape (readStream, readLastEvent,
 * subscribeToAll, takeReady) and whose writers stamp each event with its type's current version.
 */
export function versionedEventStore(store: EventStore, schemas: EventSchemas): EventStore {
  const up = (event: RecordedEvent) => upcastEvent(schemas, event);
  const stamp = (event: NewEvent): NewEvent => {
    const version = schemaVersionOf(schemas, event.type);
    return event.metadata.schemaVersion === version ? event : { ...event, metadata: { ...event.metadata, schemaVersion: version } };
  };
  return {
    appendToStream: (streamName, events, options) => store.appendToStream(streamName, events.map(stamp), options),
    readStream: async (streamName, options) => (await store.readStream(streamName, options)).map(up),
    readLastEvent: async (streamName) => {
      const last = await store.readLastEvent(streamName);
      return last && up(last);
    },
    subscribeToAll: (options) => {
      const subscription = store.subscribeToAll(options);
      const iterator = subscription[Symbol.asyncIterator]();
      const upcasting: AllSubscription = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const result = await iterator.next();
            return result.done ? result : { done: false, value: up(result.value) };
          },
          return: async () => {
            await subscription.close();
            return { done: true, value: undefined };
          },
        }),
        close: () => subscription.close(),
      };
      const takeReady = subscription.takeReady?.bind(subscription);
      if (takeReady) upcasting.takeReady = (max) => takeReady(max).map(up);
      return upcasting;
    },
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
}
