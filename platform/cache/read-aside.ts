import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Cache } from './cache.js';

/**
 * Read-aside over the Cache port's tagged entries, for a query service: a hit is parsed from
 * the cache; a miss loads from the read model and is kept under the stamp read with it, so an
 * invalidation of any of its tags in between leaves it out (see the Cache port). The cache is an
 * optimisation: when it fails, queries go to the read model (and say so, at most every 10 s).
 * Counted in `storefront_cache_requests_total{cache=name}`.
 */
export class TaggedReadAside {
  private lastWarning = 0;

  constructor(
    private readonly cache: Cache,
    private readonly name: string,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /**
     * The physical versions of the read models behind the entries (DocumentStore.physicalName),
     * made part of every key. A rebuild's switch invalidates the collections' tags, but a query
     * process resolves the live version up to a second late (MongoDocumentStore) and could cache
     * what it loads from the old version after that invalidation, for the entry's whole TTL: with
     * the version in the key, such an entry is under the old version's key, which nobody reads
     * once their stores have seen the switch.
     */
    private readonly versions?: () => Promise<string>,
  ) {}

  async get<T>(key: string, tags: string[], ttlSeconds: number, load: () => Promise<T>): Promise<{ value: T; hit: boolean }> {
    if (this.versions) key = `${await this.versions()}:${key}`;
    let found: Awaited<ReturnType<Cache['getTagged']>>;
    try {
      found = await this.cache.getTagged(key, tags);
    } catch (error) {
      this.failed(error);
      return { value: await load(), hit: false };
    }
    if (found.value !== undefined) {
      this.metrics.cacheRequests.inc({ cache: this.name, result: 'hit' });
      return { value: JSON.parse(found.value) as T, hit: true };
    }
    this.metrics.cacheRequests.inc({ cache: this.name, result: 'miss' });
    const value = await load();
    try {
      await this.cache.setTagged(key, JSON.stringify(value ?? null), found.stamp, ttlSeconds);
    } catch (error) {
      this.failed(error);
    }
    return { value, hit: false };
  }

  private failed(error: unknown): void {
    this.metrics.cacheRequests.inc({ cache: this.name, result: 'error' });
    if (Date.now() - this.lastWarning > 10_000) {
      this.lastWarning = Date.now();
      this.logger.warn({ err: error, cache: this.name }, 'cache unavailable; reading the read model directly');
    }
  }
}
