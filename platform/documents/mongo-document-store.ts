import { MongoBulkWriteError, MongoClient, MongoServerError, type AnyBulkWriteOperation, type CommandFailedEvent, type CommandSucceededEvent, type OptionalId, type OptionalUnlessRequiredId, type Collection as MongoCollection, type Db, type Document, type Filter as MongoFilter } from 'mongodb';
import { chunksOf } from '../chunks.js';
import { InfrastructureError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { Logger } from '../logging.js';
import type { Collection, CollectionVersion, Doc, DocumentStore, Filter, FindOptions, IndexSpec, ManyWrite, Page, Sort } from './document-store.js';
import { IdFilter } from './id-filter.js';
import { afterFilter, decodeCursor, encodeCursor, withTiebreak } from './keyset.js';

const VERSIONS = '_collection_versions';
const REFRESH_MS = 1000;
/** Lookups by _id in flight at once for one getMany or one batch of writes. */
const READ_CONCURRENCY = 16;
/**
 * Statements per update command. FerretDB v1.24 (handler/msg_update.go) keeps each statement's
 * query open until the whole command has run, holding one pooled backend connection per
 * statement: an update command with as many statements as the pool (50 on PostgreSQL by
 * default, 100 on SQLite) waits forever for one more connection, and every later query with it.
 * Small commands also leave room for the other projectors and the queries sharing that pool.
 * Harmless on MongoDB (a few more round trips per flush).
 */
const UPDATE_CHUNK = 16;

interface Member {
  name: string;
  physical: string;
}

/**
 * A pointer in the versions collection. A set (`_id` `set:<names>`) names the live physical
 * version of each of several logical collections, switched together by one write; a
 * collection's own pointer (`_id` its name) is what releases before sets read, still written
 * (after the set) for them, and read where no set names the collection.
 */
interface VersionDoc {
  _id: string;
  physical?: string;
  previous?: string;
  members?: Member[];
  previousMembers?: Member[];
  switchedAt?: number;
}

/**
 * The DocumentStore port on MongoDB (and FerretDB, which lacks transactions, change streams,
 * $lookup and $facet: nothing here needs them). Guarded writes are conditional
 * replaceOne/deleteOne calls (filter `{_id, _position: {$lt}}`), batched by writeManyIfNewer
 * into an insert, a few updates and a delete command. Documents are read by `_id` alone, the one
 * filter FerretDB v1.24 serves from an index (docs/read-side-performance.md: an `$in` is a read
 * of the whole collection there). A logical collection maps to a physical one through a small
 * versions collection that other processes re-read every second (all of it, in one query, so that
 * collections switched together are seen switched together), so a rebuild done by the projector
 * is picked up by the query services. The previous version is kept until the next
 * switch, so a reader still on it during that second is never left with a dropped collection.
 */
export class MongoDocumentStore implements DocumentStore {
  /** The live physical version of every logical collection that has one, as last read. */
  private pointers: { map: Map<string, string>; readAt: number } | undefined;
  private reading: Promise<Map<string, string>> | undefined;
  /** Moves at every switch made here: a read of the pointers begun before it must not undo it. */
  private switches = 0;
  /** New versions not yet live, which only their builder writes (see `handle`'s `fresh`). */
  private readonly building = new Map<string, { filter: IdFilter; active: boolean }>();
  private readonly indexes = new Map<string, readonly IndexSpec[]>();

  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly logger: Logger,
  ) {}

  /**
   * @param options.timeoutMs how long any operation may wait for the server's answer before it
   *   fails (the socket is dropped): a server that accepts connections but never answers cannot
   *   hang a projector or a query.
   * @param options.onCommand sees every command the driver completes, with its duration (for
   *   measurements: bench/projection-rate.bench.ts counts round trips per event with it).
   */
  static async connect(url: string, logger: Logger, options: { timeoutMs?: number; onCommand?: (event: CommandSucceededEvent | CommandFailedEvent) => void } = {}): Promise<MongoDocumentStore> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const client = new MongoClient(url, { serverSelectionTimeoutMS: Math.min(5000, timeoutMs), connectTimeoutMS: 5000, socketTimeoutMS: timeoutMs, waitQueueTimeoutMS: timeoutMs, retryWrites: false, monitorCommands: options.onCommand !== undefined });
    if (options.onCommand) {
      client.on('commandSucceeded', options.onCommand);
      client.on('commandFailed', options.onCommand);
    }
    try {
      await client.connect();
      await client.db().command({ ping: 1 });
    } catch (error) {
      await client.close().catch(() => undefined);
      throw new InfrastructureError('mongodb', redactUrl(url), `cannot connect (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    return new MongoDocumentStore(client, client.db(), logger);
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  private async resolve(name: string): Promise<string> {
    const pointers = this.pointers && Date.now() - this.pointers.readAt < REFRESH_MS ? this.pointers.map : await (this.reading ??= this.readPointers().finally(() => (this.reading = undefined)));
    return pointers.get(name) ?? name;
  }

  /** Reads every pointer in one query: sets override a collection's own pointer, later sets earlier ones. */
  private async readPointers(): Promise<Map<string, string>> {
    const switches = this.switches;
    const docs = await this.db.collection<VersionDoc>(VERSIONS).find({}).toArray();
    const map = new Map<string, string>();
    for (const doc of docs) if (!doc.members && doc.physical) map.set(doc._id, doc.physical);
    for (const doc of docs.filter((d) => d.members).sort((a, b) => (a.switchedAt ?? 0) - (b.switchedAt ?? 0))) for (const m of doc.members!) map.set(m.name, m.physical);
    if (switches === this.switches) this.pointers = { map, readAt: Date.now() };
    return switches === this.switches ? map : (this.pointers?.map ?? map);
  }

  collection<T extends Doc>(name: string): Collection<T> {
    return this.handle<T>(async () => this.db.collection<T>(await this.resolve(name)));
  }

  /**
   * @param fresh set for a new collection version that only this handle writes: it remembers
   *   (in a fixed-size filter) which ids it wrote, so reading any other id needs no round trip.
   */
  private handle<T extends Doc>(physical: () => Promise<MongoCollection<T>>, fresh?: { filter: IdFilter; active: boolean }): Collection<T> {
    const neverWritten = (id: string) => fresh !== undefined && fresh.active && !fresh.filter.mightContain(id);
    const written = (ids: Iterable<string>) => {
      if (fresh) for (const id of ids) fresh.filter.add(id);
    };
    const get = async (id: string) => (neverWritten(id) ? undefined : (((await (await physical()).findOne({ _id: id } as MongoFilter<T>)) as T | null) ?? undefined));
    const upsertIfNewer = async (doc: T, position: number) => {
      written([doc._id]);
      // Every stored document has _position (this store writes it), so a plain range test is
      // enough; no $or, which FerretDB cannot push down (it would scan the collection).
      const filter = { _id: doc._id, _position: { $lt: position } } as MongoFilter<T>;
      try {
        const result = await (await physical()).replaceOne(filter, { ...doc, _position: position }, { upsert: true });
        return result.modifiedCount + result.upsertedCount > 0 || result.matchedCount > 0;
      } catch (error) {
        // The document exists at this position or later: the filter missed and the upsert hit its _id.
        if (error instanceof MongoServerError && error.code === 11000) return false;
        throw error;
      }
    };
    const deleteIfNewer = async (id: string, position: number) => {
      const result = await (await physical()).deleteOne({ _id: id, _position: { $lt: position } } as MongoFilter<T>);
      return result.deletedCount > 0;
    };
    return {
      get,
      // One lookup by _id per document, a few at a time, not one `$in` query: FerretDB serves
      // `{_id: x}` from its _id index but answers `{_id: {$in: [...]}}` by reading the whole
      // collection (see docs/read-side-performance.md). MongoDB serves both from the index.
      getMany: async (ids) => (await mapLimit(ids, READ_CONCURRENCY, get)).filter((d): d is T => d !== undefined),
      upsertIfNewer,
      deleteIfNewer,
      writeManyIfNewer: async (writes) => {
        let applied = 0;
        for (const run of distinctRuns(writes)) applied += await writeRun(run);
        return applied;
      },
      replaceIf: async (doc, position, expected) => {
        written([doc._id]);
        const collection = await physical();
        const stored = { ...doc, _position: position };
        if (expected !== null) return (await collection.replaceOne({ ...expected, _id: doc._id } as MongoFilter<T>, stored)).matchedCount > 0;
        try {
          await collection.insertOne(stored as OptionalUnlessRequiredId<T>);
          return true;
        } catch (error) {
          if (error instanceof MongoServerError && error.code === 11000) return false; // there is one
          throw error;
        }
      },
      find: async (options) => findIn(await physical(), options),
      count: async (filter) => (await physical()).countDocuments(filter ?? {}),
    };

    /**
     * Writes whose ids are distinct, in at most three commands (one insert, one update, one
     * delete), each write guarded on the server by its position: inserts for documents known
     * to be absent (a concurrent insert fails on the unique _id), guarded replaces (with upsert,
     * so a document deleted meanwhile is written again) and guarded deletes otherwise.
     */
    async function writeRun(writes: readonly ManyWrite<T>[]): Promise<number> {
      if (writes.length === 0) return 0;
      const collection = await physical();
      const unknown = writes.filter((w) => w.stored === undefined && !neverWritten(w.id)).map((w) => w.id);
      const stored = new Map<string, number | null>();
      const found = await mapLimit(unknown, READ_CONCURRENCY, (id) => collection.findOne({ _id: id } as MongoFilter<T>, { projection: { _position: 1 } }));
      unknown.forEach((id, i) => stored.set(id, found[i] ? Number(found[i]._position ?? -1) : null));
      const inserts: AnyBulkWriteOperation<T>[] = [];
      const replaces: AnyBulkWriteOperation<T>[] = [];
      const deletes: AnyBulkWriteOperation<T>[] = [];
      for (const w of writes) {
        const current = w.stored !== undefined ? w.stored : (stored.get(w.id) ?? null);
        if (current !== null && current >= w.position) continue;
        const guard = { _id: w.id, _position: { $lt: w.position } } as MongoFilter<T>;
        if (!w.doc) {
          // Even when the caller believes there is nothing to delete: a guarded delete is cheap,
          // and a wrong belief must not leave a document behind.
          if (current !== null || w.stored === null) deletes.push({ deleteOne: { filter: guard } });
        } else if (current === null) {
          inserts.push({ insertOne: { document: { ...w.doc, _position: w.position } as OptionalId<T> } });
        } else {
          replaces.push({ replaceOne: { filter: guard, replacement: { ...w.doc, _position: w.position }, upsert: true } });
        }
      }
      if (inserts.length + replaces.length + deletes.length === 0) return 0;
      written(writes.filter((w) => w.doc).map((w) => w.id));
      // One command for the inserts, one for the deletes, updates UPDATE_CHUNK statements at a
      // time: FerretDB v1.24 keeps every statement's query open until its whole update command
      // ends, one backend connection each (see UPDATE_CHUNK).
      const commands = [inserts, ...chunksOf(replaces, () => 1, UPDATE_CHUNK), deletes].filter((c) => c.length > 0);
      try {
        let applied = 0;
        for (const operations of commands) {
          const result = await collection.bulkWrite(operations, { ordered: true });
          applied += result.insertedCount + result.modifiedCount + result.upsertedCount + result.deletedCount;
        }
        return applied;
      } catch (error) {
        if (!(error instanceof MongoBulkWriteError && error.code === 11000)) throw error;
        // Another writer got there first (an insert or an upsert met a stored _id): one guarded
        // write each. FerretDB stops a bulk at its first error, so none after it was attempted.
        let applied = 0;
        for (const { id, doc, position } of writes) if (doc ? await upsertIfNewer(doc, position) : await deleteIfNewer(id, position)) applied++;
        return applied;
      }
    }
  }

  async ensureIndexes(name: string, indexes: readonly IndexSpec[]): Promise<void> {
    this.indexes.set(name, indexes);
    await this.createIndexes(await this.resolve(name), indexes);
  }

  private async createIndexes(physical: string, indexes: readonly IndexSpec[]): Promise<void> {
    for (const index of indexes) {
      await this.db.collection(physical).createIndex(Object.fromEntries(index.keys) satisfies Document, { unique: index.unique ?? false });
    }
  }

  async createVersion<T extends Doc>(name: string): Promise<CollectionVersion<T>> {
    const physical = `${name}__v${Date.now()}`;
    await this.db.createCollection(physical);
    await this.createIndexes(physical, this.indexes.get(name) ?? []);
    const collection = this.db.collection<T>(physical);
    const fresh = { filter: new IdFilter(), active: true };
    this.building.set(physical, fresh);
    return {
      name,
      physicalName: physical,
      collection: this.handle<T>(() => Promise.resolve(collection), fresh),
      activate: () => this.activateTogether([{ name, physicalName: physical }]),
      discard: () => {
        this.building.delete(physical);
        return this.drop(physical);
      },
    };
  }

  /**
   * One write switches them all: the set's pointer document (FerretDB v1 has no transactions,
   * and renameCollection is no switch for readers that cache the name). Readers read all pointers
   * in one query, so they see the whole set switched or none of it. The versions just replaced
   * are kept (readers may still be on them for up to REFRESH_MS); the ones before are dropped.
   */
  async activateTogether(versions: readonly Pick<CollectionVersion<Doc>, 'name' | 'physicalName'>[]): Promise<void> {
    for (const { physicalName } of versions) {
      const fresh = this.building.get(physicalName);
      if (fresh) fresh.active = false; // live now: other writers may write it
      this.building.delete(physicalName);
    }
    const pointers = this.db.collection<VersionDoc>(VERSIONS);
    const names = versions.map((v) => v.name);
    const id = `set:${[...names].sort().join('+')}`;
    const current = await this.readPointers();
    const before = await pointers.findOne({ _id: id });
    const own = await Promise.all(names.map((name) => pointers.findOne({ _id: name })));
    const members = versions.map((v) => ({ name: v.name, physical: v.physicalName }));
    const previousMembers = names.map((name) => ({ name, physical: current.get(name) ?? name }));
    await pointers.replaceOne({ _id: id }, { members, previousMembers, switchedAt: Date.now() }, { upsert: true });
    this.switches++;
    this.pointers = { map: new Map([...current, ...members.map((m): [string, string] => [m.name, m.physical])]), readAt: Date.now() };
    // For readers of releases before sets, one by one (they never switched several together).
    for (const [i, m] of members.entries()) await pointers.replaceOne({ _id: m.name }, { physical: m.physical, previous: previousMembers[i]!.physical }, { upsert: true });
    const keep = new Set([...members, ...previousMembers].map((m) => m.physical));
    const older = [...(before?.previousMembers ?? []).map((m) => m.physical), ...own.flatMap((doc) => (doc?.previous ? [doc.previous] : []))];
    for (const physical of new Set(older)) if (!keep.has(physical)) await this.drop(physical);
  }

  private async drop(physical: string): Promise<void> {
    try {
      await this.db.collection(physical).drop();
    } catch (error) {
      if (!(error instanceof MongoServerError && (error.code === 26 || /ns not found/i.test(error.message)))) this.logger.warn({ err: error, physical }, 'could not drop an old collection version');
    }
  }

  physicalName(name: string): Promise<string> {
    return this.resolve(name);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

async function findIn<T extends Doc>(collection: MongoCollection<T>, options: FindOptions): Promise<Page<T>> {
  const sort: Sort = withTiebreak(options.sort);
  const filters: Filter[] = [];
  if (options.filter && Object.keys(options.filter).length > 0) filters.push(options.filter);
  if (options.after) filters.push(afterFilter(sort, decodeCursor(options.after, sort)));
  const filter = filters.length === 0 ? {} : filters.length === 1 ? filters[0]! : { $and: filters };
  const docs = (await collection
    .find(filter as MongoFilter<T>)
    .sort(Object.fromEntries(sort))
    .limit(options.first + 1)
    .toArray()) as T[];
  const items = docs.slice(0, options.first);
  const cursors = items.map((d) => encodeCursor(d, sort));
  return { items, cursors, hasNextPage: docs.length > options.first, endCursor: cursors[cursors.length - 1] };
}

/** `fn` over `items` with at most `limit` calls in flight; results in the order of `items`. */
async function mapLimit<I, O>(items: readonly I[], limit: number, fn: (item: I) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Splits writes into consecutive runs in which no id repeats, so that each run may be reordered. */
function distinctRuns<W extends { id: string }>(writes: readonly W[]): W[][] {
  const runs: W[][] = [];
  let run: W[] = [];
  let ids = new Set<string>();
  for (const w of writes) {
    if (ids.has(w.id)) {
      runs.push(run);
      run = [];
      ids = new Set();
    }
    run.push(w);
    ids.add(w.id);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
