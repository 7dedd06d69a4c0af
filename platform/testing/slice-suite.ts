import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Projection } from '../../projections/projection.js';
import { Projector } from '../../projections/projector.js';
import type { Bus, BusObserver, DeliveredMessage } from '../bus/bus.js';
import { MemoryCache } from '../cache/memory-cache.js';
import type { DocumentStore } from '../documents/document-store.js';
import { FileEventStore } from '../event-store/file-event-store.js';
import { createLogger, type Logger } from '../logging.js';
import { createMetrics, serviceRegistry } from '../metrics/metrics.js';
import type { ServicePorts } from '../ports.js';
import { MemoryPubSub } from '../pubsub/memory-pubsub.js';
import { eventually } from './eventually.js';
import { readAllEvents, type OpenBus, type OpenDocuments } from './suite-stores.js';
import { readModelDigest, type ReadModelDigest } from './read-model-hash.js';

/** Counts the messages each consumer group handled, by message id (a redelivery counts again), and its dead letters. */
export class HandledCounter implements BusObserver {
  private readonly handled = new Map<string, number>();
  consumed(topic: string, groupId: string, outcome: 'ok' | 'retry' | 'dead_letter', messageId: string): void {
    for (const key of [`${topic}|${groupId}|${outcome}`, `${topic}|${groupId}|${outcome}|${messageId}`]) this.handled.set(key, (this.handled.get(key) ?? 0) + 1);
  }
  deadLetters(topic: string, groupId: string): number {
    return this.handled.get(`${topic}|${groupId}|dead_letter`) ?? 0;
  }
  /** How often the group handled this message successfully (a redelivery counts too). */
  times(topic: string, groupId: string, messageId: string): number {
    return this.handled.get(`${topic}|${groupId}|ok|${messageId}`) ?? 0;
  }
}

/** Starts a projector for each projection, checkpointing after every batch (a test reads positions at once). */
export async function startTestProjectors(projections: readonly Projection[], ports: ServicePorts): Promise<Projector[]> {
  const projectors = projections.map((p) => new Projector(p, ports, { checkpointEveryMs: 0 }));
  for (const p of projectors) await p.start();
  return projectors;
}

/**
 * What a slice's integration test runs on: a file event store in a folder of its own, the
 * suite's bus (counting what each group handled) and document store, ports around them, and a
 * consumer collecting every message on the topics the test redelivers later.
 */
export interface SliceSuite {
  events: FileEventStore;
  bus: Bus;
  documents: DocumentStore;
  ports: ServicePorts;
  logger: Logger;
  counter: HandledCounter;
  /** Every message on the collected topics, once each (by id), in the order first delivered. */
  collected: DeliveredMessage[];
  /** `stop` runs when the test ends: what is added last stops first (the saga, consumers, a dispatcher). */
  onClose(stop: () => Promise<void>): void;
  /** Starts the projections' projectors (startTestProjectors), stopped when the test ends. */
  startProjectors(projections: readonly Projection[]): Promise<Projector[]>;
}

/**
 * Runs `test` on a SliceSuite named `name` (its logger, metrics registry and folder), then stops
 * what it added (last added first), the collector, the bus and the event store, drops the
 * documents and removes the folder. Every stop runs; a failure of the clean-up is thrown, with
 * the test's own failure where both failed.
 */
export async function withSliceSuite<T>(name: string, stores: { openBus: OpenBus; openDocuments: OpenDocuments }, collect: readonly string[], test: (suite: SliceSuite) => Promise<T>): Promise<T> {
  const stops: (() => Promise<void>)[] = [];
  const onClose = (stop: () => Promise<void>) => void stops.push(stop);
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  onClose(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  let outcome: { value: T } | { error: unknown };
  try {
    const counter = new HandledCounter();
    const events = await FileEventStore.open(dir, { fsync: false });
    onClose(() => events.close());
    const bus = await stores.openBus(counter);
    onClose(() => bus.close());
    const { documents, drop } = await stores.openDocuments();
    onClose(drop);
    const collected: DeliveredMessage[] = [];
    const collector = await bus.consume({
      groupId: `collect-${randomUUID()}`,
      topics: collect,
      handler: (m) => {
        if (!collected.some((x) => x.id === m.id)) collected.push(m);
        return Promise.resolve();
      },
    });
    onClose(() => collector.close());
    const logger = createLogger(name, 'silent');
    const ports: ServicePorts = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: createMetrics(serviceRegistry(name, { processMetrics: false })), logger };
    const startProjectors = async (projections: readonly Projection[]) => {
      const projectors = await startTestProjectors(projections, ports);
      onClose(async () => {
        for (const p of projectors) await p.stop();
      });
      return projectors;
    };
    outcome = { value: await test({ events, bus, documents, ports, logger, counter, collected, onClose, startProjectors }) };
  } catch (error) {
    outcome = { error };
  }
  const cleanUpFailures: unknown[] = [];
  for (const stop of stops.reverse()) await stop().catch((error: unknown) => void cleanUpFailures.push(error));
  if ('error' in outcome) throw cleanUpFailures.length ? new AggregateError([outcome.error, ...cleanUpFailures], `the test failed (${String(outcome.error)}), and so did its clean-up`) : outcome.error;
  if (cleanUpFailures.length) throw cleanUpFailures[0];
  return outcome.value;
}

/**
 * Waits until each collected message `mine` keeps has been handled by the consumer group
 * `groupOf` names for its topic (so that a redelivery is told apart from a first delivery).
 */
export async function expectCollectedHandled(suite: Pick<SliceSuite, 'collected' | 'counter'>, groupOf: (topic: string) => string, mine: (m: DeliveredMessage) => boolean = () => true): Promise<void> {
  const { collected, counter } = suite;
  await eventually(() => expect(collected.filter(mine).filter((m) => counter.times(m.topic, groupOf(m.topic), m.id) === 0).map((m) => m.type)).toEqual([]), 60_000);
}

/**
 * Publishes every collected message `mine` keeps again (topic by topic, in the order given) and
 * waits until each has been handled again by the consumer group `groupOf` names: what a test
 * checks next (nothing appended, no read model changed) is the effect of redelivering them all.
 */
export async function redeliverCollected(suite: Pick<SliceSuite, 'bus' | 'collected' | 'counter'>, groupOf: (topic: string) => string, topics: readonly string[], mine: (m: DeliveredMessage) => boolean = () => true): Promise<void> {
  const { bus, collected, counter } = suite;
  const handled = (m: DeliveredMessage) => counter.times(m.topic, groupOf(m.topic), m.id);
  const before = new Map(collected.map((m) => [m.id, handled(m)]));
  for (const topic of topics) {
    await bus.publish(topic, collected.filter((m) => m.topic === topic && mine(m)).map(({ id, key, type, value, headers }) => ({ id, key, type, value, ...(headers && { headers }) })));
  }
  await eventually(() => expect(collected.filter(mine).filter((m) => handled(m) <= before.get(m.id)!).map((m) => m.type)).toEqual([]), 60_000);
}

/** Applying every event up to `head` again (at-least-once delivery, a replay) changes no document of `projections`. */
export async function expectReapplyChangesNothing(events: FileEventStore, documents: DocumentStore, projections: readonly Projection[], head: number): Promise<void> {
  const all = (await readAllEvents(events)).filter((e) => e.position <= head);
  for (const projection of projections) {
    for (const e of all.filter((x) => projection.handles(x))) expect((await projection.apply(e, { collection: (n) => documents.collection(n) })).changed).toBe(false);
  }
}

/** A rebuild of every projector from the first event (what `npm run replay` starts) ends in the read models `live` describes. */
export async function expectRebuildMatches(projectors: readonly Projector[], documents: DocumentStore, projections: readonly Projection[], live: ReadModelDigest): Promise<void> {
  for (const p of projectors) expect((await p.rebuild()).state).toBe('done');
  const rebuilt = await readModelDigest(documents, projections);
  expect(rebuilt.collections.map((x) => [x.collection, x.count])).toEqual(live.collections.map((x) => [x.collection, x.count]));
  expect(rebuilt.hash).toBe(live.hash);
}
