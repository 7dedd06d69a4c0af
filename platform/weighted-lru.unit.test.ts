import { describe, expect, it } from 'vitest';
import { WeightedLru } from './weighted-lru.js';

describe('a weighted LRU cache', () => {
  it('evicts the least recently used entries to stay within its weight and its count', () => {
    const cache = new WeightedLru<string, number>(10, 3);
    cache.set('a', 1, 4);
    cache.set('b', 2, 4);
    expect(cache.get('a')).toBe(1); // a is now the most recently used
    cache.set('c', 3, 4); // 12 > 10: b goes
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    cache.set('d', 4, 1);
    cache.set('e', 5, 1); // a fourth entry: the least recently used (a) goes
    expect(cache.size).toBe(3);
    expect(cache.get('a')).toBeUndefined();
  });

  it('does not keep an entry heavier than the whole cache, and replaces an entry in place', () => {
    const cache = new WeightedLru<string, number>(10, 5);
    cache.set('a', 1, 3);
    cache.set('huge', 2, 11);
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    cache.set('a', 7, 9);
    expect(cache.get('a')).toBe(7);
    cache.set('b', 8, 2); // 9 + 2 > 10: a goes
    expect([cache.get('a'), cache.get('b')]).toEqual([undefined, 8]);
  });
});
