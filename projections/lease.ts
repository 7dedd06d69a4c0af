import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Collection, Doc, DocumentStore } from '../platform/documents/document-store.js';
import { CHECKPOINTS } from './lag.js';

/** One lease document per projection. */
export const LEASES = 'projection_leases';

export interface LeaseOptions {
  /**
   * How long a lease lasts without a renewal. A holder that could not renew for `ttlMs -
   * renewMs` stops writing; a standby takes over once it has seen the lease unchanged for
   * `ttlMs` (by its own clock). Takeover after a holder dies: at most `ttlMs + 2 * renewMs`.
   */
  ttlMs: number;
  /** How often the holder renews and a standby looks at the lease. */
  renewMs: number;
}

export const DEFAULT_LEASE_OPTIONS: LeaseOptions = { ttlMs: 5000, renewMs: 1000 };

/** The longest a projection goes without a writer after its holder dies (then it catches up from the checkpoint). */
export const takeoverBoundMs = (options: LeaseOptions) => options.ttlMs + 2 * options.renewMs;

interface LeaseDoc extends Doc {
  /** Who holds it; null once released. */
  owner: string | null;
  /** Fencing token: grows by one at every change of holder; checkpoints are written under it. */
  epoch: number;
  /** Grows at every renewal: a standby that sees it unchanged for `ttlMs` may take over. */
  version: number;
  /** The holder's TTL (what a standby waits). */
  ttlMs: number;
  /** Wall-clock time of the last write, for people reading the document; nobody's clock decides expiry. */
  renewedAt: string;
}

interface FencedCheckpoint extends Doc {
  position: number;
  /** Epoch of the lease under which it was last written; a lower epoch may no longer write it. */
  epoch?: number;
}

/** What a projector checks before it writes, and how it writes its checkpoint. */
export interface Fence {
  /** Whether this process may still write: it holds the lease, with a margin before it could expire. */
  readonly holds: boolean;
  /** Takes the projection's checkpoint under this lease's epoch (later writes of older epochs are refused); returns its position. */
  claimCheckpoint(id: string): Promise<number>;
  /** Saves the position under this epoch; false (and the lease counts as lost) when a newer epoch claimed it. */
  saveCheckpoint(id: string, position: number): Promise<boolean>;
}

/** Raised when a checkpoint belongs to a newer epoch than the lease this process holds. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  readonly code = 'LEASE_LOST';
}

/** A process-unique owner id: host, pid and a random part (a restarted process is a new owner). */
export const newOwnerId = () => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/**
 * A projection's lease, kept in the document store next to the read model and checkpoint it
 * guards, so that fencing and the data meet in one store (MongoDB in production; with the
 * embedded in-memory store, every process has its own read models and the lease is simply
 * acquired at once).
 *
 * Every change is a compare-and-set on the lease document (`replaceIf`; FerretDB has no
 * transactions but serves a conditional replace by `_id`). Expiry is judged by each process on
 * its own monotonic clock, never by comparing clocks (as Kubernetes leader election does): the
 * holder counts from when it *sent* its last successful renewal and stops writing `renewMs`
 * before `ttlMs` runs out; a standby counts from when it first *saw* the lease's current
 * version, which is after that renewal was sent, and takes over only after `ttlMs` more. So the
 * holder has stopped before a standby can take over, whatever the clocks say, as long as their
 * rates agree and a write checked against the lease reaches the store within the margin.
 */
export class ProjectionLease implements Fence {
  /** The epoch this process holds (0: none yet). */
  private heldEpoch = 0;
  private version = 0;
  /** Monotonic time until which this process may write. */
  private validUntil = -Infinity;
  /** What a standby last saw, and since when. */
  private seen: { owner: string | null; epoch: number; version: number; since: number } | undefined;
  private takenFromOther = false;

  constructor(
    private readonly documents: DocumentStore,
    readonly projection: string,
    readonly owner: string,
    private readonly options: LeaseOptions = DEFAULT_LEASE_OPTIONS,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(options.renewMs > 0 && options.ttlMs > 2 * options.renewMs)) throw new RangeError(`a lease's TTL (${options.ttlMs} ms) must exceed twice its renewal interval (${options.renewMs} ms)`);
  }

  private get leases(): Collection<LeaseDoc> {
    return this.documents.collection<LeaseDoc>(LEASES);
  }

  get holds(): boolean {
    return this.heldEpoch > 0 && this.now() < this.validUntil;
  }

  /** The epoch held (or last held). */
  get epoch(): number {
    return this.heldEpoch;
  }

  /** Whether the last acquisition took the lease from another owner (expired or released), not a fresh one. */
  get tookOver(): boolean {
    return this.takenFromOther;
  }

  private doc(epoch: number, version: number, owner: string | null = this.owner): LeaseDoc {
    return { _id: this.projection, owner, epoch, version, ttlMs: this.options.ttlMs, renewedAt: new Date().toISOString() };
  }

  /**
   * One step of a standby (or of a holder: it renews): acquires the lease when there is none,
   * when it was released, or when it stayed unchanged for its TTL since this process first saw
   * it. Returns whether this process holds it now.
   */
  async tryAcquire(): Promise<boolean> {
    if (this.heldEpoch > 0 && this.holds) return this.renew();
    const sentAt = this.now();
    const stored = await this.leases.get(this.projection);
    if (!stored) return this.won(await this.leases.replaceIf(this.doc(1, 1), 0, null), 1, sentAt, false);
    if (stored.owner === this.owner && stored.epoch === this.heldEpoch) return this.renew(); // ours; our margin ran out but nobody took it
    const seen = this.seen;
    const same = seen !== undefined && seen.owner === stored.owner && seen.epoch === stored.epoch && seen.version === stored.version;
    if (!same) this.seen = { owner: stored.owner, epoch: stored.epoch, version: stored.version, since: sentAt };
    const expired = stored.owner === null || (same && sentAt - seen.since >= stored.ttlMs);
    if (!expired) return false;
    const epoch = stored.epoch + 1;
    return this.won(await this.leases.replaceIf(this.doc(epoch, 1), epoch, { epoch: stored.epoch, version: stored.version }), epoch, sentAt, true);
  }

  private won(acquired: boolean, epoch: number, sentAt: number, fromOther: boolean): boolean {
    if (!acquired) return false;
    this.heldEpoch = epoch;
    this.version = 1;
    this.validUntil = sentAt + this.options.ttlMs - this.options.renewMs;
    this.takenFromOther = fromOther;
    this.seen = undefined;
    return true;
  }

  /**
   * Renews the lease this process holds. Refused when another owner took it (this process then
   * holds nothing); a store that cannot be reached throws, and the lease runs out on its own.
   */
  async renew(): Promise<boolean> {
    if (this.heldEpoch === 0) return false;
    const sentAt = this.now();
    const version = this.version + 1;
    if (await this.leases.replaceIf(this.doc(this.heldEpoch, version), this.heldEpoch, { owner: this.owner, epoch: this.heldEpoch })) {
      this.version = version;
      this.validUntil = Math.max(this.validUntil, sentAt + this.options.ttlMs - this.options.renewMs);
      return true;
    }
    this.lose();
    return false;
  }

  /** Gives the lease up (a clean shutdown): a standby takes it at its next look, without waiting for the TTL. */
  async release(): Promise<void> {
    if (this.heldEpoch === 0) return;
    const epoch = this.heldEpoch;
    this.lose();
    await this.leases.replaceIf(this.doc(epoch, this.version + 1, null), epoch, { owner: this.owner, epoch });
  }

  private lose(): void {
    this.validUntil = -Infinity;
  }

  async claimCheckpoint(id: string): Promise<number> {
    const checkpoints = this.documents.collection<FencedCheckpoint>(CHECKPOINTS);
    for (;;) {
      if (!this.holds) throw new LeaseLostError(`${this.projection}: the lease (epoch ${this.heldEpoch}) ran out before its checkpoint was claimed`);
      const stored = await checkpoints.get(id);
      if (!stored) {
        if (await checkpoints.replaceIf({ _id: id, position: 0, epoch: this.heldEpoch }, 0, null)) return 0;
        continue;
      }
      const epoch = stored.epoch ?? 0;
      if (epoch > this.heldEpoch) {
        this.lose();
        throw new LeaseLostError(`${this.projection}: its checkpoint belongs to epoch ${epoch}, this process holds ${this.heldEpoch}`);
      }
      if (epoch === this.heldEpoch) return stored.position;
      // Exactly what was read: a write of the previous holder in between makes this fail, and it is read again.
      const expected = { position: stored.position, _position: stored._position ?? null, epoch: stored.epoch ?? null };
      if (await checkpoints.replaceIf({ _id: id, position: stored.position, epoch: this.heldEpoch }, stored._position ?? stored.position, expected)) return stored.position;
    }
  }

  async saveCheckpoint(id: string, position: number): Promise<boolean> {
    if (!this.holds) return false;
    const saved = await this.documents.collection<FencedCheckpoint>(CHECKPOINTS).replaceIf({ _id: id, position, epoch: this.heldEpoch }, position, { epoch: this.heldEpoch, position: { $lte: position } });
    if (!saved) {
      const stored = await this.documents.collection<FencedCheckpoint>(CHECKPOINTS).get(id);
      if ((stored?.epoch ?? 0) !== this.heldEpoch) this.lose();
    }
    return saved;
  }
}
