import type { Redis } from 'ioredis';

export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until a request would be allowed again. */
  retryAfterMs: number;
  remaining: number;
}

/** Sliding-window rate limiting: at most `limit` hits per `windowMs` for one key. */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<RateDecision>;
}

/**
 * In-process sliding window: per key, the hit times in arrival order; expired ones are dropped
 * from the front (amortised O(1) per hit, whatever the limit). Bounded in keys.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { times: number[]; start: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window) {
      window = { times: [], start: 0 };
      if (this.windows.size >= 100_000) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(key, window);
    }
    while (window.start < window.times.length && window.times[window.start]! <= now - windowMs) window.start++;
    if (window.start > 1024 && window.start * 2 > window.times.length) {
      window.times = window.times.slice(window.start);
      window.start = 0;
    }
    const count = window.times.length - window.start;
    if (count >= limit) return Promise.resolve({ allowed: false, retryAfterMs: Math.max(1, window.times[window.start]! + windowMs - now), remaining: 0 });
    window.times.push(now);
    return Promise.resolve({ allowed: true, retryAfterMs: 0, remaining: limit - count - 1 });
  }
}

/** Atomic sliding window in Redis: a sorted set of hit times per key, trimmed and counted in one script. */
const SCRIPT = `
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now, 0}
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, window)
return {1, 0, limit - count - 1}
`;

export class RedisRateLimiter implements RateLimiter {
  private sequence = 0;

  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = Date.now();
    const member = `${now}-${process.pid}-${++this.sequence}-${Math.random().toString(36).slice(2, 8)}`;
    const [allowed, retryAfterMs, remaining] = (await this.redis.eval(SCRIPT, 1, `${this.namespace}:rate:${key}`, now, windowMs, limit, member)) as [number, number, number];
    return { allowed: allowed === 1, retryAfterMs: Math.max(allowed === 1 ? 0 : 1, retryAfterMs), remaining };
  }
}

/**
 * Redis first; while Redis is unreachable, an in-process window instead (limits then hold per
 * process rather than across processes), so a cache outage neither blocks every request nor
 * lifts every limit.
 */
export class FallbackRateLimiter implements RateLimiter {
  private lastWarning = 0;

  constructor(
    private readonly primary: RateLimiter,
    private readonly fallback: RateLimiter,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    try {
      return await this.primary.hit(key, limit, windowMs);
    } catch (error) {
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        this.onFailure(error);
      }
      return this.fallback.hit(key, limit, windowMs);
    }
  }
}
