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
});
