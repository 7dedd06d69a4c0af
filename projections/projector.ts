import type { ServicePorts } from '../platform/ports.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Collection, CollectionVersion, Doc } from '../platform/documents/document-store.js';
import type { AllSubscription, RecordedEvent } from '../platform/event-store/event-store.js';
import { BatchTarget } from './batch-target.js';
import { EffectsQueue } from './effects.js';
import type { Projection, ProjectionTarget } from './projection.js';

export const CHECKPOINTS = 'projection_checkpoints';

/** Cache tag every entry derived from a collection carries; a rebuild invalidates it. */
export const collectionTag = (collection: string) => `collection:${collection}`;

interface Checkpoint extends Doc {
  position: number;
}

export type ProjectorDeps = ServicePorts;

export interface RebuildProgress {
  projection: string;
  state: 'idle' | 'running' | 'done' | 'failed';
  applied: number;
  /** Head position when the rebuild started: what it must reach before switching. */
  target: number;
  position: number;
  error?: string;
}

/**
 * Runs one projection: a catch-up subscription from its checkpoint, then live. Checkpoints are
 * stored per physical collection version in the document store, next to the data they describe.
 * A failing apply is retried with backoff (never skipped); lag is exported as metrics.
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
  private rebuildState: RebuildProgress;
  private readonly effects: EffectsQueue;
  private rebuildingAtStart = false;

  constructor(
    private readonly projection: Projection,
    private readonly deps: ProjectorDeps,
    private readonly options: { checkpointEveryMs?: number; lagIntervalMs?: number; maxBatch?: number } = {},
  ) {
    this.rebuildState = { projection: projection.name, state: 'idle', applied: 0, target: 0, position: 0 };
    this.effects = new EffectsQueue(deps);
  }

  /** Side effects not yet delivered (the cache or pub/sub server being down). */
  get pendingEffects(): number {
    return this.effects.pending;
  }

  get name(): string {
    return this.projection.name;
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

  private async checkpointId(): Promise<string> {
    return `${this.projection.name}@${await this.deps.documents.physicalName(this.projection.collections[0]!)}`;
  }

  async start(): Promise<void> {
    for (const [name, indexes] of Object.entries(this.projection.indexes ?? {})) await this.deps.documents.ensureIndexes(name, indexes);
    const checkpoint = await this.deps.documents.collection<Checkpoint>(CHECKPOINTS).get(await this.checkpointId());
    this.position = checkpoint?.position ?? 0;
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
    this.effects.resume();
    this.loop = this.supervise();
    this.lagTimer = setInterval(() => void this.updateLag(), this.options.lagIntervalMs ?? 1000);
    this.lagTimer.unref();
    this.deps.logger.info({ projection: this.projection.name, from: this.position }, 'projector started');
  }

  /** Keeps a subscription running from the last processed position; re-subscribes with backoff after a failure. */
  private async supervise(): Promise<void> {
    for (let failures = 0; !this.stopped; ) {
      this.subscription = this.deps.events.subscribeToAll({ from: this.position === 0 ? 'start' : { after: this.position } });
      const before = this.position;
      try {
        await this.run(this.subscription);
        return; // ended because we stopped
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
    while (!this.stopped) {
      const first = await (next ?? iterator.next());
      next = undefined;
      if (first.done || this.stopped) return;
      const batch = [first.value];
      while (batch.length < (this.options.maxBatch ?? 500)) {
        const candidate = iterator.next();
        const ready = await Promise.race([candidate, new Promise<'later'>((resolve) => setImmediate(() => resolve('later')))]);
        if (ready === 'later') {
          next = candidate;
          break;
        }
        if (ready.done) break;
        batch.push(ready.value);
      }
      const target = BatchTarget.over(this.deps.documents);
      const tags: string[] = [];
      const notifications: { channel: string; message: unknown }[] = [];
      for (const event of batch) {
        if (!this.projection.handles(event)) continue;
        const result = await this.applyWithRetry(event, target);
        if (result === undefined) return; // stopped while retrying
        metrics.projectionEvents.inc({ projection: name, result: result.changed ? 'applied' : 'skipped' });
        if (result.changed) {
          tags.push(...(result.invalidateTags ?? []));
          notifications.push(...(result.notifications ?? []));
        }
      }
      if (!(await this.flushWithRetry(target))) return;
      if (tags.length > 0 || notifications.length > 0) await this.effects.enqueue(tags, notifications);
      this.position = batch[batch.length - 1]!.position;
      metrics.projectionPosition.set({ projection: name }, this.position);
      this.release();
      await this.maybeCheckpoint();
    }
  }

  private async flushWithRetry(target: BatchTarget): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await target.flush();
        await this.projection.flush?.();
        return true;
      } catch (error) {
        this.deps.metrics.projectionErrors.inc({ projection: this.projection.name });
        this.deps.logger.error({ err: error, projection: this.projection.name, attempt }, 'writing the read model failed; retrying');
        if (this.stopped) return false;
        await sleep(Math.min(5000, 50 * 2 ** attempt));
      }
    }
  }

  private async applyWithRetry(event: RecordedEvent, target: ProjectionTarget) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.projection.apply(event, target);
      } catch (error) {
        this.deps.metrics.projectionErrors.inc({ projection: this.projection.name });
        this.deps.logger.error({ err: error, projection: this.projection.name, position: event.position, attempt }, 'applying event failed; retrying');
        if (this.stopped) return undefined;
        await sleep(Math.min(5000, 50 * 2 ** attempt));
      }
    }
  }


  private async maybeCheckpoint(force = false): Promise<void> {
    const now = Date.now();
    if (this.position === this.lastSaved) return;
    if (!force && now - this.lastCheckpointAt < (this.options.checkpointEveryMs ?? 100)) return;
    this.lastCheckpointAt = now;
    await this.saveCheckpoint(await this.checkpointId(), this.position);
    this.lastSaved = this.position;
  }

  private async saveCheckpoint(id: string, position: number): Promise<void> {
    await this.deps.documents.collection<Checkpoint>(CHECKPOINTS).upsertIfNewer({ _id: id, position }, position);
  }

  private release(): void {
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

  private async updateLag(): Promise<void> {
    try {
      const head = await this.deps.events.headPosition();
      const lag = Math.max(0, head - this.position);
      this.deps.metrics.projectionLagEvents.set({ projection: this.projection.name }, lag);
      let seconds = 0;
      if (lag > 0) {
        const next = this.deps.events.subscribeToAll({ from: { after: this.position } });
        for await (const e of next) {
          seconds = Math.max(0, (Date.now() - Date.parse(e.recordedAt)) / 1000);
          break;
        }
        await next.close();
      }
      this.deps.metrics.projectionLagSeconds.set({ projection: this.projection.name }, seconds);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'could not measure projection lag');
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
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
    if (this.rebuildState.state === 'running') throw new Error(`a rebuild of ${this.projection.name} is already running`);
    if (this.projection.rebuildable === false && !this.rebuildingAtStart) throw new Error(`${this.projection.name} cannot be rebuilt`);
    const { documents, events, metrics } = this.deps;
    const name = this.projection.name;
    const target = await events.headPosition();
    this.rebuildState = { projection: name, state: 'running', applied: 0, target, position: 0 };
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
        const batch = new BatchTarget((collection) => aside.collection(collection));
        let sinceFlush = 0;
        try {
          for await (const event of subscription) {
            if (this.projection.handles(event)) {
              await this.projection.apply(event, batch);
              this.rebuildState.applied++;
              if (++sinceFlush >= 1000) {
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
      await this.stop();
      await catchUp(await events.headPosition());
      const physical = [...versions.values()][0]!.physicalName;
      await this.saveCheckpoint(`${name}@${physical}`, this.rebuildState.position);
      for (const version of versions.values()) await version.activate();
      this.rebuildState.state = 'done';
      report();
      metrics.replayProgress.set({ projection: name }, 1);
      await this.deps.cache.invalidateTags(this.projection.collections.map(collectionTag));
      await this.start();
      return this.rebuildProgress;
    } catch (error) {
      this.rebuildState.state = 'failed';
      this.rebuildState.error = error instanceof Error ? error.message : String(error);
      for (const version of versions.values()) await version.discard().catch(() => undefined);
      if (this.stopped && !this.rebuildingAtStart) await this.start();
      throw error;
    }
  }
}
