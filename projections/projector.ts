import { randomUUID } from 'node:crypto';
import type { ServicePorts } from '../platform/ports.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Collection, CollectionVersion, Doc } from '../platform/documents/document-store.js';
import { isTransient } from '../platform/errors.js';
import type { AllSubscription, RecordedEvent } from '../platform/event-store/event-store.js';
import { BatchTarget, DocumentMemory } from './batch-target.js';
import { EffectsQueue } from './effects.js';
import { readModelTag } from '../platform/cache/response-tags.js';
import { CHECKPOINTS, checkpointId, lagBehind, type Lag } from './lag.js';
import { PositionAnnouncer } from './read-your-writes.js';
import type { ApplyResult, Projection, ProjectionTarget } from './projection.js';
import { declaredVersion, lockOwner, RebuildLock, RebuildRefusedError, recordVersion, versionPlan, type VersionPlan } from './versions.js';
import type { Fence } from './lease.js';

export { CHECKPOINTS };

/** A rebuild writes out what it holds once this many documents are pending, or after this many events. */
const REBUILD_FLUSH_DOCUMENTS = 1000;
const REBUILD_FLUSH_EVENTS = 20_000;

/** Events that kept failing, one document each, for every projection. */
export const PARKED = 'projection_parked';

export interface ParkedEvent extends Doc {
  projection: string;
  position: number;
  eventId: string;
  type: string;
  streamName: string;
  error: string;
  attempts: number;
  parkedAt: string;
}

export interface ProjectorOptions {
  /**
   * The least time between two checkpoint writes (default 1000 ms). Read-model writes are guarded
   * by the event's position, so a restart from an older checkpoint re-applies at most this much
   * and changes nothing; services learn positions from the announcements (read-your-writes.ts),
   * the checkpoint is their fallback. With a dozen projections per process, 100 ms made the
   * checkpoint writes a third of all document-store writes in the soak.
   */
  checkpointEveryMs?: number;
  lagIntervalMs?: number;
  maxBatch?: number;
  /** Unhealthy (readiness 503) once the oldest unapplied event is older than this. */
  maxLagSeconds?: number;
  /** No progress for this long while events wait: the subscription is restarted and it is reported. */
  stallSeconds?: number;
  /** Attempts at an event whose handler keeps failing (not a server outage) before it is parked. */
  maxAttempts?: number;
  /** How often a projection that feeds the gateway's response cache says it is alive (default 1 s). */
  heartbeatMs?: number;
  /** How long a rebuild lock outlives its holder's last renewal (default 30 s; projections/versions.ts). */
  rebuildLockTtlMs?: number;
  /** How long a version rebuild waits before trying again after it failed or found another one running (default 5 s). */
  versionRetryMs?: number;
  /**
   * The projection's lease, when several processes may run it (projections/lease.ts): nothing is
   * written, published or checkpointed once it no longer holds, and the checkpoint is written
   * under its epoch. Without one, this process is the only writer.
   */
  fence?: Fence;
}

export interface ProjectorHealth {
  ok: boolean;
  /** Why not, in a few words (for readiness and /projections). */
  reason?: string;
}

/** Cache tag every entry derived from a collection carries; a rebuild invalidates it. */
export const collectionTag = (collection: string) => `collection:${collection}`;

interface Checkpoint extends Doc {
  position: number;
}

export type ProjectorDeps = ServicePorts;

export interface RebuildProgress {
  projection: string;
  state: 'idle' | 'running' | 'done' | 'failed';
  /** Why: asked for (HTTP, replay CLI), the declared version is newer than the live one, or the read model was ahead of the event store. */
  reason?: 'requested' | 'version' | 'ahead';
  /** The projection version the rebuild builds. */
  version?: number;
  applied: number;
  /** Head position when the rebuild started: what it must reach before switching. */
  target: number;
  position: number;
  error?: string;
}

/**
 * Runs one projection: a catch-up subscription from its checkpoint, then live. Checkpoints are
 * stored per physical collection version in the document store, next to the data they describe.
 *
 * Failures: a server outage (the document store, the bus) is retried with backoff for as long as
 * it lasts, never skipped. A handler that keeps failing on one event (a bug, a malformed event)
 * is tried `maxAttempts` times, then the event is parked (stored with its projection, position,
 * id and error, counted, listed at /projections) and the projection's policy applies: `stop`
 * stands at the event (readiness says so) until the parked event is retried on demand; `park`
 * moves on. Nothing is skipped silently.
 *
 * Health: lag (events and seconds behind the head) is exported as metrics and makes the
 * projector unready beyond `maxLagSeconds`; a projection that makes no progress for
 * `stallSeconds` while events wait has its subscription restarted, and the restart is counted.
 */
export class Projector {
  private subscription: AllSubscription | undefined;
  private loop: Promise<void> | undefined;
  private stopped = true;
  private position = 0;
  private lastCheckpointAt = 0;
  private lastSaved = 0;
  private waiters: { position: number; resolve: () => void }[] = [];
  private lagTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private rebuildState: RebuildProgress;
  private readonly effects: EffectsQueue;
  private rebuildingAtStart = false;
  private lag: Lag = { head: 0, events: 0, seconds: 0 };
  /** When the position last moved (or the projection was last found caught up). */
  private progressAt = Date.now();
  /** Set to end the current subscription and start a new one from the position. */
  private restarting = false;
  /** The event a `stop`-policy projection stands at, until its parked event is retried. */
  private halted: ParkedEvent | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** What the flushes wrote, so later batches need not read it again (afresh at every start: a rebuild switches collections). */
  private memory = new DocumentMemory();
  /** Set while a rebuild runs in this process, from the moment it is asked for (refuses a second one). */
  private rebuilding = false;
  /** The running rebuild, which `stop` abandons and waits for. */
  private rebuildRun: Promise<unknown> | undefined;
  /** Set by `stop`: a rebuild in progress is abandoned and nothing restarts projection. */
  private closing = false;
  /** Why this projector refuses to write the live read model (it was built by a newer version). */
  private refusal: string | undefined;
  /** A version rebuild this projector must do before it projects (and what held it up last). */
  private versionPending: { live: number; declared: number; waiting: string | undefined } | undefined;
  /** Checks that no newer version of the projection has switched the read model under this projector. */
  private versionTimer: NodeJS.Timeout | undefined;
  /** The background loop of a version rebuild (`stop` ends it and waits for it). */
  private versionLoop: { done: Promise<void>; abort: AbortController } | undefined;
  /** Names this projector as the holder of a rebuild lock. */
  private readonly owner = lockOwner();
  /** Tells the services reading this read model how far it is, for read-your-writes (projections/read-your-writes.ts). */
  private readonly announcer: PositionAnnouncer;

  constructor(
    private readonly projection: Projection,
    private readonly deps: ProjectorDeps,
    private readonly options: ProjectorOptions = {},
  ) {
    this.rebuildState = { projection: projection.name, state: 'idle', applied: 0, target: 0, position: 0 };
    this.effects = new EffectsQueue(deps);
    // Exported at 0 from the start, so that alerts on them (and `increase()`) see the first one.
    const labels = { projection: projection.name };
    deps.metrics.projectionErrors.inc(labels, 0);
    deps.metrics.projectionRestarts.inc({ ...labels, reason: 'stalled' }, 0);
    deps.metrics.projectionHalted.set(labels, 0);
    this.announcer = new PositionAnnouncer(this, deps);
  }

  /**
   * Makes every cache entry derived from the read model stale (its collections' tags), delivered
   * as the projector's other effects are (retried while the cache is down). For a projector that
   * took over from another process: that one may have died between a batch's flush and its
   * invalidations, and applying those events again here changes nothing, so invalidates nothing.
   */
  async invalidateCachedReads(): Promise<void> {
    await this.effects.enqueue(this.projection.collections.map(collectionTag), []);
  }

  /** Side effects not yet delivered (the cache or pub/sub server being down). */
  get pendingEffects(): number {
    return this.effects.pending;
  }

  get name(): string {
    return this.projection.name;
  }

  /** What happens at an event whose handler keeps failing: `stop` there, or `park` it and move on. */
  get poisonPolicy(): 'stop' | 'park' {
    return this.projection.onPoison ?? 'stop';
  }

  get rebuildable(): boolean {
    return this.projection.rebuildable !== false;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Last global position processed (applied or skipped). */
  get currentPosition(): number {
    return this.position;
  }

  private checkpointId(): Promise<string> {
    return checkpointId(this.deps.documents, this.projection);
  }

  /** `standby` while another process holds the projection's lease (this one waits to take over). */
  get role(): 'active' | 'standby' {
    return this.options.fence && (this.stopped || !this.options.fence.holds) ? 'standby' : 'active';
  }

  /** No longer allowed to write: the lease ran out or was taken. */
  private get fenced(): boolean {
    return this.options.fence !== undefined && !this.options.fence.holds;
  }

  /** Healthy: running, not standing at a parked event, not stalled, and within the lag limit; or a standby. */
  get health(): ProjectorHealth {
    if (this.refusal) return { ok: false, reason: this.refusal };
    if (this.role === 'standby' && !this.halted && this.rebuildState.state !== 'running') return { ok: true, reason: 'standby: another process holds the lease' };
    const pending = this.versionPending;
    if (pending && this.stopped) {
      const rebuild = this.rebuildState;
      const doing = rebuild.state === 'running' && rebuild.reason === 'version' ? `rebuilding the read model aside for version ${pending.declared} (position ${rebuild.position} of ${rebuild.target})` : `waiting to rebuild the read model for version ${pending.declared}${pending.waiting ? ` (${pending.waiting})` : ''}`;
      return { ok: true, reason: `${doing}; the version ${pending.live} read model serves meanwhile, not updated until the switch` };
    }
    if (this.halted) return { ok: false, reason: `stopped at event ${this.halted.eventId} (position ${this.halted.position}), parked after ${this.halted.attempts} failed attempts: ${this.halted.error}` };
    if (this.stopped) return { ok: false, reason: this.rebuildState.state === 'running' ? 'switching to a rebuilt read model' : 'not running' };
    const maxLag = this.options.maxLagSeconds ?? Infinity;
    if (this.lag.seconds > maxLag) return { ok: false, reason: `${this.lag.seconds.toFixed(1)} s (${this.lag.events} events) behind the event store; the limit is ${maxLag} s` };
    return { ok: true };
  }

  get lagBehind(): Lag {
    return { ...this.lag };
  }

  async start(): Promise<void> {
    this.closing = false;
    for (const [name, indexes] of Object.entries(this.projection.indexes ?? {})) await this.deps.documents.ensureIndexes(name, indexes);
    // A projection that cannot be rebuilt (the relay) has no versions to compare.
    const plan = this.projection.rebuildable === false ? undefined : await versionPlan(this.deps.documents, this.projection);
    if (plan?.action === 'refuse') {
      this.refusal = `the live read model was built by version ${plan.live} of ${this.projection.name}; this projector runs version ${plan.declared} and never downgrades it (an older release started after a newer one?)`;
      this.deps.logger.error({ projection: this.projection.name, live: plan.live, declared: plan.declared }, 'refusing to write a read model built by a newer version of its projection');
      return;
    }
    this.refusal = undefined;
    if (plan?.action === 'rebuild') {
      // This version's apply must not write the old read model (its documents would mix both
      // versions): the old one serves as it is until the rebuilt one, caught up to the head, replaces it.
      this.rebuildForVersion(plan);
      return;
    }
    if (plan?.live === undefined && plan) await recordVersion(this.deps.documents, await this.checkpointId(), plan.declared); // a new read model: this version builds it
    const id = await this.checkpointId();
    // Under a lease, the checkpoint is claimed for its epoch first: a previous holder's late write cannot move it.
    this.position = this.options.fence ? await this.options.fence.claimCheckpoint(id) : ((await this.deps.documents.collection<Checkpoint>(CHECKPOINTS).get(id))?.position ?? 0);
    this.lastSaved = this.position;
    const head = await this.deps.events.headPosition();
    if (this.position > head) {
      // The read model is ahead of the event store: it was built from other events (a wiped or
      // different event store). Serving it would be wrong and its position guards would ignore
      // the new events, so rebuild it from this event store before projecting live.
      this.deps.logger.warn({ projection: this.projection.name, checkpoint: this.position, head }, 'read model is ahead of the event store; rebuilding it');
      this.position = 0;
      this.lastSaved = 0;
      this.rebuildingAtStart = true;
      try {
        await this.rebuild();
      } finally {
        this.rebuildingAtStart = false;
      }
      return;
    }
    this.stopped = false;
    this.memory = new DocumentMemory();
    this.progressAt = Date.now();
    this.effects.resume();
    await this.refreshParked();
    this.loop = this.supervise();
    await this.updateLag(); // the lag gauges and health are measured from the start, not after the first interval
    this.lagTimer = setInterval(() => void this.updateLag(), this.options.lagIntervalMs ?? 1000);
    this.lagTimer.unref();
    if (plan) {
      this.versionTimer = setInterval(() => void this.watchVersion(), this.options.lagIntervalMs ?? 1000);
      this.versionTimer.unref();
    }
    if (this.projection.feedsGateway) {
      // A new instance for every start: invalidations held before (a crash, a rebuild) may be lost.
      const instance = randomUUID();
      const beat = () => void this.effects.heartbeat(this.projection.name, instance, this.position);
      beat();
      this.heartbeatTimer = setInterval(beat, this.options.heartbeatMs ?? 1000);
      this.heartbeatTimer.unref();
    }
    this.announcer.start();
    this.deps.logger.info({ projection: this.projection.name, from: this.position }, 'projector started');
  }

  /**
   * The live read model was built by an older version: rebuilds it aside in the background while
   * it keeps serving queries (not updated by this projector: only by an older release's projector
   * still running), then switches, with no manual step. Another process rebuilding it meanwhile
   * (REBUILD_IN_PROGRESS) or a failure is waited out and tried again; once another process has
   * switched it, this projector starts on the new read model.
   */
  private rebuildForVersion(plan: Extract<VersionPlan, { action: 'rebuild' }>): void {
    const { logger, metrics } = this.deps;
    const name = this.projection.name;
    logger.warn({ projection: name, live: plan.live, declared: plan.declared }, 'read model built by an older version of its projection; rebuilding it aside while it serves');
    metrics.projectionVersionRebuild.set({ projection: name }, 1);
    this.versionPending = { live: plan.live, declared: plan.declared, waiting: undefined };
    const retryMs = this.options.versionRetryMs ?? 5000;
    const abort = new AbortController();
    const run = async (): Promise<void> => {
      while (!this.closing) {
        try {
          await (await this.beginRebuild(undefined, 'version')).done;
          return;
        } catch (error) {
          if (this.closing) return;
          const refused = error instanceof RebuildRefusedError && error.code === 'REBUILD_IN_PROGRESS';
          if (this.versionPending) this.versionPending.waiting = error instanceof Error ? error.message : String(error);
          if (refused) logger.info({ projection: name, reason: error.message }, 'version rebuild waits for another rebuild of its read model');
          else logger.error({ err: error, projection: name }, 'version rebuild failed; the old read model still serves; trying again');
        }
        await sleep(retryMs, undefined, { signal: abort.signal }).catch(() => undefined); // `stop` cuts the wait short
        if (this.closing) return;
        const now = await versionPlan(this.deps.documents, this.projection).catch(() => plan);
        if (now.action !== 'rebuild') {
          // Another process switched the read model: project on it (or refuse it) from its checkpoint.
          await this.halt();
          if (!this.closing) await this.start();
          return;
        }
      }
    };
    const done = run()
      .catch((error: unknown) => logger.error({ err: error, projection: name }, 'could not start projecting after the version rebuild'))
      .finally(() => {
        this.versionPending = undefined;
        metrics.projectionVersionRebuild.set({ projection: name }, 0);
      });
    this.versionLoop = { done, abort };
  }

  /**
   * A newer release's projector rebuilt the read model and switched to it while this one (an
   * older release, still running) projects: this one stops writing it at once (within a lag
   * interval) and refuses, as it would at start. A read that fails is left to the next interval.
   */
  private async watchVersion(): Promise<void> {
    if (this.stopped || this.rebuilding) return;
    const plan = await versionPlan(this.deps.documents, this.projection).catch(() => undefined);
    if (plan?.action !== 'refuse' || this.stopped || this.rebuilding) return;
    this.refusal = `the read model was switched to one built by version ${plan.live} of ${this.projection.name}; this projector runs version ${plan.declared} and stopped writing it`;
    this.deps.logger.error({ projection: this.projection.name, live: plan.live, declared: plan.declared }, 'a newer version of the projection switched its read model; this projector stops writing it');
    await this.halt();
  }

  /**
   * Keeps a subscription running from the last processed position; re-subscribes with backoff
   * after a failure, at once after a stall restart; ends when stopped or halted at a parked event.
   */
  private async supervise(): Promise<void> {
    for (let failures = 0; !this.stopped && !this.halted && !this.fenced; ) {
      this.restarting = false;
      this.subscription = this.deps.events.subscribeToAll({ from: this.position === 0 ? 'start' : { after: this.position } });
      const before = this.position;
      try {
        await this.run(this.subscription);
        if (this.restarting) {
          await this.subscription.close().catch(() => undefined);
          continue;
        }
        return; // ended because we stopped (or halted)
      } catch (error) {
        failures = this.position > before ? 1 : failures + 1;
        this.deps.logger.error({ err: error, projection: this.projection.name, position: this.position }, 'projection subscription failed; re-subscribing');
        await this.subscription.close().catch(() => undefined);
        if (!this.stopped) await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /**
   * Applies events in batches: whatever has already arrived (up to a limit) is applied through a
   * write-behind target and flushed at once, then the batch's effects run and the position moves.
   * Live, a batch is usually one event; catching up, it is many.
   */
  private async run(subscription: AllSubscription): Promise<void> {
    const { metrics } = this.deps;
    const name = this.projection.name;
    const iterator = subscription[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<RecordedEvent>> | undefined;
    while (!this.interrupted) {
      const first = await (next ?? iterator.next());
      next = undefined;
      if (first.done || this.interrupted) return;
      const batch = [first.value];
      const maxBatch = this.options.maxBatch ?? 500;
      // Catching up, what the store has at hand comes at once; else whatever arrives before the next turn of the event loop.
      if (subscription.takeReady) {
        batch.push(...subscription.takeReady(maxBatch - 1));
      } else {
        while (batch.length < maxBatch) {
          const candidate = iterator.next();
          const ready = await Promise.race([candidate, new Promise<'later'>((resolve) => setImmediate(() => resolve('later')))]);
          if (ready === 'later') {
            next = candidate;
            break;
          }
          if (ready.done) break;
          batch.push(ready.value);
        }
      }
      const applied = await this.applyBatch(batch);
      let done = batch[batch.length - 1]!.position;
      if (applied) {
        if (this.interrupted || !(await this.flushWithRetry(applied.target))) {
          this.projection.discard?.(); // restarting: its events come again from the position
          return;
        }
        for (const result of applied.results) metrics.projectionEvents.inc({ projection: name, result: result.changed ? 'applied' : 'skipped' });
        this.traceProjected(batch);
        await this.runEffects(applied.results, done);
      } else {
        // An event of the batch failed: the batch's writes are dropped (a failed handler may have
        // written part of its change) and its events are applied one by one, each with its own
        // retries, so that only the failing one is retried, parked or stood at.
        for (const [i, event] of batch.entries()) {
          if (!this.projection.handles(event)) continue;
          const result = await this.applyAlone(event);
          if (result === 'interrupted') return; // stopped or restarting while retrying
          if (result === 'halt') {
            done = i === 0 ? this.position : batch[i - 1]!.position;
            break;
          }
          if (result === 'parked') continue;
          metrics.projectionEvents.inc({ projection: name, result: result.changed ? 'applied' : 'skipped' });
          this.traceProjected([event]);
          await this.runEffects([result], event.position);
        }
      }
      if (done > this.position) {
        this.position = done;
        this.progressAt = Date.now();
      }
      metrics.projectionPosition.set({ projection: name }, this.position);
      this.release();
      await this.maybeCheckpoint(this.halted !== undefined);
      if (this.halted) return;
    }
  }

  /** At debug level, one line per event written to the read model, under the correlation id of the request that appended it. */
  private traceProjected(events: readonly RecordedEvent[]): void {
    if (!this.deps.logger.isLevelEnabled('debug')) return;
    for (const event of events) {
      if (!this.projection.handles(event)) continue;
      this.deps.logger.debug({ correlationId: event.metadata.correlationId, projection: this.projection.name, position: event.position, stream: event.streamName, type: event.type }, 'event projected');
    }
  }

  /** Applies a batch through one write-behind target; undefined if any event's handler failed. */
  private async applyBatch(batch: readonly RecordedEvent[]): Promise<{ target: BatchTarget; results: ApplyResult[] } | undefined> {
    const target = BatchTarget.over(this.deps.documents, this.memory, this.projection.flushOrder);
    const results: ApplyResult[] = [];
    try {
      await target.prefetch(this.projection, batch);
      for (const event of batch) if (this.projection.handles(event)) results.push(await this.projection.apply(event, target));
      return { target, results };
    } catch (error) {
      this.projection.discard?.();
      this.deps.metrics.projectionErrors.inc({ projection: this.projection.name });
      this.deps.logger.warn({ err: error, projection: this.projection.name }, 'applying a batch failed; applying its events one by one');
      return undefined;
    }
  }

  private async runEffects(results: readonly ApplyResult[], position: number): Promise<void> {
    const changed = results.filter((r) => r.changed);
    const tags = changed.flatMap((r) => r.invalidateTags ?? []);
    const notifications = changed.flatMap((r) => r.notifications ?? []);
    const response = { tags: changed.flatMap((r) => r.responseTags ?? []), readModel: this.projection.name, position };
    if (tags.length > 0 || notifications.length > 0 || response.tags.length > 0) await this.effects.enqueue(tags, notifications, response);
  }

  /** The run loop must end: stopping, restarting its subscription, or its lease lost. */
  private get interrupted(): boolean {
    return this.stopped || this.restarting || this.fenced;
  }

  private async flushWithRetry(target: BatchTarget): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (this.fenced) return false; // checked before every write: a lost lease writes nothing more
      try {
        await target.flush();
        await this.projection.flush?.();
        return true;
      } catch (error) {
        this.deps.metrics.projectionErrors.inc({ projection: this.projection.name });
        this.deps.logger.error({ err: error, projection: this.projection.name, attempt }, 'writing the read model failed; retrying');
        if (this.interrupted) return false;
        await sleep(Math.min(5000, 50 * 2 ** attempt));
      }
    }
  }

  /**
   * Applies one event and writes its changes (each attempt on a fresh target, so a failed attempt
   * leaves nothing behind): a server outage is retried for as long as it lasts; a handler failing
   * otherwise is retried `maxAttempts` times, then the event is parked and the policy says
   * whether the projection moves on (`parked`) or stands at it (`halt`).
   */
  private async applyAlone(event: RecordedEvent): Promise<ApplyResult | 'parked' | 'halt' | 'interrupted'> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1, failures = 0; ; attempt++) {
      try {
        // Through the memory, so that it stays true for the batches after: a failed attempt is
        // never flushed (it changes neither the store nor the memory); a flushed one updates both.
        const target = BatchTarget.over(this.deps.documents, this.memory, this.projection.flushOrder);
        const result = await this.projection.apply(event, target);
        if (this.fenced) {
          this.projection.discard?.();
          return 'interrupted';
        }
        await target.flush();
        await this.projection.flush?.();
        return result;
      } catch (error) {
        this.projection.discard?.(); // each attempt starts afresh, as its target does
        this.deps.metrics.projectionErrors.inc({ projection: this.projection.name });
        const transient = isTransient(error);
        if (!transient) failures++;
        this.deps.logger.error({ err: error, projection: this.projection.name, position: event.position, eventId: event.id, attempt, transient }, 'applying event failed; retrying');
        if (!transient && failures >= maxAttempts) return this.park(event, error, failures);
        if (this.interrupted) return 'interrupted';
        await sleep(Math.min(5000, 50 * 2 ** attempt));
      }
    }
  }

  private async park(event: RecordedEvent, error: unknown, attempts: number): Promise<'parked' | 'halt' | 'interrupted'> {
    const policy = this.projection.onPoison ?? 'stop';
    const parked: ParkedEvent = {
      _id: `${this.projection.name}:${event.id}`,
      projection: this.projection.name,
      position: event.position,
      eventId: event.id,
      type: event.type,
      streamName: event.streamName,
      error: error instanceof Error ? error.message : String(error),
      attempts,
      parkedAt: new Date().toISOString(),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.documents.collection<ParkedEvent>(PARKED).upsertIfNewer(parked, Date.now());
        break;
      } catch (storeError) {
        this.deps.logger.error({ err: storeError, projection: this.projection.name, eventId: event.id }, 'could not park an event; retrying');
        if (this.interrupted) return 'interrupted';
        await sleep(Math.min(5000, 50 * 2 ** attempt));
      }
    }
    this.deps.logger.error({ projection: this.projection.name, position: event.position, eventId: event.id, type: event.type, attempts, policy, error: parked.error }, policy === 'stop' ? 'event parked; the projection stops at it until it is retried' : 'event parked; the projection moves on');
    await this.refreshParked();
    if (policy === 'park') return 'parked';
    this.halted = parked;
    this.deps.metrics.projectionHalted.set({ projection: this.projection.name }, 1);
    return 'halt';
  }

  /** The events this projection parked, oldest first (at most `first`). */
  async parkedEvents(first = 100): Promise<ParkedEvent[]> {
    return (await this.deps.documents.collection<ParkedEvent>(PARKED).find({ filter: { projection: this.projection.name }, sort: [['position', 1]], first })).items;
  }

  private async refreshParked(): Promise<void> {
    try {
      this.deps.metrics.projectionParked.set({ projection: this.projection.name }, await this.deps.documents.collection<ParkedEvent>(PARKED).count({ projection: this.projection.name }));
    } catch (error) {
      this.deps.logger.warn({ err: error, projection: this.projection.name }, 'could not count parked events');
    }
  }

  /**
   * Retries the parked events, oldest first: a stopped projection resumes from the event it stood
   * at (tried afresh; parked again if it still fails); a projection that moved on applies each
   * parked event now (its position guards decide what still changes). Returns how many were
   * retried and how many are still parked.
   */
  async retryParked(): Promise<{ retried: number; parked: number }> {
    const parked = await this.parkedEvents(10_000);
    const collection = this.deps.documents.collection<ParkedEvent>(PARKED);
    let retried = 0;
    if (this.halted) {
      const at = this.halted;
      await collection.deleteIfNewer(at._id, Number.MAX_SAFE_INTEGER);
      this.halted = undefined;
      this.deps.metrics.projectionHalted.set({ projection: this.projection.name }, 0);
      retried++;
      if (!this.stopped) {
        await this.loop?.catch(() => undefined);
        this.progressAt = Date.now();
        this.loop = this.supervise();
      }
    } else {
      for (const entry of parked) {
        const event = await this.eventAt(entry.position);
        if (!event || event.id !== entry.eventId) {
          this.deps.logger.warn({ projection: this.projection.name, parked: entry._id }, 'a parked event is no longer in the event store; dropping it');
          await collection.deleteIfNewer(entry._id, Number.MAX_SAFE_INTEGER);
          continue;
        }
        const target = BatchTarget.over(this.deps.documents, undefined, this.projection.flushOrder);
        try {
          const result = await this.projection.apply(event, target);
          await target.flush();
          await this.projection.flush?.();
          // Later batches must not read what this changed from the memory as it was: it starts afresh.
          this.memory = new DocumentMemory();
          if (result.changed) await this.effects.enqueue(result.invalidateTags ?? [], result.notifications ?? [], { tags: result.responseTags ?? [], readModel: this.projection.name, position: event.position });
          await collection.deleteIfNewer(entry._id, Number.MAX_SAFE_INTEGER);
          retried++;
        } catch (error) {
          this.projection.discard?.();
          await collection.upsertIfNewer({ ...entry, error: error instanceof Error ? error.message : String(error), attempts: entry.attempts + 1, parkedAt: new Date().toISOString() }, Date.now());
        }
      }
    }
    await this.refreshParked();
    return { retried, parked: await collection.count({ projection: this.projection.name }) };
  }

  private async eventAt(position: number): Promise<RecordedEvent | undefined> {
    const subscription = this.deps.events.subscribeToAll({ from: position <= 1 ? 'start' : { after: position - 1 } });
    try {
      for await (const event of subscription) return event.position === position ? event : undefined;
      return undefined;
    } finally {
      await subscription.close();
    }
  }


  /**
   * Saves the position at most every `checkpointEveryMs`; a position left unsaved by that limit is
   * saved when the interval ends, even if no event follows (services read the checkpoint to tell
   * their read model's position and lag, so it must not stay behind while the projection idles).
   */
  private async maybeCheckpoint(force = false): Promise<void> {
    const now = Date.now();
    if (this.position === this.lastSaved) return;
    const every = this.options.checkpointEveryMs ?? 1000;
    if (!force && now - this.lastCheckpointAt < every) {
      this.scheduleCheckpoint(every - (now - this.lastCheckpointAt));
      return;
    }
    this.lastCheckpointAt = now;
    const position = this.position;
    if (this.options.fence) {
      // Refused once the lease is lost: the next holder resumes from the last position saved under it.
      if (!(await this.options.fence.saveCheckpoint(await this.checkpointId(), position))) return;
    } else {
      await this.saveCheckpoint(await this.checkpointId(), position);
    }
    this.lastSaved = Math.max(this.lastSaved, position);
  }

  /** Saves the position later; a save that fails is tried again (an idle projection has no next batch to do it). */
  private scheduleCheckpoint(delayMs: number): void {
    if (this.checkpointTimer || this.stopped) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      this.maybeCheckpoint().catch((error: unknown) => {
        this.deps.logger.warn({ err: error, projection: this.projection.name }, 'could not save the checkpoint; trying again');
        this.scheduleCheckpoint(1000);
      });
    }, delayMs);
  }

  private async saveCheckpoint(id: string, position: number): Promise<void> {
    await this.deps.documents.collection<Checkpoint>(CHECKPOINTS).upsertIfNewer({ _id: id, position }, position);
  }

  private release(): void {
    this.announcer.moved();
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.position <= this.position);
    this.waiters = this.waiters.filter((w) => w.position > this.position);
    for (const w of ready) w.resolve();
  }

  /** Resolves once the projection has processed the event at `position` (or rejects on timeout). */
  waitFor(position: number, timeoutMs = 10_000): Promise<void> {
    if (this.position >= position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.projection.name} did not reach position ${position} within ${timeoutMs} ms (at ${this.position})`));
      }, timeoutMs);
      const waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Measures the lag (metrics, health) and restarts a subscription that stopped making progress. */
  private async updateLag(): Promise<void> {
    const name = this.projection.name;
    try {
      this.lag = await lagBehind(this.deps.events, this.position);
      this.deps.metrics.projectionLagEvents.set({ projection: name }, this.lag.events);
      this.deps.metrics.projectionLagSeconds.set({ projection: name }, this.lag.seconds);
    } catch (error) {
      this.deps.logger.warn({ err: error, projection: name }, 'could not measure projection lag');
      return;
    }
    if (this.lag.events === 0) this.progressAt = Date.now();
    const stalledMs = Date.now() - this.progressAt;
    if (this.stopped || this.halted || this.restarting || stalledMs < (this.options.stallSeconds ?? 30) * 1000) return;
    this.deps.logger.error({ projection: name, position: this.position, head: this.lag.head, stalledSeconds: Math.round(stalledMs / 1000) }, 'projection made no progress while events wait; restarting its subscription');
    this.deps.metrics.projectionRestarts.inc({ projection: name, reason: 'stalled' });
    this.progressAt = Date.now();
    this.restarting = true;
    await this.subscription?.close().catch(() => undefined);
  }

  /** Stops projecting; a rebuild in progress is abandoned (its new collections dropped) and waited for. */
  async stop(): Promise<void> {
    this.closing = true;
    this.versionLoop?.abort.abort();
    await this.versionLoop?.done;
    await this.rebuildRun;
    await this.halt();
  }

  /** Stops projecting (the subscription, timers, a last checkpoint); a rebuild switching over pauses it so. */
  private async halt(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
    clearInterval(this.versionTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.announcer.stop();
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await this.subscription?.close();
    await this.loop?.catch(() => undefined);
    await this.maybeCheckpoint(true);
    this.effects.stop();
    this.deps.logger.info({ projection: this.projection.name, position: this.position }, 'projector stopped');
  }

  get rebuildProgress(): RebuildProgress {
    return { ...this.rebuildState };
  }

  /**
   * Rebuilds the read model from the first event into new collection versions while the live
   * ones keep serving, then switches over: pause live projection, catch the new version up to
   * the head, activate it, store its checkpoint, resume live projection on it.
   */
  async rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<RebuildProgress> {
    return (await this.beginRebuild(onProgress)).done;
  }

  /**
   * Starts a rebuild once it may run, and returns its completion. Refuses, with a coded
   * RebuildRefusedError, a second rebuild of the projection (REBUILD_IN_PROGRESS: in this process,
   * or in another one on the same document store, which holds its rebuild lock), a projection
   * that cannot be rebuilt (NOT_REBUILDABLE) and a read model built by a newer version
   * (READ_MODEL_NEWER).
   */
  async beginRebuild(onProgress?: (progress: RebuildProgress) => void, reason: 'requested' | 'version' = 'requested'): Promise<{ done: Promise<RebuildProgress> }> {
    const name = this.projection.name;
    if (this.projection.rebuildable === false && !this.rebuildingAtStart) throw new RebuildRefusedError('NOT_REBUILDABLE', `${name} cannot be rebuilt (a replay would repeat its effects)`);
    if (this.rebuilding) throw new RebuildRefusedError('REBUILD_IN_PROGRESS', `a rebuild of ${name} is already running in this process`);
    this.rebuilding = true;
    let lock: RebuildLock;
    try {
      const plan = await versionPlan(this.deps.documents, this.projection);
      if (plan.action === 'refuse') throw new RebuildRefusedError('READ_MODEL_NEWER', `the live read model of ${name} was built by version ${plan.live}; this projector runs version ${plan.declared} and never downgrades it`);
      lock = await RebuildLock.acquire(this.deps.documents, name, this.owner, { ttlMs: this.options.rebuildLockTtlMs ?? 30_000 });
    } catch (error) {
      this.rebuilding = false;
      throw error;
    }
    const done = this.runRebuild(lock, this.rebuildingAtStart ? 'ahead' : reason, onProgress).finally(async () => {
      this.rebuilding = false;
      await lock.release().catch((error: unknown) => this.deps.logger.warn({ err: error, projection: name }, 'could not release the rebuild lock (it expires)'));
    });
    this.rebuildRun = done.catch(() => undefined);
    return { done };
  }

  private async runRebuild(lock: RebuildLock, reason: 'requested' | 'version' | 'ahead', onProgress?: (progress: RebuildProgress) => void): Promise<RebuildProgress> {
    const { documents, events, metrics } = this.deps;
    const name = this.projection.name;
    const version = declaredVersion(this.projection);
    this.rebuildState = { projection: name, state: 'running', reason, version, applied: 0, target: 0, position: 0 };
    const target = await events.headPosition();
    this.rebuildState.target = target;
    metrics.replayProgress.set({ projection: name }, 0);
    const versions = new Map<string, CollectionVersion<Doc>>();
    const report = () => {
      metrics.replayProgress.set({ projection: name }, target === 0 ? 1 : Math.min(1, this.rebuildState.position / target));
      onProgress?.(this.rebuildProgress);
    };
    try {
      for (const collection of this.projection.collections) {
        for (const [n, indexes] of Object.entries(this.projection.indexes ?? {})) if (n === collection) await documents.ensureIndexes(n, indexes);
        versions.set(collection, await documents.createVersion(collection));
      }
      const aside: ProjectionTarget = {
        collection: <T extends Doc>(collection: string) => {
          const version = versions.get(collection);
          if (!version) throw new Error(`${name} does not own collection ${collection}`);
          return version.collection as unknown as Collection<T>;
        },
      };
      const catchUp = async (until: number) => {
        if (this.rebuildState.position >= until) return;
        const subscription = events.subscribeToAll({ from: this.rebuildState.position === 0 ? 'start' : { after: this.rebuildState.position } });
        let lastReport = 0;
        const batch = new BatchTarget((collection) => aside.collection(collection), undefined, this.projection.flushOrder);
        let sinceFlush = 0;
        try {
          for await (const event of subscription) {
            if (this.closing) throw new Error(`rebuild of ${name} abandoned: the projector is stopping`);
            if (this.projection.handles(event)) {
              await this.projection.apply(event, batch);
              this.rebuildState.applied++;
              // Flushed by documents pending, not by events: a read model of few, hot documents
              // (the catalog) is then written once per many events; memory stays bounded.
              if (batch.size >= REBUILD_FLUSH_DOCUMENTS || ++sinceFlush >= REBUILD_FLUSH_EVENTS) {
                await batch.flush();
                sinceFlush = 0;
              }
            }
            this.rebuildState.position = event.position;
            if (Date.now() - lastReport > 200) {
              lastReport = Date.now();
              report();
            }
            if (event.position >= until) break;
          }
          await batch.flush();
        } finally {
          await subscription.close();
        }
      };
      await catchUp(target);
      await this.halt();
      await catchUp(await events.headPosition());
      await lock.confirm(); // still ours: no other process rebuilt it meanwhile
      const physical = [...versions.values()][0]!.physicalName;
      await this.saveCheckpoint(`${name}@${physical}`, this.rebuildState.position);
      // Recorded for the new physical version before the switch, so that it switches with it.
      await recordVersion(documents, `${name}@${physical}`, version);
      await documents.activateTogether([...versions.values()]); // all of the projection's collections in one step
      this.rebuildState.state = 'done';
      report();
      metrics.replayProgress.set({ projection: name }, 1);
      await this.deps.cache.invalidateTags(this.projection.collections.map(collectionTag));
      if (reason === 'version') this.deps.logger.info({ projection: name, version, position: this.rebuildState.position }, 'switched to the read model rebuilt for the new projection version');
      if (this.closing) return this.rebuildProgress; // stopped meanwhile: the switch is done, projection stays stopped
      await this.start();
      // Every response the gateway keeps from the old version is stale (delivered, or retried, in order).
      await this.effects.enqueue([], [], { tags: [readModelTag(name)], readModel: name, position: this.rebuildState.position });
      return this.rebuildProgress;
    } catch (error) {
      this.rebuildState.state = 'failed';
      this.rebuildState.error = error instanceof Error ? error.message : String(error);
      for (const version of versions.values()) await version.discard().catch(() => undefined);
      // A version rebuild's projector never ran on the old read model: its loop tries again.
      if (this.stopped && !this.rebuildingAtStart && !this.closing && reason !== 'version') await this.start();
      throw error;
    }
  }
}
