import { describe, expect, it } from 'vitest';
import { VerifiedTokens } from './verified-tokens.js';

describe('VerifiedTokens', () => {
  it('verifies a token once while it is unexpired, and again once it has expired', async () => {
    let now = 1_000_000;
    const cache = new VerifiedTokens<string>(10, () => now);
    let verifications = 0;
    const verify = (token: string) => {
      verifications++;
      return Promise.resolve({ value: `caller of ${token}`, expiresAtMs: 1_060_000 });
    };
    expect(await cache.get('t', verify)).toBe('caller of t');
    expect(await cache.get('t', verify)).toBe('caller of t');
    expect(verifications).toBe(1);
    now = 1_060_000;
    await cache.get('t', verify);
    expect(verifications).toBe(2);
    expect(cache.size).toBe(0); // verified after its expiry: not kept
  });

  it('keeps no failed verification, and holds at most maxEntries tokens', async () => {
    const cache = new VerifiedTokens<number>(3, () => 0);
    let attempts = 0;
    const refuse = () => {
      attempts++;
      return Promise.reject(new Error('bad signature'));
    };
    await expect(cache.get('forged', refuse)).rejects.toThrow('bad signature');
    await expect(cache.get('forged', refuse)).rejects.toThrow('bad signature');
    expect(attempts).toBe(2);
    for (let i = 0; i < 5; i++) await cache.get(`t${i}`, () => Promise.resolve({ value: i, expiresAtMs: 1 }));
    expect(cache.size).toBe(3);
  });
});
