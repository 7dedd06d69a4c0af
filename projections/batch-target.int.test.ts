import { describe, expect, it } from 'vitest';
import type { Collection, Doc, DocumentStore, ManyWrite } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import type { RecordedEvent } from '../platform/event-store/event-store.js';
import { BatchTarget, DocumentMemory } from './batch-target.js';

interface Counter extends Doc {
  n: number;
}

/** The store, with every call a BatchTarget makes counted (the store under it stays real). */
function counted(store: DocumentStore) {
  const calls = { get: 0, getMany: 0, writes: [] as ManyWrite<Doc>[][] };
  const documents = Object.create(store) as DocumentStore;
  documents.collection = <T extends Doc>(name: string) => {
    const inner = store.collection<T>(name);
    return {
      ...inner,
      get: (id: string) => (calls.get++, inner.get(id)),
      getMany: (ids: readonly string[]) => (calls.getMany++, inner.getMany(ids)),
      writeManyIfNewer: (writes: readonly ManyWrite<T>[]) => (calls.writes.push(writes as unknown as ManyWrite<Doc>[]), inner.writeManyIfNewer(writes)),
    } as Collection<T>;
  };
  return { documents, calls };
}

/** A projection counting events per id, as a read model would. */
const counting = {
  handles: () => true,
  documents: (event: RecordedEvent) => [{ collection: 'counters', id: event.streamName }],
  async apply(event: RecordedEvent, target: BatchTarget) {
    const counters = target.collection<Counter>('counters');
    const before = await counters.get(event.streamName);
    await counters.upsertIfNewer({ _id: event.streamName, n: (before?.n ?? 0) + 1 }, event.position);
  },
};
let position = 0;
const event = (stream: string) => ({ id: `e${++position}`, position, streamName: stream, type: 'Counted', data: {}, metadata: {} }) as unknown as RecordedEvent;

describe('BatchTarget: reads at once, reads nothing it knows, tells the store what is stored', () => {
  it('prefetches a batch in one getMany, remembers what it wrote for the next batch, and passes what is stored to the flush', async () => {
    const store = new MemoryDocumentStore();
    const { documents, calls } = counted(store);
    const memory = new DocumentMemory();
    const first = [...'abcdefghij'].map((s) => event(s));
    let target = BatchTarget.over(documents, memory);
    await target.prefetch(counting, first);
    for (const e of first) await counting.apply(e, target);
    await target.flush();
    expect(calls).toMatchObject({ get: 0, getMany: 1 });
    expect(calls.writes[0]!.every((w) => w.stored === null)).toBe(true); // known absent: inserted without a read

    const second = [...'abcdefghij', ...'abc'].map((s) => event(s));
    target = BatchTarget.over(documents, memory);
    await target.prefetch(counting, second);
    for (const e of second) await counting.apply(e, target);
    await target.flush();
    expect(calls).toMatchObject({ get: 0, getMany: 1 }); // all known from the first flush
    expect(calls.writes[1]!.find((w) => w.id === 'a')).toMatchObject({ stored: first[0]!.position, doc: { n: 3 } });
    expect((await store.collection<Counter>('counters').get('a'))?.n).toBe(3);
  });

  it('forgets a collection whose flush applied less than it sent (another writer got in) and reads it again', async () => {
    const store = new MemoryDocumentStore();
    const { documents, calls } = counted(store);
    const memory = new DocumentMemory();
    let target = BatchTarget.over(documents, memory);
    await counting.apply(event('x'), target);
    await target.flush();
    // Another writer stores a newer state: the guard keeps it, and the memory is dropped.
    await store.collection<Counter>('counters').upsertIfNewer({ _id: 'x', n: 100 }, position + 1000);
    target = BatchTarget.over(documents, memory);
    await counting.apply(event('x'), target);
    await target.flush();
    expect((await store.collection<Counter>('counters').get('x'))?.n).toBe(100);
    const gets = calls.get;
    target = BatchTarget.over(documents, memory);
    await counting.apply(event('x'), target);
    expect(calls.get).toBe(gets + 1); // not known any more: read from the store
  });

  it('keeps at most its limit of documents per collection, forgetting the least recently written', () => {
    const memory = new DocumentMemory(3);
    for (const id of ['a', 'b', 'c', 'a', 'd']) memory.remember('c', id, { _id: id });
    expect([...memory.of('c').keys()]).toEqual(['c', 'a', 'd']);
  });
});
