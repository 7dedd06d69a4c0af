import type { Redis } from 'ioredis';
import { decodeStamped, encodeStamped, type Cache, type TagStamp } from './cache.js';

/**
 * The Cache port on Redis. Tag versions are counters (`INCR` to invalidate), read in the same
 * round trip as the entry (`MGET`), so a tagged read costs one request. Every key is prefixed
 * with the namespace, so systems (and test runs) can share one server.
 */
export class RedisCache implements Cache {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
    private readonly options: { onClose?: () => void } = {},
  ) {}

  private key(key: string): string {
    return `${this.namespace}:cache:${key}`;
  }

  private tagKey(tag: string): string {
    return `${this.namespace}:tag:${tag}`;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(key))) ?? undefined;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.key(key), value, 'EX', Math.max(1, Math.round(ttlSeconds)));
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.redis.unlink(...keys.map((k) => this.key(k)));
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    const pattern = `${this.key(prefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  async getTagged(key: string, tags: readonly string[]): Promise<{ value: string | undefined; stamp: TagStamp }> {
    const values = await this.redis.mget(this.key(key), ...tags.map((t) => this.tagKey(t)));
    const stamp: TagStamp = { tags, versions: tags.map((_, i) => Number(values[i + 1] ?? 0)) };
    return { value: decodeStamped(values[0] ?? undefined, stamp), stamp };
  }

  async setTagged(key: string, value: string, stamp: TagStamp, ttlSeconds: number): Promise<void> {
    await this.set(key, encodeStamped(stamp, value), ttlSeconds);
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const tag of tags) pipeline.incr(this.tagKey(tag));
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  /** The connection may be shared: it is released only through `onClose`, when given. */
  close(): Promise<void> {
    this.options.onClose?.();
    return Promise.resolve();
  }
}
