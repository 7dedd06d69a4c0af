import { copyDocument } from '../platform/documents/copy.js';
import type { Collection, Doc, DocumentStore, Filter, FindOptions, ManyWrite, Page } from '../platform/documents/document-store.js';
import type { RecordedEvent } from '../platform/event-store/event-store.js';
import type { Projection, ProjectionTarget } from './projection.js';

interface PendingWrite {
  doc: Doc | null;
  position: number;
}

/** What is stored, per id (null: no document), as last read or written. */
type Known = Map<string, Doc | null>;

/**
 * What a projector remembers of its documents between batches, per collection, up to `limit`
 * documents each (the least recently written forgotten first). A projection is deterministic and
 * applies every event in order, so what its last flush wrote is what is stored, until another
 * version of the collection is switched in (the projector then starts with a new memory).
 */
export class DocumentMemory {
  private readonly collections = new Map<string, Known>();

  constructor(private readonly limit = 20_000) {}

  of(collection: string): Known {
    let known = this.collections.get(collection);
    if (!known) this.collections.set(collection, (known = new Map<string, Doc | null>()));
    return known;
  }

  /** Remembers `id` as stored (moved to the most recent end). */
  remember(collection: string, id: string, doc: Doc | null): void {
    const known = this.of(collection);
    known.delete(id);
    known.set(id, doc);
    if (known.size > this.limit) known.delete(known.keys().next().value!);
  }

  forget(collection: string): void {
    this.collections.delete(collection);
  }
}

/**
 * A write-behind view of the target collections for one batch of events: reads see the batch's
 * own writes, every document is written once per batch (the last state wins, with the position of
 * the last event applied to it), in a few round trips per collection. Catching up or replaying a
 * stream of events touching the same documents then costs a fraction of the writes.
 *
 * Reads: `prefetch` reads the documents a batch will touch (as the projection's `documents`
 * names them) many at a time before it is applied, instead of one round trip each as `apply`
 * asks; with a `DocumentMemory`, documents the previous batches wrote are not read again. A flush
 * tells the store what is stored (`stored`), so it reads nothing either; its writes stay guarded
 * by position on the server all the same.
 */
export class BatchTarget implements ProjectionTarget {
  private readonly pending = new Map<string, Map<string, PendingWrite>>();
  /** Read from the store by this batch: its answer. */
  private readonly loaded = new Map<string, Known>();

  /**
   * @param flushOrder the order in which `flush` writes collections (the projection's
   *   `flushOrder`): those it names go last, in its order; the others first, in the order the
   *   batch first touched them.
   */
  constructor(
    private readonly resolve: (name: string) => Collection<Doc>,
    private readonly memory?: DocumentMemory,
    private readonly flushOrder?: readonly string[],
  ) {}

  static over(documents: DocumentStore, memory?: DocumentMemory, flushOrder?: readonly string[]): BatchTarget {
    return new BatchTarget((name) => documents.collection(name), memory, flushOrder);
  }

  private maps(name: string): { writes: Map<string, PendingWrite>; reads: Known } {
    let writes = this.pending.get(name);
    if (!writes) this.pending.set(name, (writes = new Map<string, PendingWrite>()));
    let reads = this.loaded.get(name);
    if (!reads) this.loaded.set(name, (reads = new Map<string, Doc | null>()));
    return { writes, reads };
  }

  /** What is stored before this batch's writes, if known without asking the store. */
  private stored(name: string, id: string): Doc | null | undefined {
    const reads = this.loaded.get(name);
    if (reads?.has(id)) return reads.get(id);
    return this.memory?.of(name).get(id);
  }

  /** Reads what these events will make `projection.apply` read and is not known yet, many at a time. */
  async prefetch(projection: Pick<Projection, 'documents' | 'handles'>, events: readonly RecordedEvent[]): Promise<void> {
    if (!projection.documents) return;
    const wanted = new Map<string, Set<string>>();
    for (const event of events) {
      if (!projection.handles(event)) continue;
      for (const { collection, id } of projection.documents(event)) {
        if (this.pending.get(collection)?.has(id) || this.stored(collection, id) !== undefined) continue;
        let ids = wanted.get(collection);
        if (!ids) wanted.set(collection, (ids = new Set()));
        ids.add(id);
      }
    }
    for (const [collection, ids] of wanted) {
      const list = [...ids];
      const found = new Map((await this.resolve(collection).getMany(list)).map((d) => [d._id, d]));
      const { reads } = this.maps(collection);
      for (const id of list) reads.set(id, found.get(id) ?? null);
    }
  }

  /** One handle per collection for the batch (projections ask for it with every event). */
  private readonly handles = new Map<string, Collection<Doc>>();

  collection<T extends Doc>(name: string): Collection<T> {
    let handle = this.handles.get(name);
    if (!handle) this.handles.set(name, (handle = this.open(name)));
    return handle as Collection<T>;
  }

  private open(name: string): Collection<Doc> {
    const underlying = this.resolve(name);
    const { writes: w, reads: r } = this.maps(name);
    const current = async (id: string): Promise<Doc | null> => {
      const write = w.get(id);
      if (write) return write.doc === null ? null : { ...write.doc, _position: write.position };
      const known = this.stored(name, id);
      if (known !== undefined) return known;
      const doc = (await underlying.get(id)) ?? null;
      r.set(id, doc);
      return doc;
    };
    const storedPosition = (doc: Doc | null) => doc?._position ?? -1;
    const collection: Collection<Doc> = {
      get: async (id) => (await current(id)) ?? undefined,
      getMany: async (ids) => (await Promise.all(ids.map(current))).filter((d): d is Doc => d !== null),
      upsertIfNewer: async (doc, position) => {
        if (storedPosition(await current(doc._id)) >= position) return false;
        w.set(doc._id, { doc: copyDocument(doc), position });
        return true;
      },
      deleteIfNewer: async (id, position) => {
        const existing = await current(id);
        if (!existing || storedPosition(existing) >= position) return false;
        w.set(id, { doc: null, position });
        return true;
      },
      writeManyIfNewer: async (many) => {
        let applied = 0;
        for (const { id, doc, position } of many) {
          if (doc ? await collection.upsertIfNewer(doc, position) : await collection.deleteIfNewer(id, position)) applied++;
        }
        return applied;
      },
      // A compare-and-set needs the store's answer now: it is not batched.
      replaceIf: (doc, position, expected) => underlying.replaceIf(doc, position, expected),
      // Queries see only what is flushed; projections look documents up by id.
      find: (options: FindOptions): Promise<Page<Doc>> => underlying.find(options),
      count: (filter?: Filter) => underlying.count(filter),
    };
    return collection;
  }

  get size(): number {
    let n = 0;
    for (const writes of this.pending.values()) n += writes.size;
    return n;
  }

  /** The pending collections in the order they are written: unnamed ones first (as touched), then those `flushOrder` names, in its order. */
  private flushSequence(): [string, Map<string, PendingWrite>][] {
    const entries = [...this.pending];
    const order = this.flushOrder;
    if (!order) return entries;
    return entries.sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)); // stable: unnamed (-1) keep their order
  }

  /**
   * Writes everything pending, one writeManyIfNewer per collection (in the flush order), telling
   * the store what is stored; then remembers what was read and written (when the target has a
   * memory) and starts a new batch. Should the store apply fewer writes than it was sent (another
   * writer got in, or a write changed nothing), the memory of that collection is dropped: it is
   * read again. A flush is not atomic: a process killed during it leaves the collections written
   * before the kill, and the next holder applies the batch again on top of them (see
   * `Projection.flushOrder`).
   */
  async flush(): Promise<void> {
    for (const [name, writes] of this.flushSequence()) {
      if (writes.size === 0) continue;
      const many: ManyWrite<Doc>[] = [...writes].map(([id, { doc, position }]) => {
        const stored = this.stored(name, id);
        return { id, doc, position, stored: stored === undefined ? undefined : stored === null ? null : (stored._position ?? -1) };
      });
      const applied = await this.resolve(name).writeManyIfNewer(many);
      if (this.memory && applied !== many.length) this.memory.forget(name);
      else if (this.memory) {
        for (const [id, doc] of this.loaded.get(name) ?? []) if (!writes.has(id)) this.memory.remember(name, id, doc);
        for (const [id, { doc, position }] of writes) this.memory.remember(name, id, doc === null ? null : { ...doc, _position: position });
      }
      this.pending.delete(name); // written: a retry after a later collection fails does not send it again
    }
    this.pending.clear();
    this.loaded.clear();
    this.handles.clear(); // they hold the batch's maps
  }
}
