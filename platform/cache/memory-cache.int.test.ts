import { describe, expect, it } from 'vitest';
import { cacheContract } from './cache.contract.js';
import { MemoryCache } from './memory-cache.js';

cacheContract('embedded LRU', () => Promise.resolve(new MemoryCache()));

describe('MemoryCache bound', () => {
  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = new MemoryCache({ maxEntries: 2 });
    await cache.set('a', '1', 60);
    await cache.set('b', '2', 60);
    await cache.get('a');
    await cache.set('c', '3', 60);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBe('1');
    expect(await cache.get('c')).toBe('3');
  });

  it('evicts the least recently used entries beyond maxBytes, and keeps nothing larger than the whole cache', async () => {
    const cache = new MemoryCache({ maxBytes: 2 * 30 });
    await cache.set('a', 'x'.repeat(9), 60); // 2 x (1 + 9) = 20 bytes
    await cache.set('b', 'y'.repeat(9), 60);
    await cache.get('a');
    await cache.set('c', 'z'.repeat(9), 60); // 60 bytes: still fits
    await cache.set('d', 'w'.repeat(9), 60); // 80 > 60: b, the least recently used, goes
    expect(await cache.get('b')).toBeUndefined();
    expect([await cache.get('a'), await cache.get('c'), await cache.get('d')]).toEqual(['x'.repeat(9), 'z'.repeat(9), 'w'.repeat(9)]);
    await cache.set('huge', 'h'.repeat(100), 60);
    expect(await cache.get('huge')).toBeUndefined();
    expect(await cache.get('a')).toBe('x'.repeat(9));
  });
});
