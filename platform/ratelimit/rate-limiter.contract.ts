import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { RateLimiter } from './rate-limiter.js';

/** The one contract every RateLimiter passes. */
export function rateLimiterContract(name: string, open: () => Promise<RateLimiter>): void {
  describe(`RateLimiter contract: ${name}`, () => {
    it('allows `limit` hits per window, then refuses with a retry-after within the window', async () => {
      const limiter = await open();
      const key = randomUUID();
      const decisions = [];
      for (let i = 0; i < 4; i++) decisions.push(await limiter.hit(key, 3, 1000));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
      expect(decisions[2]!.remaining).toBe(0);
      expect(decisions[3]!.retryAfterMs).toBeGreaterThan(0);
      expect(decisions[3]!.retryAfterMs).toBeLessThanOrEqual(1000);
      expect((await limiter.hit(randomUUID(), 3, 1000)).allowed).toBe(true); // keys are independent
    });

    it('allows again once the window has slid past the oldest hits', async () => {
      const limiter = await open();
      const key = randomUUID();
      await limiter.hit(key, 2, 300);
      await limiter.hit(key, 2, 300);
      expect((await limiter.hit(key, 2, 300)).allowed).toBe(false);
      await sleep(350);
      expect((await limiter.hit(key, 2, 300)).allowed).toBe(true);
    });

    it('counts concurrent hits exactly', async () => {
      const limiter = await open();
      const key = randomUUID();
      const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.hit(key, 5, 5000)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    });
  });
}
