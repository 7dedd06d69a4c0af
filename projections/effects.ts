import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from '../platform/cache/cache.js';
import type { Logger } from '../platform/logging.js';
import type { PubSub } from '../platform/pubsub/pubsub.js';
import { RESPONSE_INVALIDATIONS_CHANNEL, type ResponseInvalidation } from '../platform/cache/response-tags.js';

/** What the gateway's response cache must learn of a change: stale tags, and the read model's position with it. */
export interface ResponseEffects {
  tags: readonly string[];
  readModel: string;
  position: number;
}

/**
 * A projection's side effects (cache invalidations, then the gateway's response-cache
 * invalidations on pub/sub, then live notifications), delivered in order and retried with
 * backoff while the cache or pub/sub server is unreachable, without holding up the projection
 * itself. Pending invalidations are coalesced (a tag once is enough), and every pending
 * invalidation is done before any later notification, so a subscriber that re-queries never
 * reads a stale cache entry; the gateway hears of a change only once the subgraphs' cache
 * forgot it, so what it fetches after hearing is fresh. Notifications are bounded: during a very
 * long outage the oldest are dropped (counted), invalidations never are.
 */
export class EffectsQueue {
  private readonly tags = new Set<string>();
  private readonly responseTags = new Set<string>();
  private readonly positions: Record<string, number> = {};
  private readonly notifications: { channel: string; message: unknown }[] = [];
  private draining: Promise<void> | undefined;
  private stopped = false;
  private dropped = 0;

  constructor(
    private readonly deps: { cache: Cache; pubsub: PubSub; logger: Logger },
    private readonly options: { maxNotifications?: number; maxBackoffMs?: number } = {},
  ) {}

  /** Number of effects not yet delivered. */
  get pending(): number {
    return this.tags.size + this.responseTags.size + this.notifications.length;
  }

  get droppedNotifications(): number {
    return this.dropped;
  }

  /** Queues effects and tries to deliver them now; resolves when delivered or handed to the retry loop. */
  async enqueue(tags: readonly string[], notifications: readonly { channel: string; message: unknown }[], response?: ResponseEffects): Promise<void> {
    for (const t of tags) this.tags.add(t);
    if (response && response.tags.length > 0) {
      for (const t of response.tags) this.responseTags.add(t);
      this.positions[response.readModel] = Math.max(this.positions[response.readModel] ?? 0, response.position);
    }
    this.notifications.push(...notifications);
    const max = this.options.maxNotifications ?? 10_000;
    if (this.notifications.length > max) {
      const excess = this.notifications.length - max;
      this.notifications.splice(0, excess);
      this.dropped += excess;
      this.deps.logger.warn({ dropped: excess }, 'dropping the oldest live notifications during a long outage');
    }
    if (this.draining) return; // the retry loop is running and will deliver these in order
    try {
      await this.deliver();
    } catch (error) {
      this.deps.logger.warn({ err: error, pending: this.pending }, 'delivering projection effects failed; retrying in the background');
      this.draining = this.retry().finally(() => (this.draining = undefined));
    }
  }

  private async deliver(): Promise<void> {
    if (this.tags.size > 0) {
      const tags = [...this.tags];
      await this.deps.cache.invalidateTags(tags);
      for (const t of tags) this.tags.delete(t);
    }
    if (this.responseTags.size > 0) {
      const tags = [...this.responseTags];
      const message: ResponseInvalidation = { tags, positions: { ...this.positions } };
      await this.deps.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, message);
      for (const t of tags) this.responseTags.delete(t);
      if (this.tags.size > 0) return this.deliver();
    }
    while (this.notifications.length > 0) {
      const next = this.notifications[0]!;
      await this.deps.pubsub.publish(next.channel, next.message);
      this.notifications.shift();
      if (this.tags.size > 0 || this.responseTags.size > 0) return this.deliver(); // invalidations queued meanwhile go first
    }
  }

  private async retry(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      await sleep(Math.min(this.options.maxBackoffMs ?? 2000, 50 * 2 ** Math.min(attempt, 6)));
      try {
        await this.deliver();
        this.deps.logger.info({ attempts: attempt }, 'projection effects delivered after an outage');
        return;
      } catch {
        // still down; keep waiting
      }
    }
  }

  /**
   * Tells the gateway's response cache that this read model's projector runs, at `position`, with
   * no invalidation left undelivered (nothing is said otherwise: the gateway stops serving answers
   * from the read model until it hears this again).
   */
  async heartbeat(readModel: string, instance: string, position: number): Promise<void> {
    if (this.pending > 0 || this.draining) return;
    const message: ResponseInvalidation = { alive: { readModel, instance }, positions: { ...this.positions, [readModel]: Math.max(position, this.positions[readModel] ?? 0) } };
    try {
      await this.deps.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, message);
    } catch (error) {
      this.deps.logger.debug({ err: error, readModel }, 'response cache heartbeat not published');
    }
  }

  /** Waits until everything queued is delivered (or the queue is stopped). */
  async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Restarts background delivery after `stop()` (a projector restarting after a rebuild). */
  resume(): void {
    this.stopped = false;
    if (this.pending > 0 && !this.draining) this.draining = this.retry().finally(() => (this.draining = undefined));
  }
}
