/**
 * Tokens already verified, kept until they expire: a signed token's claims cannot change, so
 * checking its signature once is enough. Verifying an HS256 JWT with jose imports the key into
 * WebCrypto every time, which was the largest single cost of a subgraph answering the gateway
 * (about a sixth of its CPU), and the gateway sends the same token for a caller for minutes.
 * Only successful verifications are kept; a bad token is checked (and refused) every time.
 * Bounded: the oldest entries go first beyond `maxEntries`.
 */
export class VerifiedTokens<T> {
  private readonly entries = new Map<string, { value: T; untilMs: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value `verify` gave for this token, while the token is unexpired; else verifies it now. */
  async get(token: string, verify: (token: string) => Promise<{ value: T; expiresAtMs: number }>): Promise<T> {
    const kept = this.entries.get(token);
    if (kept) {
      if (kept.untilMs > this.now()) return kept.value;
      this.entries.delete(token);
    }
    const { value, expiresAtMs } = await verify(token);
    if (expiresAtMs > this.now()) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(token, { value, untilMs: expiresAtMs });
    }
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** One cache per signing key, so tokens of one key never answer for another. */
export function verifiedTokensFor<T>(caches: WeakMap<Uint8Array, VerifiedTokens<T>>, secret: Uint8Array): VerifiedTokens<T> {
  let cache = caches.get(secret);
  if (!cache) caches.set(secret, (cache = new VerifiedTokens<T>()));
  return cache;
}
