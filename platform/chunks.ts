/** Consecutive runs of `items` whose estimated sizes add up to at most `limit` (each run at least one item). */
export function chunksOf<T>(items: readonly T[], size: (item: T) => number, limit: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const n = size(item);
    if (current.length > 0 && total + n > limit) {
      chunks.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
