import type { Collection, Doc, DocumentStore, Filter, FindOptions, Page } from '../platform/documents/document-store.js';
import type { ProjectionTarget } from './projection.js';

interface PendingWrite {
  doc: Doc | null;
  position: number;
}

/**
 * A write-behind view of the target collections for one batch of events: reads see the batch's
 * own writes, every document is written once per batch (the last state wins, with the position of
 * the last event applied to it), in one round trip per collection. Catching up or replaying a
 * stream of events touching the same documents then costs a fraction of the writes.
 */
export class BatchTarget implements ProjectionTarget {
  private readonly pending = new Map<string, Map<string, PendingWrite>>();
  private readonly loaded = new Map<string, Map<string, Doc | null>>();

  constructor(private readonly resolve: (name: string) => Collection<Doc>) {}

  static over(documents: DocumentStore): BatchTarget {
    return new BatchTarget((name) => documents.collection(name));
  }

  collection<T extends Doc>(name: string): Collection<T> {
    const underlying = this.resolve(name);
    let writes = this.pending.get(name);
    if (!writes) this.pending.set(name, (writes = new Map<string, PendingWrite>()));
    let reads = this.loaded.get(name);
    if (!reads) this.loaded.set(name, (reads = new Map<string, Doc | null>()));
    const w = writes;
    const r = reads;
    const current = async (id: string): Promise<Doc | null> => {
      const write = w.get(id);
      if (write) return write.doc === null ? null : { ...write.doc, _position: write.position };
      if (!r.has(id)) r.set(id, (await underlying.get(id)) ?? null);
      return r.get(id) ?? null;
    };
    const storedPosition = (doc: Doc | null) => doc?._position ?? -1;
    const collection: Collection<Doc> = {
      get: async (id) => (await current(id)) ?? undefined,
      getMany: async (ids) => (await Promise.all(ids.map(current))).filter((d): d is Doc => d !== null),
      upsertIfNewer: async (doc, position) => {
        if (storedPosition(await current(doc._id)) >= position) return false;
        w.set(doc._id, { doc: structuredClone(doc), position });
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
      // Queries see only what is flushed; projections look documents up by id.
      find: (options: FindOptions): Promise<Page<Doc>> => underlying.find(options),
      count: (filter?: Filter) => underlying.count(filter),
    };
    return collection as unknown as Collection<T>;
  }

  get size(): number {
    let n = 0;
    for (const writes of this.pending.values()) n += writes.size;
    return n;
  }

  /** Writes everything pending, one call per collection, and starts a new batch. */
  async flush(): Promise<void> {
    for (const [name, writes] of this.pending) {
      if (writes.size === 0) continue;
      await this.resolve(name).writeManyIfNewer([...writes].map(([id, { doc, position }]) => ({ id, doc, position })));
    }
    this.pending.clear();
    this.loaded.clear();
  }
}
