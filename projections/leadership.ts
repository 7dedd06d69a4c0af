import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import { DEFAULT_LEASE_OPTIONS, newOwnerId, ProjectionLease, takeoverBoundMs, type LeaseOptions } from './lease.js';
import type { Projection } from './projection.js';
import { Projector, type ProjectorDeps, type ProjectorOptions } from './projector.js';

/**
 * Runs a projector only while this process holds its projection's lease: every `renewMs` the
 * holder renews it, a standby tries to take it. Losing it (taken, or not renewed in time while
 * the document store is unreachable) stops the projector at once; the projector itself also
 * checks the lease before every write, so it stops writing even between two looks. Taking it
 * over starts the projector from the checkpoint (claimed under the new epoch): what the previous
 * holder applied after its last checkpoint is applied again, which position-guarded writes make
 * harmless and the relay's consumers recognise by message id (at-least-once).
 */
export class ProjectorLeadership {
  private timer: NodeJS.Timeout | undefined;
  private stepping: Promise<void> | undefined;
  /** The projector starting (or rebuilding at its start): renewals go on meanwhile. */
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly projector: Projector,
    private readonly lease: ProjectionLease,
    private readonly deps: { metrics: Metrics; logger: Logger },
    private readonly options: LeaseOptions,
  ) {}

  /** Takes the lease if it can (at once when nobody holds it) and keeps trying or renewing. */
  async start(): Promise<void> {
    this.deps.metrics.projectionLeaseHeld.set({ projection: this.projector.name }, 0);
    await this.step();
    this.timer = setInterval(() => void this.step(), this.options.renewMs);
    this.timer.unref();
    await this.starting; // a process that takes the lease at once projects when start() resolves
  }

  /** Holding the lease for the projector: running, starting, or switching to a rebuilt read model. */
  private get busy(): boolean {
    return this.projector.running || this.starting !== undefined || this.projector.rebuildProgress.state === 'running';
  }

  /** One look at a time: a slow store never stacks them up. */
  private step(): Promise<void> {
    return (this.stepping ??= this.look().finally(() => (this.stepping = undefined)));
  }

  private async look(): Promise<void> {
    if (this.stopped) return;
    const { logger, metrics } = this.deps;
    const name = this.projector.name;
    try {
      if (this.busy) await this.lease.renew();
      else if (await this.lease.tryAcquire()) this.promote();
    } catch (error) {
      logger.warn({ err: error, projection: name, epoch: this.lease.epoch }, this.projector.running ? 'could not renew the projection lease' : 'could not look at the projection lease');
    }
    if (this.projector.running && !this.lease.holds) {
      logger.warn({ projection: name, epoch: this.lease.epoch, position: this.projector.currentPosition }, 'projection lease lost; standing by');
      await this.projector.stop().catch((error: unknown) => logger.error({ err: error, projection: name }, 'stopping a projector that lost its lease failed'));
    }
    metrics.projectionLeaseHeld.set({ projection: name }, this.projector.running && this.lease.holds ? 1 : 0);
  }

  /** Starts the projector in the background: the looks go on renewing the lease while it starts (a rebuild at start may take long). */
  private promote(): void {
    const name = this.projector.name;
    const tookOver = this.lease.tookOver;
    if (tookOver) this.deps.metrics.projectionLeaseTakeovers.inc({ projection: name });
    this.deps.logger.info({ projection: name, epoch: this.lease.epoch, tookOver }, 'projection lease acquired; projecting');
    this.starting = this.projector
      .start()
      .then(async () => {
        // The previous holder may have died between a flush and its cache invalidations (the events it
        // applied after its last checkpoint are applied again here as no-ops, which invalidate nothing).
        if (tookOver && this.projector.running) await this.projector.invalidateCachedReads();
        this.deps.metrics.projectionLeaseHeld.set({ projection: name }, this.projector.running && this.lease.holds ? 1 : 0);
      })
      .catch(async (error: unknown) => {
        // Tried again at a later look (the lease stays ours while it is renewed).
        this.deps.logger.error({ err: error, projection: name, epoch: this.lease.epoch }, 'starting the projector failed');
        if (this.projector.running) await this.projector.stop();
      })
      .finally(() => (this.starting = undefined));
  }

  /** Stops projecting and releases the lease, so a standby takes over at its next look instead of after the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.stepping;
    await this.starting;
    if (this.projector.running) await this.projector.stop();
    await this.lease.release().catch((error: unknown) => this.deps.logger.warn({ err: error, projection: this.projector.name }, 'could not release the projection lease; a standby takes over once it expires'));
    this.deps.metrics.projectionLeaseHeld.set({ projection: this.projector.name }, 0);
  }
}

/**
 * A projector per projection, each under its own lease in the document store (one owner id for
 * the process). With the embedded in-memory document store every process has read models of its
 * own, and its leases are acquired at the first look.
 */
export function leasedProjectors(projections: readonly Projection[], deps: ProjectorDeps, options: ProjectorOptions, lease: LeaseOptions = DEFAULT_LEASE_OPTIONS, owner: string = newOwnerId()): ProjectorLeadership[] {
  deps.logger.info({ owner, ttlMs: lease.ttlMs, renewMs: lease.renewMs, takeoverBoundMs: takeoverBoundMs(lease) }, 'projection leases');
  return projections.map((projection) => {
    const held = new ProjectionLease(deps.documents, projection.name, owner, lease);
    return new ProjectorLeadership(new Projector(projection, deps, { ...options, fence: held }), held, deps, lease);
  });
}
