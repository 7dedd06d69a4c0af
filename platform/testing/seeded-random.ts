/** A small, fast, seedable PRNG (mulberry32): the same seed, the same choices, so a failing run can be replayed. */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed | 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Printable ASCII only: what an HTTP header value can carry. */
  headerValue(maxLength: number): string {
    return Array.from({ length: this.int(0, maxLength) }, () => String.fromCharCode(this.int(0x20, 0x7e))).join('');
  }

  /** Text with the characters parsers trip on: quotes, brackets, escapes, non-ASCII, NUL. */
  string(maxLength: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz ABC0123456789_-"\\{}()[]$@!.:é☃\n\t\u0000';
    return Array.from({ length: this.int(0, maxLength) }, () => this.pick([...alphabet])).join('');
  }
}
