import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../event-store/event-store.js';
import { FileEventStore } from '../event-store/file-event-store.js';
import { handleCommand, loadState } from './command-handler.js';
import type { Decider, DomainEvent } from './decider.js';
import { StreamStates, type SnapshotPolicy } from './stream-states.js';

type Added = DomainEvent<'Added', { n: number }>;
interface Tally {
  total: number;
  count: number;
}
const tally: Decider<{ add: number }, Added, Tally> = {
  decide: (command) => [{ type: 'Added', data: { n: command.add } }],
  evolve: (state, event) => ({ total: state.total + event.data.n, count: state.count + 1 }),
  initialState: () => ({ total: 0, count: 0 }),
};
const policy = (every: number, version = 1): SnapshotPolicy<Tally> => ({
  streamFor: (streamName) => `snapshot-${streamName}`,
  type: 'TallySnapshot',
  version,
  every,
  toSnapshot: (state) => state,
  fromSnapshot: (data) => data as Tally,
});
const context = () => ({ actor: 'test', correlationId: randomUUID(), now: new Date() });

/** Counts the events each read of the aggregate's streams returns. */
function counting(store: EventStore) {
  const reads: number[] = [];
  const counted: EventStore = {
    appendToStream: (streamName, events, options) => store.appendToStream(streamName, events, options),
    readStream: async (streamName, options) => {
      const events = await store.readStream(streamName, options);
      if (!streamName.startsWith('snapshot-')) reads.push(events.length);
      return events;
    },
    readLastEvent: (streamName) => store.readLastEvent(streamName),
    subscribeToAll: (options) => store.subscribeToAll(options),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
  return { store: counted, reads };
}

describe('StreamStates: cached and snapshotted states', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stream-states-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stream = () => `tally-${randomUUID()}`;

  it('reads only the events after the state it keeps, and sees what another process appended meanwhile', async () => {
    const events = await FileEventStore.open(dir, { fsync: false });
    try {
      const s = stream();
      const mine = counting(events);
      const states = new StreamStates(policy(1000));
      for (let i = 1; i <= 50; i++) await handleCommand(mine.store, tally, s, { add: i }, context(), { states });
      expect(mine.reads.slice(1).every((n) => n === 0)).toBe(true); // after the first command, nothing to read
      // Another process (its own states) appends three events.
      const other = new StreamStates(policy(1000));
      for (const add of [100, 200, 300]) await handleCommand(events, tally, s, { add }, context(), { states: other });
      mine.reads.length = 0;
      const result = await handleCommand(mine.store, tally, s, { add: 1 }, context(), { states });
      expect(mine.reads).toEqual([3]);
      expect(result.state).toEqual({ total: 1275 + 600 + 1, count: 54 });
      expect(result.revision).toBe(53);
    } finally {
      await events.close();
    }
  });

  it('starts a cold process from the newest snapshot: it reads at most `every` events, and decides as on the whole stream', async () => {
    const events = await FileEventStore.open(dir, { fsync: false });
    try {
      const s = stream();
      const writer = new StreamStates(policy(10));
      for (let i = 1; i <= 95; i++) await handleCommand(events, tally, s, { add: i }, context(), { states: writer });
      const snapshots = await events.readStream(`snapshot-${s}`);
      expect(snapshots.map((e) => (e.data as { revision: number }).revision)).toEqual([9, 19, 29, 39, 49, 59, 69, 79, 89]);
      expect(snapshots.every((e) => e.type === 'TallySnapshot')).toBe(true);
      expect(await events.readStream(s)).toHaveLength(95); // the aggregate's stream holds its events only

      const cold = counting(events);
      const state = await loadState(cold.store, tally, s, new StreamStates(policy(10)));
      expect(cold.reads).toEqual([5]); // revisions 90..94
      expect(state).toEqual(await loadState(events, tally, s));
      expect(state).toEqual({ total: (95 * 96) / 2, count: 95 });
    } finally {
      await events.close();
    }
  });

  it('writes a snapshot on the first command of a long stream that has none, and ignores a snapshot of another format version', async () => {
    const events = await FileEventStore.open(dir, { fsync: false });
    try {
      const s = stream();
      for (let i = 0; i < 30; i++) await handleCommand(events, tally, s, { add: 1 }, context());
      await handleCommand(events, tally, s, { add: 1 }, context(), { states: new StreamStates(policy(10)) });
      expect((await events.readLastEvent(`snapshot-${s}`))?.data).toMatchObject({ version: 1, revision: 30 });

      const cold = counting(events);
      const state = await loadState(cold.store, tally, s, new StreamStates(policy(10, 2)));
      expect(cold.reads).toEqual([31]); // version 2 does not read version 1: the whole stream
      expect(state).toEqual({ total: 31, count: 31 });
    } finally {
      await events.close();
    }
  });

  it('when disabled, reads and folds the whole stream on every command and writes no snapshot', async () => {
    const events = await FileEventStore.open(dir, { fsync: false });
    try {
      const s = stream();
      const mine = counting(events);
      const states = new StreamStates(policy(2), { enabled: false });
      for (let i = 0; i < 5; i++) await handleCommand(mine.store, tally, s, { add: 1 }, context(), { states });
      expect(mine.reads).toEqual([0, 1, 2, 3, 4]);
      expect(await events.readLastEvent(`snapshot-${s}`)).toBeUndefined();
    } finally {
      await events.close();
    }
  });

  it('keeps at most maxStreams states, the least recently used leaving first', async () => {
    const events = await FileEventStore.open(dir, { fsync: false });
    try {
      const [a, b, c] = [stream(), stream(), stream()];
      const mine = counting(events);
      const states = new StreamStates(policy(1000), { maxStreams: 2 });
      for (const s of [a, b, a, c]) await handleCommand(mine.store, tally, s, { add: 1 }, context(), { states }); // b leaves
      mine.reads.length = 0;
      await handleCommand(mine.store, tally, a, { add: 1 }, context(), { states });
      await handleCommand(mine.store, tally, b, { add: 1 }, context(), { states });
      expect(mine.reads).toEqual([0, 1]); // a from its state; b from the start
    } finally {
      await events.close();
    }
  });
});
