/**
 * A fixed-size Bloom filter of document ids: "certainly never added" or "perhaps added". A new
 * collection version uses it to answer reads of documents it never wrote without asking the
 * server, in memory that does not grow with the number of documents (2 MiB: about 0.1 % false
 * "perhaps" at a million ids, 7 % at three million; a false "perhaps" only costs a read).
 */
export class IdFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(
    log2Bits = 24,
    private readonly hashes = 5,
  ) {
    this.bits = new Uint32Array(2 ** (log2Bits - 5));
    this.mask = 2 ** log2Bits - 1;
  }

  add(id: string): void {
    const [h1, h2] = hash(id);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mightContain(id: string): boolean {
    const [h1, h2] = hash(id);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Two independent 32-bit hashes (FNV-1a and a multiplicative variant) for double hashing. */
function hash(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a >>> 0, (b | 1) >>> 0];
}
