import { createHash } from 'node:crypto';
import { readModelTag, RESPONSE_INVALIDATIONS_CHANNEL, type ResponseInvalidation } from '../platform/cache/response-tags.js';
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
  /** A read model whose projector has not said it is alive for this long is not served from (default 3.5 s). */
  staleAfterMs?: number;
  /** Which read models the cache serves answers from (their heartbeats are awaited at start). */
  readModels?: readonly string[];
}

/** An answer as kept: its data (JSON) and the rest, so the positions it states can be brought up to date. */
interface Entry {
  contentType: string;
  data: string;
  extensions: Record<string, unknown> | undefined;
  readModels: Record<string, number> | undefined;
  etag: string;
  tags: readonly string[];
  /** The read models it was read from (its `read-model:` tags). */
  sources: readonly string[];
  /** The epoch the request that fetched it started in: valid while none of its tags is invalidated later. */
  epoch: number;
  /** When it must no longer be served (Date.now() terms), if it ages out at all. */
  expiresAt: number | undefined;
}

/** A cached answer, ready to send. */
export interface CachedAnswer {
  contentType: string;
  body: string;
  etag: string;
}

/**
 * Taken when a request whose answer may be kept starts: the answer is refused if anything it
 * holds was invalidated since. `heard`: the positions the read models had reached then (what the
 * request reads is at least that fresh).
 */
export interface Ticket {
  readonly epoch: number;
  /** When (Date.now()) the request began. */
  readonly startedAt: number;
  readonly heard: Readonly<Record<string, number>>;
}


/**
 * The gateway's response cache: answers to cacheable operations (gateway/response-cache-policy.ts),
 * kept in a weighted LRU, each tagged with the entities, lists and read models it holds. The
 * projector publishes the tags its changes make stale on pub/sub once the read model is written
 * and the subgraphs' cache forgot them; an answer is served only while none of its tags has been
 * invalidated since the request that fetched it started (per-tag epochs, checked when it is
 * stored and at every hit), so a request racing an invalidation never keeps what it read before.
 *
 * Nothing is served from a read model unless the feed is known to carry its invalidations: its
 * projector says on the same feed, every second, that it runs with nothing left undelivered
 * (projections/effects.ts). Answers from a read model whose heartbeat is older than
 * `staleAfterMs` are neither served nor kept; when its heartbeat comes back after such a lapse,
 * from a new projector instance (a restart may have lost invalidations), or for the first time,
 * the cache forgets everything first. So does an interruption reported by pub/sub (messages may
 * have been lost) or a subscriber that fell behind. A gateway and a projector on different feeds
 * (another Redis, another NAMESPACE, no Redis) thus never serve from the cache, rather than serve
 * stale answers. An answer stays until invalidated or evicted, or, for the few fields whose policy
 * says so (inputs no projection announces), until its maximum age.
 */
export class ResponseCache {
  private readonly entries: WeightedLru<string, Entry>;
  /** Epoch of each tag's last invalidation; a request or entry older than `floor` is void. */
  private readonly tagEpochs = new Map<string, number>();
  private epoch = 1;
  private floor = 1;
  /** The latest position each read model is known to have reached (from the feed). */
  private readonly heard: Record<string, number> = {};
  /** Per read model, when each of its projectors (by instance) was last heard. */
  private readonly sources = new Map<string, Map<string, number>>();
  private subscription: Subscription<ResponseInvalidation> | undefined;
  private stopInterruptions: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private heartbeatHeard: (() => void) | undefined;
  private readonly gaugeTimer: NodeJS.Timeout;

  constructor(
    private readonly deps: { pubsub: PubSub; metrics: Metrics; logger: Logger },
    private readonly options: ResponseCacheOptions = {},
  ) {
    this.entries = new WeightedLru(options.maxBytes ?? 64 * 1024 * 1024, options.maxEntries ?? 10_000);
    deps.metrics.responseCacheLive.set(0);
    this.gaugeTimer = setInterval(() => deps.metrics.responseCacheLive.set(this.serving ? 1 : 0), 1000);
    this.gaugeTimer.unref();
  }

  /**
   * Subscribes to the invalidation feed; resolves once every read model of `options.readModels`
   * has been heard from, or after `waitMs` (the cache serves as soon as they are, later).
   */
  async start(waitMs = 5000): Promise<void> {
    this.stopInterruptions = this.deps.pubsub.onInterrupted(() => this.forget('pub/sub connection interrupted'));
    const subscription = this.deps.pubsub.subscribe<ResponseInvalidation>(RESPONSE_INVALIDATIONS_CHANNEL);
    this.subscription = subscription;
    this.loop = this.follow(subscription);
    await subscription.ready;
    const expected = this.options.readModels ?? [];
    const deadline = Date.now() + waitMs;
    while (!this.closed && expected.some((name) => !this.alive(name)) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.heartbeatHeard = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.heartbeatHeard = undefined;
    }
    const silent = expected.filter((name) => !this.alive(name));
    if (silent.length > 0) this.deps.logger.warn({ readModels: silent }, 'response cache: no heartbeat yet from these read models\' projector on the invalidation feed; answers from them are not cached until one comes');
  }

  /** Whether answers are served and kept now (from at least one read model). */
  get serving(): boolean {
    if (this.closed) return false;
    for (const name of this.sources.keys()) if (this.alive(name)) return true;
    return false;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Taken before fetching an answer that may be kept. */
  begin(): Ticket {
    return { epoch: this.epoch, startedAt: Date.now(), heard: { ...this.heard } };
  }

  /**
   * The answer kept under `key`, if it may be served; `countMiss: false` for a look that will be
   * repeated. `atLeast` (read-your-writes): only an answer known to hold every change up to that
   * position of each read model it was read from (see `reached`).
   */
  get(key: string, options: { countMiss?: boolean; atLeast?: number } = {}): CachedAnswer | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      if (options.countMiss !== false) this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'miss' });
      return undefined;
    }
    if (!entry.sources.every((name) => this.alive(name))) {
      this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'paused' });
      return undefined;
    }
    if (!this.valid(entry)) {
      this.entries.delete(key);
      this.gauges();
      this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'stale' });
      return undefined;
    }
    if (options.atLeast !== undefined && !this.reached(entry, options.atLeast)) {
      this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'behind' });
      return undefined;
    }
    this.deps.metrics.cacheRequests.inc({ cache: 'gateway_response', result: 'hit' });
    return { contentType: entry.contentType, body: this.body(entry), etag: entry.etag };
  }

  /**
   * Keeps an answer (a complete GraphQL response body) under `key`, unless it holds errors or no
   * data, `tagsOf` finds no tags for it, a read model it was read from is not heard from, or one
   * of its tags was invalidated after `ticket` was taken. Returns, kept or not, the answer's ETag
   * and the body to send: the answer stating, for each read model, at least the position heard
   * when the request began (undefined for errors or no data: send the answer as it is).
   * `maxAgeMs`: it is served at most this long after the request began (default: until invalidated).
   */
  store(ticket: Ticket, key: string, contentType: string, body: string, tagsOf: (data: unknown) => readonly string[] | undefined, maxAgeMs?: number): { etag: string; body: string } | undefined {
    const parsed = parseAnswer(body);
    if (!parsed) return undefined;
    const readModels = parsed.readModels && fresher(parsed.readModels, ticket.heard);
    const expiresAt = maxAgeMs === undefined ? undefined : ticket.startedAt + maxAgeMs;
    const entry: Entry = { contentType, tags: [], sources: [], epoch: ticket.epoch, expiresAt, data: parsed.data, etag: parsed.etag, extensions: parsed.extensions, readModels };
    const answer = { etag: entry.etag, body: render(entry, readModels) };
    const tags = tagsOf(parsed.value);
    if (!tags) return answer;
    const sources = tags.filter((t) => t.startsWith(READ_MODEL_PREFIX)).map((t) => t.slice(READ_MODEL_PREFIX.length));
    const kept: Entry = { ...entry, tags, sources };
    if (this.closed || !sources.every((name) => this.alive(name)) || !this.valid(kept)) {
      this.deps.metrics.responseCacheStoresRefused.inc();
      return answer;
    }
    this.entries.set(key, kept, key.length + kept.data.length + 256);
    this.gauges();
    return answer;
  }

  /**
   * Whether a projector of the read model was heard recently. One that fell silent may have lost
   * invalidations it had not delivered (a crash): it is dropped, and everything with it.
   */
  private alive(readModel: string): boolean {
    const instances = this.sources.get(readModel);
    if (!instances) return false;
    const now = Date.now();
    for (const [instance, heardAt] of instances) {
      if (now - heardAt <= (this.options.staleAfterMs ?? 3500)) continue;
      instances.delete(instance);
      this.deps.logger.warn({ readModel }, 'response cache: a projector of the read model fell silent; emptied, and not serving from it until one is heard');
      this.flush('projector silent');
    }
    return instances.size > 0;
  }

  /**
   * Whether a valid entry holds every change up to `position` of the read models it was read from:
   * each was read at that position or later, or its projector has since announced reaching it (it
   * announces a position only after the invalidations of the changes before it, so an entry still
   * valid then changed in nothing up to it). An entry that ages out (inputs no projection
   * announces) counts only what it was read at.
   */
  private reached(entry: Entry, position: number): boolean {
    if (entry.sources.length === 0) return false;
    return entry.sources.every((name) => Math.max(entry.readModels?.[name] ?? 0, entry.expiresAt === undefined ? (this.heard[name] ?? 0) : 0) >= position);
  }

  private valid(entry: Entry): boolean {
    if (entry.epoch < this.floor) return false;
    if (entry.expiresAt !== undefined && Date.now() >= entry.expiresAt) return false;
    for (const tag of entry.tags) if ((this.tagEpochs.get(tag) ?? 0) >= entry.epoch) return false;
    return true;
  }

  /** The answer, stating the positions heard since it was fetched: nothing it holds changed up to them. */
  private body(entry: Entry): string {
    return render(entry, entry.readModels && fresher(entry.readModels, this.heard));
  }

  private async follow(subscription: Subscription<ResponseInvalidation>): Promise<void> {
    let dropped = 0;
    for await (const message of subscription) {
      if (subscription.dropped() > dropped) {
        dropped = subscription.dropped();
        this.forget('invalidations dropped: the subscriber fell behind');
      }
      this.receive(message);
    }
    if (!this.closed) {
      this.deps.logger.error('the response cache stopped: its invalidation feed ended');
      this.forget('the invalidation feed ended');
      this.closed = true;
    }
  }

  private receive(message: ResponseInvalidation): void {
    if (message.alive) {
      this.heartbeat(message.alive.readModel, message.alive.instance);
    } else {
      const tags = message.tags ?? [];
      // Entries and requests from before this epoch that hold a tag are void; requests begun after are not.
      this.epoch++;
      for (const tag of tags) this.tagEpochs.set(tag, this.epoch);
      this.epoch++;
      this.deps.metrics.responseCacheInvalidations.inc(tags.length);
      // Forgetting a tag's epoch would let an older entry holding it pass: drop everything instead.
      if (this.tagEpochs.size > (this.options.maxTrackedTags ?? 100_000)) this.flush('too many tags tracked');
    }
    for (const [name, position] of Object.entries(message.positions ?? {})) if (typeof position === 'number') this.heard[name] = Math.max(this.heard[name] ?? 0, position);
  }

  private heartbeat(readModel: string, instance: string): void {
    this.alive(readModel); // drops (and empties the cache for) projectors that fell silent
    let instances = this.sources.get(readModel);
    if (!instances) this.sources.set(readModel, (instances = new Map<string, number>()));
    if (!instances.has(instance)) {
      // A projector heard for the first time (or again after it fell silent): what was kept, and
      // what is being fetched, may have missed an invalidation while it was not heard.
      this.flush('projector heard');
      this.deps.logger.info({ readModel }, 'response cache: a projector of the read model is heard; serving from it');
    }
    instances.set(instance, Date.now());
    this.deps.metrics.responseCacheLive.set(this.serving ? 1 : 0);
    this.heartbeatHeard?.();
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

  /** Messages may have been lost: forgets everything, and every read model, until heard from again. */
  private forget(reason: string): void {
    if (this.serving) this.deps.logger.warn({ reason }, 'response cache emptied and paused until the projector is heard from again');
    this.sources.clear();
    this.flush(reason);
    this.deps.metrics.responseCacheLive.set(0);
  }

  private gauges(): void {
    this.deps.metrics.responseCacheEntries.set(this.entries.size);
    this.deps.metrics.responseCacheBytes.set(this.entries.totalWeight);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.gaugeTimer);
    this.heartbeatHeard?.();
    this.stopInterruptions?.();
    await this.subscription?.return?.();
    await this.loop;
  }
}

const READ_MODEL_PREFIX = readModelTag('');

/** Each read model's position, raised to what was heard. */
function fresher(readModels: Record<string, number>, heard: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(readModels).map(([name, position]) => [name, typeof position === 'number' ? Math.max(position, heard[name] ?? 0) : position]));
}

function render(entry: Entry, readModels: Record<string, number> | undefined): string {
  if (!readModels && !entry.extensions) return `{"data":${entry.data}}`;
  return `{"data":${entry.data},"extensions":${JSON.stringify({ ...entry.extensions, ...(readModels && { readModels }) })}}`;
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
