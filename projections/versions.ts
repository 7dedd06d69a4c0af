import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Doc, DocumentStore } from '../platform/documents/document-store.js';
import { CHECKPOINTS, checkpointId } from './lag.js';
import type { Projection } from './projection.js';

/**
 * Versioned projections: which version of a projection built the live read model, and who may
 * rebuild it.
 *
 * The version is recorded per physical version of the projection's first collection, under the
 * same id as its checkpoint (`<projection>@<physical>`): a rebuild records it for its new
 * collections before switching to them, so the switch of the collection pointer switches the
 * recorded version with it; nothing can name the new model with the old version or the reverse.
 * A record is written guarded by the version number itself, so it never goes down.
 */
export const PROJECTION_VERSIONS = 'projection_versions';
/** One lock document per projection while it is being rebuilt (by any process on this document store). */
export const REBUILD_LOCKS = 'projection_rebuild_locks';

interface VersionRecord extends Doc {
  version: number;
  recordedAt: string;
}

/** The version a projection declares (1 when it declares none). */
export function declaredVersion(projection: Pick<Projection, 'version'>): number {
  return projection.version ?? 1;
}

/**
 * The version of the projection's live read model: its record; 1 for a read model built before
 * versions were recorded (it has a checkpoint but no record); undefined when there is no read
 * model yet (no checkpoint: nothing was ever projected into it).
 */
export async function liveVersion(documents: DocumentStore, projection: Pick<Projection, 'name' | 'collections'>): Promise<number | undefined> {
  const id = await checkpointId(documents, projection);
  const record = await documents.collection<VersionRecord>(PROJECTION_VERSIONS).get(id);
  if (record) return record.version;
  const checkpoint = await documents.collection<Doc>(CHECKPOINTS).get(id);
  return checkpoint ? 1 : undefined;
}

/** Records that the read model whose checkpoint id is `id` is (being) built by `version`. */
export async function recordVersion(documents: DocumentStore, id: string, version: number): Promise<void> {
  await documents.collection<VersionRecord>(PROJECTION_VERSIONS).upsertIfNewer({ _id: id, version, recordedAt: new Date().toISOString() }, version);
}

/** What a projector starting with a declared version must do with the live read model. */
export type VersionPlan =
  | { action: 'project'; live: number | undefined; declared: number }
  | { action: 'rebuild'; live: number; declared: number }
  | { action: 'refuse'; live: number; declared: number };

export async function versionPlan(documents: DocumentStore, projection: Pick<Projection, 'name' | 'collections' | 'version'>): Promise<VersionPlan> {
  const declared = declaredVersion(projection);
  const live = await liveVersion(documents, projection);
  if (live === undefined || live === declared) return { action: 'project', live, declared };
  return live < declared ? { action: 'rebuild', live, declared } : { action: 'refuse', live, declared };
}

/** A refusal the projector's HTTP endpoint and the replay CLI pass on with its code. */
export class RebuildRefusedError extends Error {
  constructor(
    readonly code: 'REBUILD_IN_PROGRESS' | 'READ_MODEL_NEWER' | 'NOT_REBUILDABLE',
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

interface LockDoc extends Doc {
  owner: string;
  expiresAt: number;
  takenAt: string;
}

/** Claims one generation of a projection's rebuild lock: true for the one process whose marker insert succeeded. */
async function claimGeneration(documents: DocumentStore, projection: string, owner: string, generation: number): Promise<boolean> {
  return documents.collection<LockDoc>(REBUILD_LOCKS).replaceIf({ _id: `${projection}#${generation}`, owner, expiresAt: 0, takenAt: new Date().toISOString() }, generation, null);
}

/** A unique owner name for a lock holder: host, process, instance. */
export function lockOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * The right to rebuild one projection, held by one owner at a time across every process on the
 * document store. It is taken and renewed by a compare-and-set on the lock document's generation
 * (its `_position`): a write at generation g+1 is guarded on the server by "stored generation
 * below g+1", so of two processes that read generation g only one writes (on MongoDB the loser's
 * upsert meets the _id and fails with a duplicate key, which the store reports as not written;
 * FerretDB v1, which has no transactions, does the same). No transaction, no renameCollection.
 * FerretDB runs a conditional update as a read then a write, though, so two processes racing for
 * one generation could both see their write succeed; each generation is therefore also claimed
 * by inserting a marker document of its own (`<projection>#<generation>`), which only one can do
 * (the insert-only-when-absent the projection leases rely on too).
 * The lock expires `ttlMs` after its last renewal, so a crashed holder's lock is taken over;
 * the holder renews it every `ttlMs / 3` and checks it still holds it before switching.
 */
export class RebuildLock {
  private timer: NodeJS.Timeout | undefined;
  private lostReason: string | undefined;

  private constructor(
    private readonly documents: DocumentStore,
    private readonly projection: string,
    readonly owner: string,
    private generation: number,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** Takes the lock, or fails with REBUILD_IN_PROGRESS naming the holder and until when it holds it. */
  static async acquire(documents: DocumentStore, projection: string, owner: string, options: { ttlMs?: number; now?: () => number } = {}): Promise<RebuildLock> {
    const ttlMs = options.ttlMs ?? 30_000;
    const now = options.now ?? Date.now;
    const locks = documents.collection<LockDoc>(REBUILD_LOCKS);
    const held = await locks.get(projection);
    if (held && held.owner !== owner && held.expiresAt > now()) {
      throw new RebuildRefusedError('REBUILD_IN_PROGRESS', `a rebuild of ${projection} is already running (held by ${held.owner} until ${new Date(held.expiresAt).toISOString()})`);
    }
    const generation = (held?._position ?? 0) + 1;
    const written = (await locks.upsertIfNewer({ _id: projection, owner, expiresAt: now() + ttlMs, takenAt: new Date(now()).toISOString() }, generation)) && (await claimGeneration(documents, projection, owner, generation));
    if (!written) throw new RebuildRefusedError('REBUILD_IN_PROGRESS', `a rebuild of ${projection} was started by another process at the same moment`);
    const lock = new RebuildLock(documents, projection, owner, generation, ttlMs, now);
    lock.timer = setInterval(() => void lock.renew().catch((error: unknown) => (lock.lostReason ??= `could not renew the rebuild lock: ${error instanceof Error ? error.message : String(error)}`)), Math.max(10, ttlMs / 3));
    lock.timer.unref();
    return lock;
  }

  /** Extends the lock; a lock someone else took meanwhile (it had expired) is lost for good. */
  async renew(): Promise<void> {
    if (this.lostReason) return;
    const written =
      (await this.documents.collection<LockDoc>(REBUILD_LOCKS).upsertIfNewer({ _id: this.projection, owner: this.owner, expiresAt: this.now() + this.ttlMs, takenAt: new Date(this.now()).toISOString() }, this.generation + 1)) &&
      (await claimGeneration(this.documents, this.projection, this.owner, this.generation + 1));
    if (written) this.generation++;
    else this.lostReason = `the rebuild lock of ${this.projection} was taken over by another process (it expired)`;
  }

  /** Renews the lock now and fails if it is not held any more: called before the switch. */
  async confirm(): Promise<void> {
    await this.renew();
    if (this.lostReason) throw new RebuildRefusedError('REBUILD_IN_PROGRESS', this.lostReason);
  }

  /**
   * Gives the lock up (only if still ours: the write is guarded by our generation). It is marked
   * expired rather than deleted, so that generations only grow: a deleted document would start
   * again at generation 1, which a stale holder could then overwrite.
   */
  async release(): Promise<void> {
    clearInterval(this.timer);
    if (this.lostReason) return;
    await this.documents.collection<LockDoc>(REBUILD_LOCKS).upsertIfNewer({ _id: this.projection, owner: this.owner, expiresAt: 0, takenAt: new Date(this.now()).toISOString() }, this.generation + 1);
  }
}
