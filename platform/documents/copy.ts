/**
 * A deep copy of a document: plain objects, arrays and primitives are copied by hand (several
 * times faster than `structuredClone` for the JSON-shaped documents read models hold); anything
 * else (a Date, a Map, a Buffer) is handed to `structuredClone`.
 */
export function copyDocument<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i]);
    return out;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = copy((value as Record<string, unknown>)[key]);
  return out;
}
