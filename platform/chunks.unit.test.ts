import { describe, expect, it } from 'vitest';
import { chunksOf } from './chunks.js';

describe('chunksOf (splitting a publish into sends the broker accepts)', () => {
  it('keeps order, never exceeds the limit with more than one item, and gives an oversized item a send of its own', () => {
    const sizes = [3, 4, 2, 9, 1, 1, 12, 5];
    const chunks = chunksOf(sizes, (n) => n, 10);
    expect(chunks.flat()).toEqual(sizes);
    expect(chunks).toEqual([[3, 4, 2], [9, 1], [1], [12], [5]]);
    for (const chunk of chunks) if (chunk.length > 1) expect(chunk.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10);
  });

  it('gives nothing for nothing', () => {
    expect(chunksOf([], () => 1, 10)).toEqual([]);
  });
});
