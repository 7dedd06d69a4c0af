import type { RecordedEvent } from '../platform/event-store/event-store.js';
import type { Collection, Doc, DocumentStore, Filter, FindOptions, Page } from '../platform/documents/document-store.js';
import type { Projection, ProjectionTarget } from './projection.js';

interface PendingWrite {
  doc: Doc | null;
  position: number;
}

/** What is stored, per id (null: no document), as last read or written. */
type Known = Map<string, Doc | null>;

/** Documents remembered per collection across batches, at most (the least recently written forgotten first). */
const REMEMBERED = 20_000;

/** Remembered documents of the live collections, per document store and physical collection. */
const shared = new WeakMap<DocumentStore, Map<string, Known>>();

/**
 * A write-behind view of a projection's target collections for a batch of events: reads see the
 * batch's own writes, every document is written once per batch (the last state wins, with the
 * position of the last event applied to it), in a few round trips per collection whatever the
 * number of documents. Catching up or replaying a stream of events touching the same documents
 * then costs a fraction of the writes.
 *
 * Reads: a document is read from the store once, then known. `prefetch` reads the documents a
 * batch of events will touch before it is applied, many at a time, instead of one round trip
 * each as `apply` asks for them. What a flush wrote (and what the batch read) stays known for
 * later batches, up to REMEMBERED documents per collection: a projection is the only writer of
 * its documents, so what it wrote last is what is stored. Should another writer get in (a flush
 * applies fewer writes than it sent), what is remembered of that collection is forgotten. At
 * flush, the store is told what is stored (`stored`), so it need not read it again; its writes
 * stay guarded by position on the server all the same.
 *
 * `BatchTarget.over(store)` shares what is remembered between the batches of every projector
 * over that store (per physical collection, so a rebuilt version starts afresh); a target made
 * with the constructor (a rebuild filling a new version aside) remembers for itself.
 */
export class BatchTarget implements ProjectionTarget {
  private readonly pending = new Map<string, Map<string, PendingWrite>>();
  /** Read by this batch and not yet flushed: the store's answer. */
  private readonly reads = new Map<string, Known>();
  private readonly remembered = new Map<string, Promise<Known>>();

  constructor(
    private readonly resolve: (name: string) => Collection<Doc>,
    private readonly remember: (name: string) => Promise<Known> = ownMemory(),
  ) {}

  static over(documents: DocumentStore): BatchTarget {
    let byPhysical = shared.get(documents);
    if (!byPhysical) shared.set(documents, (byPhysical = new Map<string, Known>()));
    const store = byPhysical;
    return new BatchTarget(
      (name) => documents.collection(name),
      async (name) => {
        const physical = await documents.physicalName(name);
        let known = store.get(physical);
        if (!known) store.set(physical, (known = new Map<string, Doc | null>()));
        return known;
      },
    );
  }

  private memory(name: string): Promise<Known> {
    let known = this.remembered.get(name);
    if (!known) this.remembered.set(name, (known = this.remember(name)));
    return known;
  }

  private maps(name: string): { writes: Map<string, PendingWrite>; reads: Known } {
    let writes = this.pending.get(name);
    if (!writes) this.pending.set(name, (writes = new Map<string, PendingWrite>()));
    let reads = this.reads.get(name);
    if (!reads) this.reads.set(name, (reads = new Map<string, Doc | null>()));
    return { writes, reads };
  }

  /** What is known of a document without asking the store (undefined: nothing). */
  private async knownDoc(name: string, id: string): Promise<Doc | null | undefined> {
    const { writes, reads } = this.maps(name);
    const write = writes.get(id);
    if (write) return write.doc === null ? null : { ...write.doc, _position: write.position };
    if (reads.has(id)) return reads.get(id);
    return (await this.memory(name)).get(id);
  }

  /**
   * Reads the documents these events will make `projection.apply` read (as its `documents`
   * says), those not known yet, many at a time. Optional: `apply` reads what is missing.
   */
  async prefetch(projection: Pick<Projection, 'documents' | 'handles'>, events: readonly RecordedEvent[]): Promise<void> {
    if (!projection.documents) return;
    const wanted = new Map<string, Set<string>>();
    for (const event of events) {
      if (!projection.handles(event)) continue;
      for (const { collection, id } of projection.documents(event)) {
        if ((await this.knownDoc(collection, id)) !== undefined) continue;
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

  collection<T extends Doc>(name: string): Collection<T> {
    const underlying = this.resolve(name);
    const { writes: w, reads: r } = this.maps(name);
    const current = async (id: string): Promise<Doc | null> => {
      const known = await this.knownDoc(name, id);
      if (known !== undefined) return known;
      const doc = (await underlying.get(id)) ?? null;
      r.set(id, doc);
      return doc;
    };
    const storedPosition = (doc: Doc | null) => doc?._position ?? -1;
    const collection: Collection<Doc> = {
      get: async (id) => (await current(id)) ?? undefined,
      getMany: async (ids) => {
        const missing: string[] = [];
        for (const id of ids) if ((await this.knownDoc(name, id)) === undefined) missing.push(id);
        if (missing.length > 0) {
          const found = new Map((await underlying.getMany(missing)).map((d) => [d._id, d]));
          for (const id of missing) r.set(id, found.get(id) ?? null);
        }
        return (await Promise.all(ids.map(current))).filter((d): d is Doc => d !== null);
      },
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

  /**
   * Writes everything pending, one writeManyIfNewer per collection, and starts a new batch.
   * What was read and written is remembered (see the class comment); a failed flush keeps
   * everything pending, to be flushed again.
   */
  async flush(): Promise<void> {
    for (const [name, writes] of this.pending) {
      const known = await this.memory(name);
      const reads = this.reads.get(name);
      if (writes.size > 0) {
        const many = [...writes].map(([id, { doc, position }]) => {
          const stored = reads?.has(id) ? reads.get(id) : known.get(id);
          return { id, doc, position, stored: stored === undefined ? undefined : stored === null ? null : (stored._position ?? -1) };
        });
        const applied = await this.resolve(name).writeManyIfNewer(many);
        if (applied !== many.length) {
          // Something else wrote these documents (or deleted one we deleted): forget, read again.
          known.clear();
          continue;
        }
      }
      for (const [id, doc] of reads ?? []) known.set(id, doc);
      for (const [id, { doc, position }] of writes) {
        known.delete(id); // re-inserted last: the most recently written are forgotten last
        known.set(id, doc === null ? null : { ...doc, _position: position });
      }
      for (const id of known.keys()) {
        if (known.size <= REMEMBERED) break;
        known.delete(id);
      }
    }
    this.pending.clear();
    this.reads.clear();
  }
}

/** Memory of one long-lived target (a rebuild's): its own, per collection name. */
function ownMemory(): (name: string) => Promise<Known> {
  const byName = new Map<string, Known>();
  return (name) => {
    let known = byName.get(name);
    if (!known) byName.set(name, (known = new Map<string, Doc | null>()));
    return Promise.resolve(known);
  };
}
