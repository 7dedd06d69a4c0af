import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from './cache.js';

/** The one contract every Cache adapter passes. Keys are fresh per test. */
export function cacheContract(name: string, open: () => Promise<Cache>): void {
  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;
    beforeAll(async () => {
      cache = await open();
    });
    afterAll(async () => {
      await cache.close();
    });
    const key = (suffix = '') => `test:${randomUUID()}${suffix}`;

    it('gets what was set and nothing for an unknown key', async () => {
      const k = key();
      await cache.set(k, 'value', 60);
      expect(await cache.get(k)).toBe('value');
      expect(await cache.get(key())).toBeUndefined();
    });

    it('expires entries after their TTL', async () => {
      const k = key();
      await cache.set(k, 'short', 1);
      expect(await cache.get(k)).toBe('short');
      await sleep(1100);
      expect(await cache.get(k)).toBeUndefined();
    });

    it('deletes keys and deletes by prefix without touching other keys', async () => {
      const prefix = key(':');
      const other = key();
      await cache.set(`${prefix}a`, '1', 60);
      await cache.set(`${prefix}b`, '2', 60);
      await cache.set(other, '3', 60);
      await cache.delete([`${prefix}a`]);
      expect(await cache.get(`${prefix}a`)).toBeUndefined();
      await cache.set(`${prefix}c`, '4', 60);
      expect(await cache.deleteByPrefix(prefix)).toBe(2);
      expect(await cache.get(`${prefix}b`)).toBeUndefined();
      expect(await cache.get(other)).toBe('3');
    });

    it('serves a tagged entry until one of its tags is invalidated', async () => {
      const k = key();
      const tags = [key(), key()];
      const miss = await cache.getTagged(k, tags);
      expect(miss.value).toBeUndefined();
      await cache.setTagged(k, 'page', miss.stamp, 60);
      expect((await cache.getTagged(k, tags)).value).toBe('page');
      await cache.invalidateTags([tags[1]!]);
      expect((await cache.getTagged(k, tags)).value).toBeUndefined();
    });

    it('never serves a value loaded before an invalidation that raced with it', async () => {
      const k = key();
      const tags = [key()];
      const miss = await cache.getTagged(k, tags); // reader starts loading the old value…
      await cache.invalidateTags(tags); // …a writer changes the data and invalidates…
      await cache.setTagged(k, 'stale', miss.stamp, 60); // …the reader stores what it loaded
      expect((await cache.getTagged(k, tags)).value).toBeUndefined();
      const fresh = await cache.getTagged(k, tags);
      await cache.setTagged(k, 'fresh', fresh.stamp, 60);
      expect((await cache.getTagged(k, tags)).value).toBe('fresh');
    });
  });
}
