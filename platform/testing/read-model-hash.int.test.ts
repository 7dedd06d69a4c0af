import { describe, expect, it } from 'vitest';
import type { Doc } from '../documents/document-store.js';
import { MemoryDocumentStore } from '../documents/memory-document-store.js';
import type { Projection } from '../../projections/projection.js';
import { canonicalJson, digestDifference, readModelDigest } from './read-model-hash.js';

const projection = (name: string, collections: string[]): Projection => ({ name, collections, handles: () => false, apply: () => Promise.resolve({ changed: false }) });
const MODELS = [projection('a', ['things', 'others']), projection('b', ['others'])];

async function store(docs: Record<string, (Doc & Record<string, unknown>)[]>, pageSize?: number) {
  const documents = new MemoryDocumentStore();
  for (const [name, list] of Object.entries(docs)) {
    for (const doc of list) {
      const { _position, ...rest } = doc;
      await documents.collection(name).upsertIfNewer(rest, _position ?? 1);
    }
  }
  return readModelDigest(documents, MODELS, pageSize === undefined ? {} : { pageSize });
}

describe('read-model content hash', () => {
  it('canonical JSON: keys sorted at every level, undefined members left out, arrays kept in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson({ at: new Date('2026-01-02T03:04:05.000Z') })).toBe('{"at":"2026-01-02T03:04:05.000Z"}');
  });

  it('equal content hashes equal whatever the insertion order, key order or page size; each collection once', async () => {
    const one = await store({ things: [{ _id: 'x', n: 1, m: { p: 1, q: 2 }, _position: 3 }, { _id: 'y', n: 2, _position: 5 }], others: [{ _id: 'o', v: 'z', _position: 4 }] });
    const two = await store({ others: [{ _id: 'o', v: 'z', _position: 4 }], things: [{ _id: 'y', n: 2, _position: 5 }, { _id: 'x', m: { q: 2, p: 1 }, n: 1, _position: 3 }] }, 1);
    expect(two.hash).toBe(one.hash);
    expect(one.collections.map((c) => [c.collection, c.count])).toEqual([
      ['things', 2],
      ['others', 1],
    ]);
    expect(digestDifference(one, two)).toBe('');
  });

  it('a different position, value, missing or extra document changes the hash, and the difference names it', async () => {
    const base = { things: [{ _id: 'x', n: 1, _position: 3 }, { _id: 'y', n: 2, _position: 5 }] };
    const expected = await store(base);
    const position = await store({ things: [{ _id: 'x', n: 1, _position: 4 }, { _id: 'y', n: 2, _position: 5 }] });
    const value = await store({ things: [{ _id: 'x', n: 1, _position: 3 }, { _id: 'y', n: 3, _position: 5 }] });
    const missing = await store({ things: [{ _id: 'x', n: 1, _position: 3 }] });
    const extra = await store({ things: [...base.things, { _id: 'z', n: 0, _position: 6 }] });
    for (const other of [position, value, missing, extra]) expect(other.hash).not.toBe(expected.hash);
    expect(digestDifference(expected, position)).toMatch(/different content: x\n.*x expected: .*"_position":3.*\n.*x actual: .*"_position":4/);
    expect(digestDifference(expected, value)).toMatch(/different content: y/);
    expect(digestDifference(expected, missing)).toMatch(/missing: y/);
    expect(digestDifference(expected, extra)).toMatch(/unexpected: z/);
  });
});
