/**
 * Document store port: what read models need, and no more, so that MongoDB (and FerretDB, which
 * lacks transactions, change streams, $lookup and $facet) and the embedded store implement it alike.
 *
 * Every write is guarded by the event position that produced it: a document remembers the
 * position it was last written at (`_position`), and a write at an older or equal position is
 * ignored. That makes projections idempotent under at-least-once delivery and replays.
 */

export interface Doc {
  _id: string;
  /** Position of the last event applied to this document; maintained by the store. */
  _position?: number;
}

type Scalar = string | number | boolean | null;

/** A field condition: a plain value means equality. Field names may be dotted paths. */
export type Condition =
  | Scalar
  | {
      $eq?: Scalar;
      $ne?: Scalar;
      $gt?: Scalar;
      $gte?: Scalar;
      $lt?: Scalar;
      $lte?: Scalar;
      $in?: Scalar[];
      /** Regular expression source; matched case-insensitively when $options is 'i'. */
      $regex?: string;
      $options?: 'i';
    };

export type Filter = { [field: string]: Condition | Filter[] | undefined } & { $or?: Filter[]; $and?: Filter[] };

/** Sort keys in priority order; `_id` ascending is always appended as the final tiebreak. */
export type Sort = readonly (readonly [field: string, direction: 1 | -1])[];

export interface FindOptions {
  filter?: Filter;
  sort?: Sort;
  /** Page size, at least 1. */
  first: number;
  /** Opaque cursor from a previous page's `endCursor`. */
  after?: string;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  /** Cursor of the last item, to pass as `after`; undefined for an empty page. */
  endCursor: string | undefined;
  /** Cursor for each item, in order. */
  cursors: string[];
}

export interface Collection<T extends Doc> {
  get(id: string): Promise<T | undefined>;
  /** Documents for the ids that exist, in the order of `ids`. */
  getMany(ids: readonly string[]): Promise<T[]>;
  /**
   * Writes the whole document unless the stored one was written at `position` or later.
   * Returns whether it wrote.
   */
  upsertIfNewer(doc: T, position: number): Promise<boolean>;
  /** Removes the document unless the stored one was written at `position` or later. */
  deleteIfNewer(id: string, position: number): Promise<boolean>;
  /**
   * Many guarded writes at once (each as upsertIfNewer, or deleteIfNewer when `doc` is null), in
   * a few round trips whatever their number; returns how many were applied. Used to flush a
   * projection batch. `stored` is what the caller knows of the stored document (its position,
   * or null: there is none), so the store need not read it again; a stale hint costs a retry,
   * never a wrong write: every write stays guarded by its position on the server.
   */
  writeManyIfNewer(writes: readonly ManyWrite<T>[]): Promise<number>;
  /**
   * Compare-and-set: writes the whole document (at `position`) only if the stored one matches
   * `expected` (equality and range conditions on its fields), or, when `expected` is null, only
   * if there is none. Returns whether it wrote. For the few documents several processes contend
   * for (projection leases, fenced checkpoints); not position-guarded, and not batched.
   */
  replaceIf(doc: T, position: number, expected: Filter | null): Promise<boolean>;
  find(options: FindOptions): Promise<Page<T>>;
  count(filter?: Filter): Promise<number>;
}

export interface ManyWrite<T extends Doc> {
  id: string;
  /** The whole document, or null to delete it. */
  doc: T | null;
  position: number;
  /** Position of the stored document as the caller last saw it; null: none; undefined: unknown. */
  stored?: number | null;
}

export interface IndexSpec {
  keys: Sort;
  unique?: boolean;
}

/** A new, empty version of a logical collection, filled aside while the live one serves. */
export interface CollectionVersion<T extends Doc> {
  /** The logical collection it is a version of. */
  readonly name: string;
  readonly collection: Collection<T>;
  readonly physicalName: string;
  /** Makes this version the live one, atomically for readers, and drops the previous one. */
  activate(): Promise<void>;
  /** Drops this version without switching. */
  discard(): Promise<void>;
}

export interface DocumentStore {
  /** The live version of a logical collection (resolved on every operation). */
  collection<T extends Doc>(name: string): Collection<T>;
  /** Creates the indexes a read model's queries need (idempotent); applies to new versions too. */
  ensureIndexes(name: string, indexes: readonly IndexSpec[]): Promise<void>;
  /** Starts building a new version of a logical collection. */
  createVersion<T extends Doc>(name: string): Promise<CollectionVersion<T>>;
  /**
   * Makes new versions of several logical collections (a projection's) live in one step, for
   * readers in every process: a reader resolves either all the previous versions or all these,
   * never some of each. Each previous version is dropped as `activate` drops it.
   */
  activateTogether(versions: readonly CollectionVersion<Doc>[]): Promise<void>;
  /** Physical name of the live version (for checkpoints that belong to one version). */
  physicalName(name: string): Promise<string>;
  close(): Promise<void>;
}
