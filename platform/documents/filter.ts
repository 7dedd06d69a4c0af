import type { Condition, Filter } from './document-store.js';
import { getPath } from './keyset.js';

/** Orders values as MongoDB does for the types read models use: null < numbers < strings < booleans. */
export function compareValues(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (v === null || v === undefined ? 0 : typeof v === 'number' ? 1 : typeof v === 'string' ? 2 : typeof v === 'boolean' ? 3 : 4);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 2) return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  return Number(a) - Number(b);
}

const regexCache = new Map<string, RegExp>();
function regex(source: string, options: string | undefined): RegExp {
  const key = `${options ?? ''}/${source}`;
  let re = regexCache.get(key);
  if (!re) {
    re = new RegExp(source, options === 'i' ? 'i' : '');
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(key, re);
  }
  return re;
}

function matchesCondition(value: unknown, condition: Condition): boolean {
  if (condition === null || typeof condition !== 'object') return compareValues(value ?? null, condition) === 0 && sameKind(value, condition);
  for (const [op, operand] of Object.entries(condition)) {
    switch (op) {
      case '$eq':
        if (!(compareValues(value ?? null, operand) === 0 && sameKind(value, operand))) return false;
        break;
      case '$ne':
        if (compareValues(value ?? null, operand) === 0 && sameKind(value, operand)) return false;
        break;
      case '$gt':
        if (!(sameKind(value, operand) && compareValues(value, operand) > 0)) return false;
        break;
      case '$gte':
        if (!(sameKind(value, operand) && compareValues(value, operand) >= 0)) return false;
        break;
      case '$lt':
        if (!(sameKind(value, operand) && compareValues(value, operand) < 0)) return false;
        break;
      case '$lte':
        if (!(sameKind(value, operand) && compareValues(value, operand) <= 0)) return false;
        break;
      case '$in':
        if (!(operand as unknown[]).some((o) => compareValues(value ?? null, o) === 0 && sameKind(value, o))) return false;
        break;
      case '$regex':
        if (typeof value !== 'string' || !regex(operand as string, condition.$options).test(value)) return false;
        break;
      case '$options':
        break;
      default:
        throw new Error(`unsupported filter operator ${op}`);
    }
  }
  return true;
}

/** MongoDB compares ranges only within one type ("type bracketing"); null matches missing. */
function sameKind(a: unknown, b: unknown): boolean {
  const kind = (v: unknown) => (v === undefined || v === null ? 'null' : typeof v);
  return kind(a) === kind(b);
}

export function matches(doc: unknown, filter: Filter | undefined): boolean {
  if (!filter) return true;
  for (const [key, condition] of Object.entries(filter)) {
    if (condition === undefined) continue;
    if (key === '$or') {
      if (!(condition as Filter[]).some((f) => matches(doc, f))) return false;
    } else if (key === '$and') {
      if (!(condition as Filter[]).every((f) => matches(doc, f))) return false;
    } else if (!matchesCondition(getPath(doc, key), condition as Condition)) {
      return false;
    }
  }
  return true;
}
