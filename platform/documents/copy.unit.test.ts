import { describe, expect, it } from 'vitest';
import { copyDocument } from './copy.js';

describe('copyDocument', () => {
  it('copies nested objects and arrays deeply, and other objects as structuredClone does', () => {
    const at = new Date('2026-12-01T00:00:00.000Z');
    const original = { _id: 'a', with: { b: 2, c: 3 }, viewed: [{ productId: 'x', at: '2026' }], at, none: null, n: 1.5, s: 's', t: true };
    const copied = copyDocument(original);
    expect(copied).toEqual(original);
    copied.with.b = 9;
    copied.viewed[0]!.productId = 'y';
    copied.viewed.push({ productId: 'z', at: '2027' });
    expect(original.with.b).toBe(2);
    expect(original.viewed).toEqual([{ productId: 'x', at: '2026' }]);
    expect(copied.at).not.toBe(at);
    expect(copied.at.getTime()).toBe(at.getTime());
    expect(copyDocument(undefined)).toBeUndefined();
  });
});
