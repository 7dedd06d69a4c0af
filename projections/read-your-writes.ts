import type { DocumentStore } from '../platform/documents/document-store.js';
import type { ReadAfterWait } from '../platform/graphql/service.js';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { PubSub, Subscription } from '../platform/pubsub/pubsub.js';
import { readModelBehind, type BehindReadModel } from '../platform/read-your-writes.js';
import { checkpointPosition } from './lag.js';

/**
 * How a service learns, cheaply and soon, that its read models reached a position (for queries
 * sent with `x-read-after-position`), when the projector may be another process:
 *  - each projector announces its position on pub/sub (`READ_MODEL_POSITIONS_CHANNEL`) after every
 *    batch that moved it (once the read model is written and the subgraphs' cache invalidated,
 *    never while an invalidation is still undelivered), and every second while idle;
 *  - each service process keeps one subscription and one table of positions per read model
 *    (`ReadModelWatermarks`); a waiting query is resolved by position when an announcement
 *    reaches it, with no work per request;
 *  - while queries wait and announcements are not heard (another Redis, a projector that cannot
 *    publish), one poller per process reads the checkpoints from the document store instead.
 */
export const READ_MODEL_POSITIONS_CHANNEL = 'read-models.positions';

/** One announcement: the position each read model of the announcing projector has reached. */
export interface ReadModelPositionsMessage {
  positions: Record<string, number>;
}

/** What the announcer reads of a projector. */
export interface AnnouncedProjection {
  readonly name: string;
  readonly currentPosition: number;
  /** Invalidations not yet delivered: the position is not announced while the caches may still hold what it changed. */
  readonly pendingEffects: number;
}

/**
 * A projector's announcements: `moved()` after each batch publishes at once, or, while a publish
 * is in flight, once more when it completes (positions are coalesced, never queued); `start()`
 * repeats the position every `intervalMs` so that a service that just started, or missed a
 * message, learns it, and can tell the feed is alive.
 */
export class PositionAnnouncer {
  private publishing = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private held: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: AnnouncedProjection,
    private readonly deps: { pubsub: PubSub; logger: Logger },
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.moved(), this.intervalMs);
    this.timer.unref();
    this.moved();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.held);
    this.timer = undefined;
    this.held = undefined;
  }

  moved(): void {
    if (this.publishing) {
      this.again = true;
      return;
    }
    void this.publish();
  }

  private async publish(): Promise<void> {
    this.publishing = true;
    try {
      do {
        this.again = false;
        if (this.source.pendingEffects > 0) {
          // Announced once the invalidations are out (the effects queue retries them in the background).
          this.held ??= setTimeout(() => {
            this.held = undefined;
            if (this.timer) this.moved();
          }, 100);
          return;
        }
        const message: ReadModelPositionsMessage = { positions: { [this.source.name]: this.source.currentPosition } };
        await this.deps.pubsub.publish(READ_MODEL_POSITIONS_CHANNEL, message);
      } while (this.again);
    } catch (error) {
      // Services fall back to the checkpoints; the next move or interval tries again.
      this.deps.logger.debug({ err: error, projection: this.source.name }, 'read model position not announced');
    } finally {
      this.publishing = false;
    }
  }
}

export interface ReadModelRef {
  name: string;
  collections: readonly string[];
}

export interface WatermarkOptions {
  /** Checkpoint reads while queries wait and the announcements are not heard (default 50 ms). */
  pollMs?: number;
  /** Checkpoint reads while queries wait although announcements are heard: a safety net (default 500 ms). */
  slowPollMs?: number;
  /** Announcements count as heard for this long after the last one (default 2.5 s: the projector repeats every second). */
  liveMs?: number;
}

interface Waiter {
  position: number;
  resolve: () => void;
}

/**
 * The positions the read models a service reads have reached, as known in this process (see the
 * module comment), and the queries waiting for them. One per service process.
 */
export class ReadModelWatermarks {
  private readonly known = new Map<string, number>();
  private waiters: Waiter[] = [];
  private heardAt = 0;
  private subscription: Subscription<ReadModelPositionsMessage> | undefined;
  private loop: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  constructor(
    private readonly deps: { documents: DocumentStore; pubsub: PubSub; logger: Logger },
    readonly readModels: readonly ReadModelRef[],
    private readonly options: WatermarkOptions = {},
  ) {}

  /** Follows the projectors' announcements (again: nothing). */
  start(): void {
    if (this.subscription || this.closed || this.readModels.length === 0) return;
    const subscription = this.deps.pubsub.subscribe<ReadModelPositionsMessage>(READ_MODEL_POSITIONS_CHANNEL);
    this.subscription = subscription;
    this.loop = (async () => {
      for await (const message of subscription) {
        this.heardAt = Date.now();
        for (const [name, position] of Object.entries(message.positions ?? {})) if (typeof position === 'number') this.observe(name, position);
      }
    })().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'read model announcements stopped; waiting queries read the checkpoints'));
  }

  /** The position each read model is known to have reached (0: not known yet). */
  positions(): Record<string, number> {
    return Object.fromEntries(this.readModels.map((r) => [r.name, this.known.get(r.name) ?? 0]));
  }

  /** The position every read model has reached (the lowest of them). */
  get reached(): number {
    let lowest = Infinity;
    for (const r of this.readModels) lowest = Math.min(lowest, this.known.get(r.name) ?? 0);
    return lowest;
  }

  /**
   * Resolves once every read model has reached `position`, or after `timeoutMs` with the read
   * models still behind (and where they are).
   */
  async waitFor(position: number, timeoutMs: number): Promise<BehindReadModel[]> {
    if (this.reached >= position) return [];
    let waiter: Waiter | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        waiter = { position, resolve };
        this.waiters.push(waiter);
        timer = setTimeout(resolve, timeoutMs);
        this.poll();
      });
    } finally {
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    }
    return this.readModels.filter((r) => (this.known.get(r.name) ?? 0) < position).map((r) => ({ readModel: r.name, position: this.known.get(r.name) ?? 0 }));
  }

  /** Raises a read model's known position (from an announcement or a checkpoint) and releases the queries it satisfies. */
  observe(name: string, position: number): void {
    if (position <= (this.known.get(name) ?? 0)) return;
    this.known.set(name, position);
    if (this.waiters.length === 0) return;
    const reached = this.reached;
    for (const w of this.waiters) if (w.position <= reached) w.resolve();
  }

  private get live(): boolean {
    return Date.now() - this.heardAt <= (this.options.liveMs ?? 2500);
  }

  /** One poller per process, only while queries wait: at once when announcements are not heard, else as a slow safety net. */
  private poll(): void {
    if (this.pollTimer || this.polling || this.closed) return;
    const delay = this.live ? (this.options.slowPollMs ?? 500) : 0;
    this.pollTimer = setTimeout(() => void this.readCheckpoints(), delay);
    this.pollTimer.unref();
  }

  private async readCheckpoints(): Promise<void> {
    this.pollTimer = undefined;
    if (this.waiters.length === 0 || this.closed) return;
    this.polling = true;
    try {
      await Promise.all(this.readModels.map(async (r) => this.observe(r.name, await checkpointPosition(this.deps.documents, r))));
    } catch (error) {
      this.deps.logger.debug({ err: error }, 'could not read read model checkpoints for a waiting query');
    } finally {
      this.polling = false;
    }
    if (this.waiters.length === 0 || this.closed) return;
    this.pollTimer = setTimeout(() => void this.readCheckpoints(), this.live ? (this.options.slowPollMs ?? 500) : (this.options.pollMs ?? 50));
    this.pollTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pollTimer);
    for (const w of this.waiters) w.resolve();
    await this.subscription?.return?.();
    await this.loop;
  }
}

/** Read-your-writes for a service that reads `readModels`, waiting at most `maxWaitMs` per query (each wait observed in `storefront_read_after_wait_seconds`). */
export function readAfterPositions(
  deps: { documents: DocumentStore; pubsub: PubSub; logger: Logger; metrics?: Metrics },
  readModels: readonly ReadModelRef[],
  maxWaitMs: number,
  options: WatermarkOptions = {},
): ReadAfterWait {
  const watermarks = new ReadModelWatermarks(deps, readModels, options);
  return {
    wait: async (position) => {
      watermarks.start(); // on first use: a service never asked to wait holds no subscription
      const started = performance.now();
      const behind = await watermarks.waitFor(position, maxWaitMs);
      const waited = performance.now() - started;
      deps.metrics?.readAfterWait.observe({ outcome: behind.length > 0 ? 'behind' : 'reached' }, waited / 1000);
      if (behind.length > 0) throw readModelBehind(position, behind, Math.round(waited));
    },
    positions: () => watermarks.positions(),
    close: () => watermarks.close(),
  };
}
