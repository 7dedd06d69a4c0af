import { decodeStamped, encodeStamped, type Cache, type TagStamp } from './cache.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * The embedded cache: an in-process LRU with per-entry TTL, bounded by entry count.
 * A Map keeps insertion order, so re-inserting on read makes its first key the least recently used.
 */
export class MemoryCache implements Cache {
  private readonly entries = new Map<string, Entry>();
  private readonly tagVersions = new Map<string, number>();

  constructor(private readonly options: { maxEntries?: number; now?: () => number } = {}) {}

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return Promise.resolve(undefined);
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return Promise.resolve(undefined);
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return Promise.resolve(entry.value);
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
    const max = this.options.maxEntries ?? 10_000;
    while (this.entries.size > max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return Promise.resolve();
  }

  delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
    return Promise.resolve();
  }

  deleteByPrefix(prefix: string): Promise<number> {
    let n = 0;
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) {
        this.entries.delete(key);
        n++;
      }
    }
    return Promise.resolve(n);
  }

  private stamp(tags: readonly string[]): TagStamp {
    return { tags, versions: tags.map((t) => this.tagVersions.get(t) ?? 0) };
  }

  async getTagged(key: string, tags: readonly string[]): Promise<{ value: string | undefined; stamp: TagStamp }> {
    const stamp = this.stamp(tags);
    return { value: decodeStamped(await this.get(key), stamp), stamp };
  }

  setTagged(key: string, value: string, stamp: TagStamp, ttlSeconds: number): Promise<void> {
    return this.set(key, encodeStamped(stamp, value), ttlSeconds);
  }

  invalidateTags(tags: readonly string[]): Promise<void> {
    for (const tag of tags) this.tagVersions.set(tag, (this.tagVersions.get(tag) ?? 0) + 1);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}
