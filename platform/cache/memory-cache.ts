import { decodeStamped, encodeStamped, type Cache, type TagStamp } from './cache.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Default bounds: what a process gives its embedded cache at most. */
const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The embedded cache: an in-process LRU with per-entry TTL, bounded by entry count and by the
 * size of what it holds (clients choose the keys: a flood of distinct queries, each caching a
 * page of a hundred products, must not grow the process without limit).
 * A Map keeps insertion order, so re-inserting on read makes its first key the least recently used.
 */
export class MemoryCache implements Cache {
  private readonly entries = new Map<string, Entry>();
  private readonly tagVersions = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly options: { maxEntries?: number; maxBytes?: number; now?: () => number } = {}) {}

  /** Approximate memory of an entry: two bytes per UTF-16 code unit of key and value. */
  private static size(key: string, entry: Entry): number {
    return 2 * (key.length + entry.value.length);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= MemoryCache.size(key, entry);
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return Promise.resolve(undefined);
    if (entry.expiresAt <= this.now()) {
      this.remove(key);
      return Promise.resolve(undefined);
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return Promise.resolve(entry.value);
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.remove(key);
    const entry = { value, expiresAt: this.now() + ttlSeconds * 1000 };
    const maxEntries = this.options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_BYTES;
    const size = MemoryCache.size(key, entry);
    if (size > maxBytes) return Promise.resolve(); // larger than the whole cache: not kept
    this.entries.set(key, entry);
    this.bytes += size;
    while (this.entries.size > maxEntries || this.bytes > maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.remove(oldest);
    }
    return Promise.resolve();
  }

  delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.remove(key);
    return Promise.resolve();
  }

  deleteByPrefix(prefix: string): Promise<number> {
    let n = 0;
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) {
        this.remove(key);
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
    this.bytes = 0;
    return Promise.resolve();
  }
}
