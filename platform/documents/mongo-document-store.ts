import { MongoBulkWriteError, MongoClient, MongoServerError, type AnyBulkWriteOperation, type OptionalId, type Collection as MongoCollection, type Db, type Document, type Filter as MongoFilter } from 'mongodb';
import { InfrastructureError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { Logger } from '../logging.js';
import type { Collection, CollectionVersion, Doc, DocumentStore, Filter, FindOptions, IndexSpec, Page, Sort } from './document-store.js';
import { afterFilter, decodeCursor, encodeCursor, withTiebreak } from './keyset.js';

const VERSIONS = '_collection_versions';
/** Operations per bulk write: well under FerretDB's per-command connection use (see writeManyIfNewer). */
const BULK_CHUNK = 50;
const REFRESH_MS = 1000;

interface VersionDoc {
  _id: string;
  physical: string;
  previous?: string;
}

/**
 * The DocumentStore port on MongoDB (and FerretDB, which lacks transactions, change streams,
 * $lookup and $facet: nothing here needs them). Guarded writes are single conditional
 * replaceOne/deleteOne calls; a logical collection maps to a physical one through a small
 * versions collection that other processes re-read every second, so a rebuild done by the
 * projector is picked up by the query services. The previous version is kept until the next
 * switch, so a reader still on it during that second is never left with a dropped collection.
 */
export class MongoDocumentStore implements DocumentStore {
  private readonly live = new Map<string, { physical: string; readAt: number }>();
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
   */
  static async connect(url: string, logger: Logger, options: { timeoutMs?: number } = {}): Promise<MongoDocumentStore> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const client = new MongoClient(url, { serverSelectionTimeoutMS: Math.min(5000, timeoutMs), connectTimeoutMS: 5000, socketTimeoutMS: timeoutMs, waitQueueTimeoutMS: timeoutMs, retryWrites: false });
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
    const cached = this.live.get(name);
    if (cached && Date.now() - cached.readAt < REFRESH_MS) return cached.physical;
    const version = await this.db.collection<VersionDoc>(VERSIONS).findOne({ _id: name });
    const physical = version?.physical ?? name;
    this.live.set(name, { physical, readAt: Date.now() });
    return physical;
  }

  collection<T extends Doc>(name: string): Collection<T> {
    return this.handle<T>(async () => this.db.collection<T>(await this.resolve(name)));
  }

  private handle<T extends Doc>(physical: () => Promise<MongoCollection<T>>): Collection<T> {
    return {
      get: async (id) => ((await (await physical()).findOne({ _id: id } as MongoFilter<T>)) as T | null) ?? undefined,
      getMany: async (ids) => {
        if (ids.length === 0) return [];
        const docs = (await (await physical()).find({ _id: { $in: [...ids] } } as MongoFilter<T>).toArray()) as T[];
        const byId = new Map(docs.map((d) => [d._id, d]));
        return ids.map((id) => byId.get(id)).filter((d): d is T => d !== undefined);
      },
      upsertIfNewer: async (doc, position) => {
        // Every stored document has _position (this store writes it), so a plain range test is
        // enough; no $or, which FerretDB cannot push down to SQLite (it would scan the collection).
        const filter = { _id: doc._id, _position: { $lt: position } } as MongoFilter<T>;
        try {
          const result = await (await physical()).replaceOne(filter, { ...doc, _position: position }, { upsert: true });
          return result.modifiedCount + result.upsertedCount > 0 || result.matchedCount > 0;
        } catch (error) {
          // The document exists at this position or later: the filter missed and the upsert hit its _id.
          if (error instanceof MongoServerError && error.code === 11000) return false;
          throw error;
        }
      },
      deleteIfNewer: async (id, position) => {
        const result = await (await physical()).deleteOne({ _id: id, _position: { $lt: position } } as MongoFilter<T>);
        return result.deletedCount > 0;
      },
      writeManyIfNewer: async (writes) => {
        if (writes.length === 0) return 0;
        const collection = await physical();
        // Decide per document from the stored positions (one query), so that the bulk write has
        // no expected failures: FerretDB stops a bulk at its first error even when unordered.
        const stored = new Map(
          (await collection.find({ _id: { $in: writes.map((w) => w.id) } } as MongoFilter<T>, { projection: { _position: 1 } }).toArray()).map((d): [string, number] => [String(d._id), Number(d._position ?? -1)]),
        );
        const operations: AnyBulkWriteOperation<T>[] = [];
        for (const { id, doc, position } of writes) {
          const current = stored.get(id);
          if (current !== undefined && current >= position) continue;
          const guard = { _id: id, _position: { $lt: position } } as MongoFilter<T>;
          if (!doc) {
            if (current !== undefined) operations.push({ deleteOne: { filter: guard } });
          } else if (current === undefined) {
            operations.push({ insertOne: { document: { ...doc, _position: position } as OptionalId<T> } });
          } else {
            operations.push({ replaceOne: { filter: guard, replacement: { ...doc, _position: position } } });
          }
        }
        if (operations.length === 0) return 0;
        try {
          // In bounded chunks, one after another (still in order): FerretDB 1.24 holds a pooled
          // connection per statement of one update command until the command ends, and a bulk of
          // as many replaces as its pool (100) deadlocks the database for every later query.
          let applied = 0;
          for (let i = 0; i < operations.length; i += BULK_CHUNK) {
            const result = await collection.bulkWrite(operations.slice(i, i + BULK_CHUNK), { ordered: true });
            applied += result.insertedCount + result.modifiedCount + result.deletedCount;
          }
          return applied;
        } catch (error) {
          if (!(error instanceof MongoBulkWriteError && error.code === 11000)) throw error;
          // Another writer inserted one of these meanwhile: fall back to one guarded write each.
          const one = this.handle<T>(() => Promise.resolve(collection));
          let applied = 0;
          for (const { id, doc, position } of writes) if (doc ? await one.upsertIfNewer(doc, position) : await one.deleteIfNewer(id, position)) applied++;
          return applied;
        }
      },
      find: async (options) => findIn(await physical(), options),
      count: async (filter) => (await physical()).countDocuments((filter ?? {})),
    };
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
    return {
      physicalName: physical,
      collection: this.handle<T>(() => Promise.resolve(collection)),
      activate: async () => {
        const versions = this.db.collection<VersionDoc>(VERSIONS);
        const current = await versions.findOne({ _id: name });
        const previous = current?.physical ?? name;
        await versions.replaceOne({ _id: name }, { physical, previous }, { upsert: true });
        this.live.set(name, { physical, readAt: Date.now() });
        // Keep the version just replaced (readers may still be on it for a moment); drop the one before.
        if (current?.previous && current.previous !== physical) await this.drop(current.previous);
      },
      discard: () => this.drop(physical),
    };
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
