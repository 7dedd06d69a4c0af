/**
 * Cache port. Values are strings (callers serialise). Besides plain keys it offers tagged
 * entries that are invalidated by bumping a tag's version instead of finding keys:
 *
 *   const hit = await cache.getTagged(key, ['products']);
 *   if (hit.value !== undefined) return hit.value;
 *   const value = await load();
 *   await cache.setTagged(key, value, hit.stamp, ttl);   // stamp = tag versions read BEFORE loading
 *
 * A writer that invalidates between the read and the set leaves the entry stamped with the old
 * versions, so it is never served: read-aside without the classic stale-set race.
 */
export interface TagStamp {
  readonly tags: readonly string[];
  readonly versions: readonly number[];
}

export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  /** Deletes every plain or tagged key starting with `prefix`. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** A value only if it was stored under the tags' current versions; always the current stamp. */
  getTagged(key: string, tags: readonly string[]): Promise<{ value: string | undefined; stamp: TagStamp }>;
  setTagged(key: string, value: string, stamp: TagStamp, ttlSeconds: number): Promise<void>;
  /** Makes every entry stored under these tags stale. */
  invalidateTags(tags: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Stamps are stored with the value: "<v1>,<v2>|<value>". */
export function encodeStamped(stamp: TagStamp, value: string): string {
  return `${stamp.versions.join(',')}|${value}`;
}

export function decodeStamped(stored: string | undefined, current: TagStamp): string | undefined {
  if (stored === undefined) return undefined;
  const bar = stored.indexOf('|');
  if (bar < 0) return undefined;
  return stored.slice(0, bar) === current.versions.join(',') ? stored.slice(bar + 1) : undefined;
}
