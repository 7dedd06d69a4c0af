import { ValidationError } from '../errors.js';
import type { Doc, Filter, Sort } from './document-store.js';

/**
 * Keyset ("seek") pagination shared by every DocumentStore adapter: a cursor holds the sort
 * values of the last item seen, and the next page is "strictly after it" in sort order, which
 * stays correct while documents are inserted or updated between pages (unlike skip/offset).
 */

export function withTiebreak(sort: Sort | undefined): Sort {
  const keys = (sort ?? []).filter(([field]) => field !== '_id');
  return [...keys, ['_id', 1]];
}

export function getPath(doc: unknown, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function encodeCursor(doc: Doc, sort: Sort): string {
  return Buffer.from(JSON.stringify(sort.map(([field]) => getPath(doc, field) ?? null))).toString('base64url');
}

export function decodeCursor(cursor: string, sort: Sort): unknown[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('cursor is not valid', ['after']);
  }
  if (!Array.isArray(values) || values.length !== sort.length || values.some((v) => v !== null && typeof v === 'object')) {
    throw new ValidationError('cursor is not valid for this query', ['after']);
  }
  return values;
}

/** The filter "strictly after `values` in `sort` order": (k1 > v1) or (k1 = v1 and k2 > v2) or … */
export function afterFilter(sort: Sort, values: readonly unknown[]): Filter {
  const branches: Filter[] = sort.map(([field, direction], i) => {
    const branch: Filter = {};
    for (let j = 0; j < i; j++) branch[sort[j]![0]] = values[j] as never;
    branch[field] = { [direction === 1 ? '$gt' : '$lt']: values[i] };
    return branch;
  });
  return { $or: branches };
}
