import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrencyError } from '../errors.js';
import type { EventStore, NewEvent, RecordedEvent } from './event-store.js';

/**
 * The one contract every EventStore adapter passes. `open` returns a store over the SAME data
 * each time it is called (a second call after closing the first is "a restart").
 * Stream names are fresh per test, so the suite can run against a shared, non-empty server.
 */
export function eventStoreContract(name: string, open: () => Promise<EventStore>): void {
  describe(`EventStore contract: ${name}`, () => {
    const opened: EventStore[] = [];
    const fresh = async () => {
      const store = await open();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    const stream = () => `test-${randomUUID()}`;
    const event = (type = 'SomethingHappened', data: unknown = { n: 1 }): NewEvent => ({
      id: randomUUID(),
      type,
      data,
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 },
    });

    it('reads a stream that does not exist as empty', async () => {
      const store = await fresh();
      expect(await store.readStream(stream())).toEqual([]);
    });

    it('appends to a new stream with no_stream and reads events back in order with revisions', async () => {
      const store = await fresh();
      const s = stream();
      const events = [event('A', { a: 1 }), event('B', { b: [1, 2] })];
      const result = await store.appendToStream(s, events, { expectedRevision: 'no_stream' });
      expect(result.nextRevision).toBe(1);
      const read = await store.readStream(s);
      expect(read.map((e) => [e.id, e.type, e.data, e.revision, e.streamName])).toEqual([
        [events[0]!.id, 'A', { a: 1 }, 0, s],
        [events[1]!.id, 'B', { b: [1, 2] }, 1, s],
      ]);
      expect(read[0]!.metadata).toEqual(events[0]!.metadata);
      expect(read[1]!.position).toBeGreaterThan(read[0]!.position);
      expect(result.position).toBe(read[1]!.position);
    });

    it('rejects no_stream when the stream exists, with a ConcurrencyError naming both revisions', async () => {
      const store = await fresh();
      const s = stream();
      await store.appendToStream(s, [event()], { expectedRevision: 'no_stream' });
      const error = await store.appendToStream(s, [event()], { expectedRevision: 'no_stream' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect((error as ConcurrencyError).code).toBe('VERSION_CONFLICT');
      expect((error as ConcurrencyError).streamName).toBe(s);
      expect(await store.readStream(s)).toHaveLength(1);
    });

    it('appends at the exact expected revision and rejects a stale one without writing', async () => {
      const store = await fresh();
      const s = stream();
      await store.appendToStream(s, [event(), event()], { expectedRevision: 'no_stream' });
      await store.appendToStream(s, [event()], { expectedRevision: 1 });
      await expect(store.appendToStream(s, [event()], { expectedRevision: 1 })).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.appendToStream(stream(), [event()], { expectedRevision: 0 })).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await store.readStream(s)).map((e) => e.revision)).toEqual([0, 1, 2]);
    });

    it('honours any and stream_exists', async () => {
      const store = await fresh();
      const s = stream();
      await expect(store.appendToStream(s, [event()], { expectedRevision: 'stream_exists' })).rejects.toBeInstanceOf(ConcurrencyError);
      await store.appendToStream(s, [event()], { expectedRevision: 'any' });
      await store.appendToStream(s, [event()], { expectedRevision: 'any' });
      await store.appendToStream(s, [event()], { expectedRevision: 'stream_exists' });
      expect(await store.readStream(s)).toHaveLength(3);
    });

    it('treats a retried append of the same event ids as a no-op', async () => {
      const store = await fresh();
      const s = stream();
      const events = [event(), event()];
      const first = await store.appendToStream(s, events, { expectedRevision: 'no_stream' });
      const again = await store.appendToStream(s, events, { expectedRevision: 'no_stream' });
      expect(again.nextRevision).toBe(first.nextRevision);
      expect(await store.readStream(s)).toHaveLength(2);
    });

    it('lets exactly one of many concurrent writers at the same revision win', async () => {
      const store = await fresh();
      const s = stream();
      await store.appendToStream(s, [event()], { expectedRevision: 'no_stream' });
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.appendToStream(s, [event()], { expectedRevision: 0 })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConcurrencyError);
      expect(await store.readStream(s)).toHaveLength(2);
    });

    it('reads a stream from a revision', async () => {
      const store = await fresh();
      const s = stream();
      await store.appendToStream(s, [event(), event(), event()], { expectedRevision: 'no_stream' });
      expect((await store.readStream(s, { fromRevision: 1 })).map((e) => e.revision)).toEqual([1, 2]);
    });

    it('reads the last event of a stream, and nothing of a stream that does not exist', async () => {
      const store = await fresh();
      const s = stream();
      expect(await store.readLastEvent(s)).toBeUndefined();
      const events = [event('A'), event('B'), event('C', { c: 3 })];
      await store.appendToStream(s, events, { expectedRevision: 'no_stream' });
      const last = await store.readLastEvent(s);
      expect(last && [last.id, last.type, last.data, last.revision, last.streamName]).toEqual([events[2]!.id, 'C', { c: 3 }, 2, s]);
      await store.appendToStream(s, [event('D')], { expectedRevision: 2 });
      expect((await store.readLastEvent(s))?.type).toBe('D');
    });

    it('subscribes to all: catches up from a position, then delivers live events, in position order', async () => {
      const store = await fresh();
      const s1 = stream();
      const s2 = stream();
      const before = await store.headPosition();
      await store.appendToStream(s1, [event('One')], { expectedRevision: 'no_stream' });
      await store.appendToStream(s2, [event('Two')], { expectedRevision: 'no_stream' });
      const subscription = store.subscribeToAll({ from: { after: before } });
      const seen: RecordedEvent[] = [];
      const done = (async () => {
        for await (const e of subscription) {
          if (e.streamName !== s1 && e.streamName !== s2) continue;
          seen.push(e);
          if (seen.length === 4) break;
        }
      })();
      await store.appendToStream(s1, [event('Three')], { expectedRevision: 0 });
      await store.appendToStream(s2, [event('Four')], { expectedRevision: 0 });
      await done;
      await subscription.close();
      expect(seen.map((e) => e.type)).toEqual(['One', 'Two', 'Three', 'Four']);
      const positions = seen.map((e) => e.position);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      expect(positions[0]).toBeGreaterThan(before);
    });

    it('resumes a subscription after a stored position without repeating or skipping', async () => {
      const store = await fresh();
      const s = stream();
      const before = await store.headPosition();
      await store.appendToStream(s, [event('A'), event('B'), event('C')], { expectedRevision: 'no_stream' });
      const all = await store.readStream(s);
      const subscription = store.subscribeToAll({ from: { after: all[0]!.position } });
      const seen: string[] = [];
      for await (const e of subscription) {
        if (e.streamName !== s) continue;
        seen.push(e.type);
        if (seen.length === 2) break;
      }
      await subscription.close();
      expect(seen).toEqual(['B', 'C']);
      expect(all[0]!.position).toBeGreaterThan(before);
    });

    it('hands out the events at hand at once, when it offers to (takeReady), without repeating them in the iteration', async (context) => {
      const store = await fresh();
      const probe = store.subscribeToAll({ from: 'start' });
      const offered = probe.takeReady !== undefined;
      await probe.close();
      if (!offered) {
        context.skip(`${name} does not offer takeReady (the projector iterates it instead)`);
        return;
      }
      const s = stream();
      const from = await store.headPosition();
      await store.appendToStream(s, [event('A'), event('B'), event('C'), event('D')], { expectedRevision: 'no_stream' });
      const subscription = store.subscribeToAll({ from: { after: from } });
      const iterator = subscription[Symbol.asyncIterator]();
      const seen = [((await iterator.next()).value as RecordedEvent).type, ...subscription.takeReady!(2).map((e) => e.type)];
      seen.push(((await iterator.next()).value as RecordedEvent).type);
      expect(subscription.takeReady!(10)).toEqual([]); // nothing more at hand: the next one is waited for
      const later = iterator.next();
      await store.appendToStream(s, [event('E')], { expectedRevision: 3 });
      seen.push(((await later).value as RecordedEvent).type);
      await subscription.close();
      expect(seen).toEqual(['A', 'B', 'C', 'D', 'E']);
    });

    it('advances headPosition with every append', async () => {
      const store = await fresh();
      const before = await store.headPosition();
      const { position } = await store.appendToStream(stream(), [event()], { expectedRevision: 'no_stream' });
      expect(position).toBeGreaterThan(before);
      expect(await store.headPosition()).toBeGreaterThanOrEqual(position);
    });

    it('keeps every acknowledged event across a restart', async () => {
      const first = await open();
      const s = stream();
      const events = [event('A'), event('B')];
      await first.appendToStream(s, events, { expectedRevision: 'no_stream' });
      await first.close();
      const second = await fresh();
      expect((await second.readStream(s)).map((e) => e.id)).toEqual(events.map((e) => e.id));
      await second.appendToStream(s, [event('C')], { expectedRevision: 1 });
      expect(await second.readStream(s)).toHaveLength(3);
    });
  });
}
