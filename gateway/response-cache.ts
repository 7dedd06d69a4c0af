import { createHash, randomUUID } from 'node:crypto';
import { RESPONSE_INVALIDATIONS_CHANNEL, type ResponseInvalidation } from '../platform/cache/response-tags.js';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { PubSub, Subscription } from '../platform/pubsub/pubsub.js';
import { WeightedLru } from '../platform/weighted-lru.js';

export interface ResponseCacheOptions {
  /** Bytes of answers kept (default 64 MiB), and at most this many answers (default 10 000). */
  maxBytes?: number;
  maxEntries?: number;
  /** Tags whose last invalidation is remembered; beyond it, everything is dropped (default 100 000). */
  maxTrackedTags?: number;
  /** How often the feed is probed while live (default 1 s). */
  heartbeatMs?: number;
  /** A probe not heard back within this long means the feed is not live (default 2 s). */
  probeTimeoutMs?: number;
}

/** An answer as kept: its data (JSON) and the rest, so the positions it states can be brought up to date. */
interface Entry {
  contentType: string;
  data: string;
  extensions: Record<string, unknown> | undefined;
  readModels: Record<string, number> | undefined;
  etag: string;
  tags: readonly string[];
  /** The epoch the request that fetched it started in: valid while none of its tags is invalidated later. */
  epoch: number;
}

/** A cached answer, ready to send. */
export interface CachedAnswer {
  contentType: string;
  body: string;
  etag: string;
}

/** Taken when a request whose answer may be kept starts: the answer is refused if anything it holds was invalidated since. */
export interface Ticket {
  readonly epoch: number;
}

/**
 * The gateway's response cache: answers to cacheable operations (gateway/response-cache-policy.ts),
 * kept in a weighted LRU, each tagged with the entities, lists and read models it holds. The
 * projector publishes the tags its changes make stale on pub/sub once the read model is written
 * and the subgraphs' cache forgot them; an answer is served only while none of its tags has been
 * invalidated since the request that fetched it started (per-tag epochs, checked when it is
 * stored and at every hit), so a request racing an invalidation never keeps what it read before.
 *
 * Nothing is served unless the invalidation feed is known to be live: the cache publishes a probe
 * on the feed and serves only once it hears it back, then probes again every `heartbeatMs`. When
 * pub/sub reports an interruption (messages may have been lost), when a probe is not heard back
 * within `probeTimeoutMs` (a connection that died silently), or when the subscriber falls behind,
 * the cache is emptied and unused until a probe comes back again. No TTL: an answer stays until
 * invalidated or evicted.
 */
export class ResponseCache {
  private readonly entries: WeightedLru<string, Entry>;
  /** Epoch of each tag's last invalidation; a request or entry older than `floor` is void. */
  private readonly tagEpochs = new Map<string, number>();
  private epoch = 1;
  private floor = 1;
  /** The latest position each read model is known to have reached with a change (from the feed). */
  private readonly heard: Record<string, number> = {};
  private live = false;
  /** The probe sent and not yet heard back. */
  private probe: string | undefined;
  private wake: (() => void) | undefined;
  private subscription: Subscription<ResponseInvalidation> | undefined;
  private stopInterruptions: (() => void) | undefined;
  private loops: Promise<void>[] = [];
  private closed = false;
  private wentLive: (() => void) | undefined;

  constructor(
    private readonly deps: { pubsub: PubSub; metrics: Metrics; logger: Logger },
    private readonly options: ResponseCacheOptions = {},
  ) {
    this.entries = new WeightedLru(options.maxBytes ?? 64 * 1024 * 1024, options.maxEntries ?? 10_000);
    deps.metrics.responseCacheLive.set(0);
  }

  /** Subscribes to the invalidation feed; resolves once it is live, or after `waitMs` (it goes live by itself later). */
  async start(waitMs = 5000): Promise<void> {
    this.stopInterruptions = this.deps.pubsub.onInterrupted(() => this.pause('pub/sub connection interrupted'));
    const subscription = this.deps.pubsub.subscribe<ResponseInvalidation>(RESPONSE_INVALIDATIONS_CHANNEL);
    this.subscription = subscription;
    this.loops.push(this.follow(subscription));
    const live = new Promise<void>((resolve) => (this.wentLive = resolve));
    await subscription.ready;
    this.loops.push(this.watch());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([live, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    if (!this.live) this.deps.logger.warn('the response cache is not serving yet: its invalidation feed has not answered');
  }

  /** Whether answers are served and kept now. */
  get serving(): boolean {
    return this.live;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Taken before fetching an answer that may be kept. */
  begin(): Ticket {
    return { epoch: this.epoch };
  }

  get(key: string): CachedAnswer | undefined {
    if (!this.live) {
      this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'paused' });
      return undefined;
    }
    const entry = this.entries.get(key);
    if (!entry) {
      this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'miss' });
      return undefined;
    }
    if (!this.valid(entry)) {
      this.entries.delete(key);
      this.gauges();
      this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'stale' });
      return undefined;
    }
    this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'hit' });
    return { contentType: entry.contentType, body: this.body(entry), etag: entry.etag };
  }

  /**
   * Keeps an answer (a complete GraphQL response body) under `key`, unless it holds errors or no
   * data, the feed is not live, or one of its tags was invalidated after `ticket` was taken.
   * Returns the answer's ETag whether kept or not (undefined for errors or no data).
   */
  store(ticket: Ticket, key: string, contentType: string, body: string, tagsOf: (data: unknown) => readonly string[] | undefined): string | undefined {
    const parsed = parseAnswer(body);
    if (!parsed) return undefined;
    const tags = tagsOf(parsed.value);
    if (!tags) return parsed.etag;
    const entry: Entry = { contentType, tags, epoch: ticket.epoch, data: parsed.data, etag: parsed.etag, extensions: parsed.extensions, readModels: parsed.readModels };
    if (!this.live || !this.valid(entry)) {
      this.deps.metrics.responseCacheStoresRefused.inc();
      return entry.etag;
    }
    this.entries.set(key, entry, key.length + entry.data.length + 256);
    this.gauges();
    return entry.etag;
  }

  private valid(entry: Entry): boolean {
    if (entry.epoch < this.floor) return false;
    for (const tag of entry.tags) if ((this.tagEpochs.get(tag) ?? 0) >= entry.epoch) return false;
    return true;
  }

  /** The answer, stating the positions heard since it was fetched: nothing it holds changed up to them. */
  private body(entry: Entry): string {
    if (!entry.readModels && !entry.extensions) return `{"data":${entry.data}}`;
    const readModels = entry.readModels && Object.fromEntries(Object.entries(entry.readModels).map(([name, position]) => [name, Math.max(position, this.heard[name] ?? 0)]));
    return `{"data":${entry.data},"extensions":${JSON.stringify({ ...entry.extensions, ...(readModels && { readModels }) })}}`;
  }

  private async follow(subscription: Subscription<ResponseInvalidation>): Promise<void> {
    let dropped = 0;
    for await (const message of subscription) {
      if (subscription.dropped() > dropped) {
        dropped = subscription.dropped();
        this.pause('invalidations dropped: the subscriber fell behind');
      }
      this.receive(message);
    }
    if (!this.closed) {
      this.deps.logger.error('the response cache stopped: its invalidation feed ended');
      this.pause('the invalidation feed ended');
      this.closed = true;
      this.wake?.();
    }
  }

  private receive(message: ResponseInvalidation): void {
    if (message.probe !== undefined) {
      if (message.probe === this.probe) {
        this.probe = undefined;
        this.wake?.();
      }
      return;
    }
    const tags = message.tags ?? [];
    // Entries and requests from before this epoch that hold a tag are void; requests begun after are not.
    this.epoch++;
    for (const tag of tags) this.tagEpochs.set(tag, this.epoch);
    this.epoch++;
    this.deps.metrics.responseCacheInvalidations.inc(tags.length);
    for (const [name, position] of Object.entries(message.positions ?? {})) if (typeof position === 'number') this.heard[name] = Math.max(this.heard[name] ?? 0, position);
    // Forgetting a tag's epoch would let an older entry holding it pass: drop everything instead.
    if (this.tagEpochs.size > (this.options.maxTrackedTags ?? 100_000)) this.flush('too many tags tracked');
  }

  /** Everything kept, and every request in flight, is void. */
  private flush(reason: string): void {
    this.epoch++;
    this.floor = this.epoch;
    this.tagEpochs.clear();
    this.entries.clear();
    this.gauges();
    this.deps.metrics.responseCacheFlushes.inc({ reason });
  }

  /** Empties the cache and stops using it until a probe comes back. */
  private pause(reason: string): void {
    if (this.live) this.deps.logger.warn({ reason }, 'response cache emptied and paused until its invalidation feed is live again');
    this.live = false;
    this.deps.metrics.responseCacheLive.set(0);
    this.flush(reason);
    this.wake?.();
  }

  /** Probes the feed: goes live when a probe comes back, pauses when one does not. */
  private async watch(): Promise<void> {
    const heartbeat = this.options.heartbeatMs ?? 1000;
    const timeout = this.options.probeTimeoutMs ?? 2000;
    while (!this.closed) {
      const probe = randomUUID();
      this.probe = probe;
      const sent = this.deps.pubsub.publish(RESPONSE_INVALIDATIONS_CHANNEL, { probe } satisfies ResponseInvalidation).then(
        () => true,
        (error: unknown) => {
          this.deps.logger.debug({ err: error }, 'response cache probe not published');
          return false;
        },
      );
      await this.sleep(timeout, () => this.probe !== probe);
      if (this.closed) return;
      if (this.probe === probe) {
        // Not heard back in time (or not sent): the feed may be down.
        if (this.live) this.pause((await sent) ? 'probe not heard back' : 'probe not published');
        await this.sleep(Math.min(heartbeat, 250), () => false);
        continue;
      }
      if (!this.live) {
        // Anything fetched before now may have missed an invalidation.
        this.flush('invalidation feed live');
        this.live = true;
        this.deps.metrics.responseCacheLive.set(1);
        this.wentLive?.();
      }
      await this.sleep(heartbeat, () => !this.live);
    }
  }

  /** Waits `ms`, or less once `done()` holds (checked whenever something wakes the watcher). */
  private async sleep(ms: number, done: () => boolean): Promise<void> {
    if (done() || this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      timer.unref();
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        if (done() || this.closed) finish();
      };
    });
    this.wake = undefined;
  }

  private gauges(): void {
    this.deps.metrics.responseCacheEntries.set(this.entries.size);
    this.deps.metrics.responseCacheBytes.set(this.entries.totalWeight);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    this.wake?.();
    this.stopInterruptions?.();
    await this.subscription?.return?.();
    await Promise.all(this.loops);
  }
}

/** The parts of an error-free answer the cache keeps, with its ETag (over its data only). */
function parseAnswer(body: string): (Pick<Entry, 'data' | 'extensions' | 'readModels' | 'etag'> & { value: unknown }) | undefined {
  let parsed: { data?: unknown; errors?: unknown; extensions?: Record<string, unknown> };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed.errors !== undefined || parsed.data === undefined || parsed.data === null) return undefined;
  const data = JSON.stringify(parsed.data);
  return { value: parsed.data, data, etag: `W/"${createHash('sha1').update(data).digest('base64url')}"`, ...splitExtensions(parsed.extensions) };
}

/** The ETag of an answer that is not kept (undefined for errors or no data). */
export function etagOf(body: string): string | undefined {
  return parseAnswer(body)?.etag;
}

function splitExtensions(extensions: Record<string, unknown> | undefined): Pick<Entry, 'extensions' | 'readModels'> {
  if (!extensions) return { extensions: undefined, readModels: undefined };
  const { readModels, ...rest } = extensions;
  return {
    extensions: Object.keys(rest).length > 0 ? rest : undefined,
    readModels: readModels && typeof readModels === 'object' ? (readModels as Record<string, number>) : undefined,
  };
}
