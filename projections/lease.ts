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

/** One epoch of a projection's lease: `_id` is `<projection>#<epoch>`. */
interface LeaseDoc extends Doc {
  projection: string;
  /** Who holds (or held) it. */
  owner: string;
  /** Fencing token: grows by one at every change of holder; checkpoints are written under it. */
  epoch: number;
  /** Grows at every renewal: a standby that sees it unchanged for `ttlMs` may take over. */
  version: number;
  /** Given up by its holder (a clean shutdown): the next epoch may be taken at once. */
  released: boolean;
  /** The holder's TTL (what a standby waits). */
  ttlMs: number;
  /** Wall-clock time of the last write, for people reading the document; nobody's clock decides expiry. */
  renewedAt: string;
}

/** `_id` is the projection's name: the latest epoch taken, to start probing from. */
interface LeaseHint extends Doc {
  epoch: number;
}

/**
 * A checkpoint document. `<id>` is what readers read (lag, readiness, read-your-writes, versions):
 * the furthest position a holder saved, never moved backwards. `<id>#<epoch>` is the checkpoint of
 * one lease epoch (`checkpoint` names `<id>`): inserted by the epoch's claim, then written by its
 * holder only; the next holder resumes from the latest epoch's document.
 */
interface FencedCheckpoint extends Doc {
  position: number;
  /** Epoch of the lease under which it was written (none: written without a lease, or before leases existed). */
  epoch?: number;
  /** On an epoch's document: the checkpoint (`<id>`) it belongs to. */
  checkpoint?: string;
}

/** The id of the checkpoint `id`'s document for one lease epoch. */
export const epochCheckpointId = (id: string, epoch: number) => `${id}#${epoch}`;

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
 * guards (MongoDB / FerretDB in production; with the embedded in-memory store every process has
 * read models of its own, and the lease is simply acquired at once).
 *
 * One document per epoch (`<projection>#<epoch>`): taking the lease is *inserting* the next
 * epoch's document, which the unique `_id` lets exactly one process do, atomically even on
 * FerretDB v1 (whose conditional replace is a read then a write, not atomic against a concurrent
 * writer: the contract test of two racing standbys caught both winning that way). Only the
 * holder writes its epoch's document afterwards (renewals, release), so no write there is
 * contended; a renewal also looks for a next epoch and gives up when it finds one. A small hint
 * document (`<projection>`) names the latest epoch, so a starting process does not probe from 1.
 *
 * Expiry is judged by each process on its own monotonic clock, never by comparing clocks (as
 * Kubernetes leader election does): the holder counts from when it *sent* its last successful
 * renewal and stops writing `renewMs` before `ttlMs` runs out (a renewal answered after that
 * does not revive it: the projector has stopped, and takes the lease again through
 * `tryAcquire`); a standby counts from when it *received* the lease's current version (after
 * that renewal landed) and takes it only once it stayed unchanged for `ttlMs` more. So the holder
 * has stopped writing at least `renewMs` before a standby can take over, whatever the clocks
 * say, as long as their rates agree and a write checked against the lease reaches the store
 * within that margin.
 */
export class ProjectionLease implements Fence {
  /** The epoch this process holds (0: none yet). */
  private heldEpoch = 0;
  private version = 0;
  /** Monotonic time until which this process may write. */
  private validUntil = -Infinity;
  /** The highest epoch known to exist (its document was read or written). */
  private knownEpoch = 0;
  /** What a standby last saw, and since when. */
  private seen: { epoch: number; version: number; since: number } | undefined;
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

  private idOf(epoch: number): string {
    return `${this.projection}#${epoch}`;
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

  private doc(epoch: number, version: number, released = false): LeaseDoc {
    return { _id: this.idOf(epoch), projection: this.projection, owner: this.owner, epoch, version, released, ttlMs: this.options.ttlMs, renewedAt: new Date().toISOString() };
  }

  /** The latest epoch's document (undefined: nobody ever held the lease). */
  private async latest(): Promise<LeaseDoc | undefined> {
    if (this.knownEpoch === 0) this.knownEpoch = (await this.documents.collection<LeaseHint>(LEASES).get(this.projection))?.epoch ?? 0;
    let latest = this.knownEpoch > 0 ? await this.leases.get(this.idOf(this.knownEpoch)) : undefined;
    for (;;) {
      const next = await this.leases.get(this.idOf(this.knownEpoch + 1));
      if (!next) return latest;
      latest = next;
      this.knownEpoch++;
    }
  }

  /**
   * One step of a standby (or of a holder: it renews): acquires the lease when nobody ever held
   * it, when it was released, or when its latest epoch stayed unchanged for its TTL since this
   * process first saw it. Returns whether this process holds it now.
   */
  async tryAcquire(): Promise<boolean> {
    if (this.holds) return this.renew();
    const sentAt = this.now();
    const latest = await this.latest();
    // Still ours: our margin ran out (this process stopped writing) but nobody took it; the same epoch again.
    if (latest && latest.owner === this.owner && latest.epoch === this.heldEpoch && !latest.released) {
      this.takenFromOther = false;
      return this.extend(sentAt);
    }
    let expired = latest === undefined || latest.released;
    if (latest && !expired) {
      const seen = this.seen;
      if (seen?.epoch === latest.epoch && seen.version === latest.version) expired = this.now() - seen.since >= latest.ttlMs;
      else this.seen = { epoch: latest.epoch, version: latest.version, since: this.now() }; // counted from the answer: never early
    }
    if (!expired) return false;
    const epoch = (latest?.epoch ?? 0) + 1;
    if (!(await this.leases.replaceIf(this.doc(epoch, 1), epoch, null))) {
      this.knownEpoch = Math.max(this.knownEpoch, epoch); // another process took it first
      return false;
    }
    this.knownEpoch = epoch;
    this.heldEpoch = epoch;
    this.version = 1;
    this.validUntil = sentAt + this.options.ttlMs - this.options.renewMs;
    this.takenFromOther = latest !== undefined;
    this.seen = undefined;
    // Only a hint (a lower one written late is corrected by probing upwards).
    await this.documents.collection<LeaseHint>(LEASES).upsertIfNewer({ _id: this.projection, epoch }, epoch);
    return true;
  }

  /**
   * Renews the lease this process holds. Refused when another owner took it (this process then
   * holds nothing), and when it lapsed (its margin ran out, so the projector stopped writing):
   * a lapsed lease is taken again only by `tryAcquire`, once the projector has stopped, so that
   * a projector never keeps running past a lapse. A store that cannot be reached throws, and the
   * lease runs out on its own.
   */
  async renew(): Promise<boolean> {
    if (!this.holds) return false;
    return this.extend(this.now());
  }

  private async extend(sentAt: number): Promise<boolean> {
    const wasHeld = this.holds;
    const version = this.version + 1;
    await this.leases.replaceIf(this.doc(this.heldEpoch, version), this.heldEpoch, { owner: this.owner });
    if (await this.leases.get(this.idOf(this.heldEpoch + 1))) {
      this.knownEpoch = Math.max(this.knownEpoch, this.heldEpoch + 1);
      this.lose();
      return false;
    }
    this.version = version;
    // A renewal answered after the lease lapsed does not revive it (the projector may have stopped writing meanwhile).
    if (wasHeld && !this.holds) return false;
    this.validUntil = Math.max(this.validUntil, sentAt + this.options.ttlMs - this.options.renewMs);
    return true;
  }

  /** Gives the lease up (a clean shutdown): a standby takes it at its next look, without waiting for the TTL. */
  async release(): Promise<void> {
    if (this.heldEpoch === 0) return;
    this.lose();
    await this.leases.replaceIf(this.doc(this.heldEpoch, this.version + 1, true), this.heldEpoch, { owner: this.owner });
  }

  private lose(): void {
    this.validUntil = -Infinity;
  }

  /**
   * Claims checkpoint `id` for this epoch by *inserting* its epoch's document (`<id>#<epoch>`),
   * which the unique `_id` lets happen once, atomically even on FerretDB v1 (whose conditional
   * replace is a read then a write: two writers can both pass its condition). It starts at the
   * position of the latest earlier epoch's document (or of `<id>` itself, for a checkpoint written
   * without a lease: a rebuild's, or one from before leases). A previous holder that has not
   * noticed yet writes only its own epoch's document afterwards, which nobody resumes from any
   * more: however late its write lands, it cannot move the checkpoint the new holder claimed.
   * Claiming again under the same epoch (the projector restarted) returns what the epoch saved.
   */
  async claimCheckpoint(id: string): Promise<number> {
    const checkpoints = this.documents.collection<FencedCheckpoint>(CHECKPOINTS);
    for (;;) {
      if (!this.holds) throw new LeaseLostError(`${this.projection}: the lease (epoch ${this.heldEpoch}) ran out before its checkpoint was claimed`);
      const epoch = this.heldEpoch;
      const own = await checkpoints.get(epochCheckpointId(id, epoch));
      if (own) return own.position;
      if (await this.superseded()) throw new LeaseLostError(`${this.projection}: a newer epoch than ${epoch} holds the lease`);
      const [latest] = (await checkpoints.find({ filter: { checkpoint: id, epoch: { $lt: epoch } }, sort: [['epoch', -1]], first: 1 })).items;
      const position = latest?.position ?? (await checkpoints.get(id))?.position ?? 0;
      if (await checkpoints.replaceIf({ _id: epochCheckpointId(id, epoch), checkpoint: id, epoch, position }, position, null)) {
        // Epochs before the previous one are history: nobody resumes from them (a late write may recreate one; the next claim removes it again).
        for (const old of (await checkpoints.find({ filter: { checkpoint: id, epoch: { $lt: epoch - 1 } }, first: 100 })).items) await checkpoints.deleteIfNewer(old._id, Number.MAX_SAFE_INTEGER);
        return position;
      }
      // Inserted meanwhile under this very epoch (a claim of this process running twice): read it.
    }
  }

  /**
   * Saves the position in this epoch's checkpoint document, then, unless a newer epoch holds the
   * lease (this holder then counts it as lost and returns false), in `<id>` for readers (guarded:
   * never backwards). Nothing written here can move where the next holder resumes: that is its
   * own epoch's document, from its claim on.
   */
  async saveCheckpoint(id: string, position: number): Promise<boolean> {
    if (!this.holds) return false;
    const epoch = this.heldEpoch;
    const checkpoints = this.documents.collection<FencedCheckpoint>(CHECKPOINTS);
    await checkpoints.upsertIfNewer({ _id: epochCheckpointId(id, epoch), checkpoint: id, epoch, position }, position);
    if (await this.superseded()) return false;
    await checkpoints.upsertIfNewer({ _id: id, position, epoch }, position);
    return true;
  }

  /** Whether a newer epoch of the lease exists (then this process holds nothing any more). */
  private async superseded(): Promise<boolean> {
    if (!(await this.leases.get(this.idOf(this.heldEpoch + 1)))) return false;
    this.knownEpoch = Math.max(this.knownEpoch, this.heldEpoch + 1);
    this.lose();
    return true;
  }
}
