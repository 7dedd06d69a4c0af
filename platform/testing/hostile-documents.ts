/** `query { ...F0 }` where each fragment spreads the next one `width` times, `levels` deep: width^levels fields once expanded. */
export function fragmentFanOut(levels: number, width = 10): string {
  let query = 'query { ...F0 }';
  for (let i = 0; i < levels; i++) query += ` fragment F${i} on Query { ${Array.from({ length: width }, () => `...F${i + 1}`).join(' ')} }`;
  return `${query} fragment F${levels} on Query { products(first: 1) { totalCount } }`;
}

/** `levels` nested selection sets: what overflowed graphql-js's recursive parser. */
export function nestedSelections(levels: number): string {
  return `{${'product(id: "1") {'.repeat(levels)} id ${'}'.repeat(levels)}}`;
}
