import type { Collection, CollectionVersion, Doc, DocumentStore, Filter, FindOptions, IndexSpec, Page, Sort } from './document-store.js';
import { copyDocument } from './copy.js';
import { compareValues, matches } from './filter.js';
import { afterFilter, decodeCursor, encodeCursor, getPath, withTiebreak } from './keyset.js';

type Table = Map<string, Doc>;

/**
 * The embedded document store: in-process and in memory. Read models are derived data, so on
 * a restart the projectors rebuild them from the (durable) event store; checkpoints live in
 * this store too, so they are lost together with the data they describe, never separately.
 */
export class MemoryDocumentStore implements DocumentStore {
  private readonly tables = new Map<string, Table>();
  private readonly live = new Map<string, string>();
  private readonly uniqueIndexes = new Map<string, IndexSpec[]>();
  private versionCounter = 0;

  private table(physical: string): Table {
    let table = this.tables.get(physical);
    if (!table) this.tables.set(physical, (table = new Map<string, Doc>()));
    return table;
  }

  private resolve(name: string): string {
    return this.live.get(name) ?? name;
  }

  /** One handle per collection name (it finds the live version at every call). */
  private readonly handles = new Map<string, Collection<Doc>>();

  collection<T extends Doc>(name: string): Collection<T> {
    let handle = this.handles.get(name);
    if (!handle) this.handles.set(name, (handle = this.handle<Doc>(() => this.resolve(name), name)));
    return handle as Collection<T>;
  }

  private handle<T extends Doc>(physical: () => string, logical: string): Collection<T> {
    const table = () => this.table(physical());
    const checkUnique = (doc: Doc) => {
      for (const index of this.uniqueIndexes.get(logical) ?? []) {
        for (const other of table().values()) {
          if (other._id !== doc._id && index.keys.every(([field]) => compareValues(getPath(other, field), getPath(doc, field)) === 0)) {
            throw new Error(`duplicate key for unique index ${index.keys.map(([f]) => f).join(',')}`);
          }
        }
      }
    };
    return {
      get: (id) => Promise.resolve(clone(table().get(id)) as T | undefined),
      getMany: (ids) => Promise.resolve(ids.map((id) => table().get(id)).filter((d): d is Doc => d !== undefined).map((d) => clone(d) as T)),
      upsertIfNewer: (doc, position) => {
        const stored = table().get(doc._id);
        if (stored && (stored._position ?? -1) >= position) return Promise.resolve(false);
        checkUnique(doc);
        table().set(doc._id, { ...clone(doc), _position: position });
        return Promise.resolve(true);
      },
      deleteIfNewer: (id, position) => {
        const stored = table().get(id);
        if (!stored || (stored._position ?? -1) >= position) return Promise.resolve(false);
        table().delete(id);
        return Promise.resolve(true);
      },
      writeManyIfNewer: (writes) =>
        Promise.resolve().then(() => {
          let applied = 0;
          for (const { id, doc, position } of writes) {
            const stored = table().get(id);
            if (stored && (stored._position ?? -1) >= position) continue;
            if (doc) {
              checkUnique(doc);
              table().set(id, { ...clone(doc), _position: position });
            } else if (stored) {
              table().delete(id);
            } else {
              continue;
            }
            applied++;
          }
          return applied;
        }),
      replaceIf: (doc, position, expected) =>
        Promise.resolve().then(() => {
          const stored = table().get(doc._id);
          if (expected === null ? stored !== undefined : stored === undefined || !matches(stored, expected)) return false;
          checkUnique(doc);
          table().set(doc._id, { ...clone(doc), _position: position });
          return true;
        }),
      find: (options) => Promise.resolve().then(() => findIn<T>(table(), options)),
      count: (filter?: Filter) => {
        let n = 0;
        for (const doc of table().values()) if (matches(doc, filter)) n++;
        return Promise.resolve(n);
      },
    };
  }

  ensureIndexes(name: string, indexes: readonly IndexSpec[]): Promise<void> {
    this.uniqueIndexes.set(name, indexes.filter((i) => i.unique));
    return Promise.resolve();
  }

  createVersion<T extends Doc>(name: string): Promise<CollectionVersion<T>> {
    const physical = `${name}__v${Date.now()}_${++this.versionCounter}`;
    this.tables.set(physical, new Map());
    return Promise.resolve({
      name,
      physicalName: physical,
      collection: this.handle<T>(() => physical, name),
      activate: () => this.activateTogether([{ name, physicalName: physical }]),
      discard: () => {
        this.tables.delete(physical);
        return Promise.resolve();
      },
    });
  }

  /** One synchronous step: no reader in this process runs in between. */
  activateTogether(versions: readonly Pick<CollectionVersion<Doc>, 'name' | 'physicalName'>[]): Promise<void> {
    for (const { name, physicalName } of versions) {
      const previous = this.resolve(name);
      this.live.set(name, physicalName);
      if (previous !== physicalName) this.tables.delete(previous);
    }
    return Promise.resolve();
  }

  physicalName(name: string): Promise<string> {
    return Promise.resolve(this.resolve(name));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function clone<T>(value: T): T {
  return copyDocument(value);
}

function findIn<T extends Doc>(table: Table, options: FindOptions): Page<T> {
  const sort: Sort = withTiebreak(options.sort);
  const filters: Filter[] = [];
  if (options.filter) filters.push(options.filter);
  if (options.after) filters.push(afterFilter(sort, decodeCursor(options.after, sort)));
  const filter: Filter = { $and: filters };
  const hits = [...table.values()].filter((doc) => matches(doc, filter));
  hits.sort((a, b) => {
    for (const [field, direction] of sort) {
      const c = compareValues(getPath(a, field), getPath(b, field));
      if (c !== 0) return c * direction;
    }
    return 0;
  });
  const items = hits.slice(0, options.first).map((d) => clone(d) as T);
  const cursors = items.map((d) => encodeCursor(d, sort));
  return { items, cursors, hasNextPage: hits.length > options.first, endCursor: cursors[cursors.length - 1] };
}
