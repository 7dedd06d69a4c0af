import { createHash } from 'node:crypto';
import type { Doc, DocumentStore } from '../documents/document-store.js';
import type { Projection } from '../../projections/projection.js';
import { READ_MODELS } from '../../projections/registry.js';

/**
 * A content hash of read models, to tell whether two ways of building them (one clean pass, a
 * pass killed and resumed many times, a live projection that lived through an outage, a rebuild)
 * ended in the same state.
 *
 * What is hashed: for every collection of every projection given (by default READ_MODELS: each
 * projection's `collections`, read through the DocumentStore port, so the live version of a
 * rebuilt collection is the one hashed), every document, sorted by `_id` (code-unit order,
 * whatever order the store returns them in), each as canonical JSON (object keys sorted,
 * recursively; `undefined` members left out as JSON does; a value with `toJSON`, such as a Date,
 * as its JSON form).
 *
 * `_position` is included: it is the position of the last event applied to the document, a
 * function of the event log alone, so a clean pass and a resumed (or live, or rebuilt) pass must
 * end with the same position on every document; a resumed pass that skipped an event or applied
 * one twice out of order would show there even when the content happens to match.
 *
 * Nothing else is excluded: every field of these read models derives from event data or event
 * metadata stored in the log (timestamps come from the events, versions are stream revisions), so
 * nothing is genuinely volatile. What is not hashed, because it is not a read model: the projector
 * checkpoints (`projection_checkpoints`, keyed by the physical collection version, which differs
 * between two builds by design) and the store's version map (`_collection_versions`).
 */

export interface CollectionDigest {
  collection: string;
  count: number;
  hash: string;
  /** Each document's own hash, by `_id`: what tells which documents differ. */
  documents: ReadonlyMap<string, string>;
  /** Each document's canonical JSON, by `_id` (to show how two differ). */
  content: ReadonlyMap<string, string>;
}

export interface ReadModelDigest {
  /** One hash over every collection's name and hash, in the order given. */
  hash: string;
  collections: readonly CollectionDigest[];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** JSON with object keys sorted at every level: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value)) ?? 'undefined';
}

function canonical(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return canonical(withJson.toJSON());
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : canonical(item)));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) out[key] = canonical(member);
  }
  return out;
}

/** Every collection the projections own, once each, in order. */
export function readModelCollections(projections: readonly Projection[] = READ_MODELS): string[] {
  return [...new Set(projections.flatMap((p) => p.collections))];
}

/** Hashes every document of every read-model collection (see the module comment for what is included). */
export async function readModelDigest(documents: DocumentStore, projections: readonly Projection[] = READ_MODELS, options: { pageSize?: number } = {}): Promise<ReadModelDigest> {
  const collections: CollectionDigest[] = [];
  for (const name of readModelCollections(projections)) {
    const collection = documents.collection<Doc>(name);
    const docs = new Map<string, string>();
    const content = new Map<string, string>();
    let after: string | undefined;
    for (;;) {
      const page = await collection.find({ first: options.pageSize ?? 500, sort: [['_id', 1]], ...(after !== undefined && { after }) });
      for (const doc of page.items) {
        if (docs.has(doc._id)) throw new Error(`${name}: document ${doc._id} returned twice while paging`);
        const json = canonicalJson(doc);
        content.set(doc._id, json);
        docs.set(doc._id, sha256(json));
      }
      if (!page.hasNextPage || page.endCursor === undefined) break;
      after = page.endCursor;
    }
    const ids = [...docs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const sorted = new Map(ids.map((id) => [id, docs.get(id)!]));
    collections.push({ collection: name, count: ids.length, hash: sha256(ids.map((id) => `${id}\t${sorted.get(id)!}\n`).join('')), documents: sorted, content });
  }
  return { hash: sha256(collections.map((c) => `${c.collection}\t${c.count}\t${c.hash}\n`).join('')), collections };
}

/** One line per collection: name, document count and hash (for logs). */
export function summarizeDigest(digest: ReadModelDigest): string {
  return digest.collections.map((c) => `${c.collection}: ${c.count} documents, ${c.hash.slice(0, 16)}`).join('; ');
}

/**
 * What differs between two digests, for a failure message: per collection, the ids only in one,
 * and the ids in both whose content differs (at most `limit` of each). Empty when they are equal.
 */
export function digestDifference(expected: ReadModelDigest, actual: ReadModelDigest, limit = 10): string {
  const lines: string[] = [];
  const names = new Set([...expected.collections, ...actual.collections].map((c) => c.collection));
  for (const name of names) {
    const a = expected.collections.find((c) => c.collection === name);
    const b = actual.collections.find((c) => c.collection === name);
    if (!a || !b) {
      lines.push(`${name}: only in the ${a ? 'expected' : 'actual'} read models`);
      continue;
    }
    if (a.hash === b.hash) continue;
    const missing = [...a.documents.keys()].filter((id) => !b.documents.has(id));
    const extra = [...b.documents.keys()].filter((id) => !a.documents.has(id));
    const changed = [...a.documents.keys()].filter((id) => b.documents.has(id) && b.documents.get(id) !== a.documents.get(id));
    const some = (ids: string[]) => `${ids.slice(0, limit).join(', ')}${ids.length > limit ? `, … (${ids.length} in all)` : ''}`;
    lines.push(`${name}: ${a.count} expected vs ${b.count} actual documents`);
    if (missing.length > 0) lines.push(`  missing: ${some(missing)}`);
    if (extra.length > 0) lines.push(`  unexpected: ${some(extra)}`);
    if (changed.length > 0) {
      lines.push(`  different content: ${some(changed)}`);
      const first = changed[0]!;
      lines.push(`  ${first} expected: ${a.content.get(first)!.slice(0, 2000)}`, `  ${first} actual:   ${b.content.get(first)!.slice(0, 2000)}`);
    }
  }
  return lines.join('\n');
}
