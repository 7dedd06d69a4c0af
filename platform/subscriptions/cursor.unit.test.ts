import { describe, expect, it } from 'vitest';
import { assertResumable, decodeCursor, encodeCursor } from './cursor.js';

describe('subscription cursors', () => {
  it('round-trips a position and its time, opaquely', () => {
    const cursor = encodeCursor(12345, 1_700_000_000_000);
    expect(cursor).not.toContain('12345');
    expect(decodeCursor(cursor)).toEqual({ position: 12345, atMs: 1_700_000_000_000 });
  });

  it.each(['', 'garbage', 'c1.', 'c1.@@@', `c1.${Buffer.from('1.2.3').toString('base64url')}`, `c1.${Buffer.from('-1.5').toString('base64url')}`, `c1.${'A'.repeat(100)}`])('refuses %j with INVALID_INPUT', (bad) => {
    expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'INVALID_INPUT' }) as unknown }));
  });

  it('is CURSOR_EXPIRED past the retention or ahead of the log, resumable otherwise', () => {
    const now = 1_700_000_000_000;
    const expired: unknown = expect.objectContaining({ extensions: expect.objectContaining({ code: 'CURSOR_EXPIRED' }) as unknown });
    expect(() => assertResumable({ position: 5, atMs: now - 61_000 }, { head: 10, nowMs: now, retentionMs: 60_000 })).toThrow(expired);
    expect(() => assertResumable({ position: 11, atMs: now }, { head: 10, nowMs: now, retentionMs: 60_000 })).toThrow(expired);
    expect(() => assertResumable({ position: 10, atMs: now - 59_000 }, { head: 10, nowMs: now, retentionMs: 60_000 })).not.toThrow();
  });
});
