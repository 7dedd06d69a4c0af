import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { parse, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from './compose.js';
import { enforceLimits, measureOperation } from './limits.js';

const schema = composeSupergraph([{ name: 'product', url: 'http://p', sdl: print(subgraphTypeDefs(new URL('../subgraphs/product/schema.graphql', import.meta.url))) }]).apiSchema;
const measure = (query: string, variables = {}) => measureOperation(schema, parse(query), undefined, variables);

describe('operation limits', () => {
  it('measures depth, aliases and cost from list sizes (literal or variable first)', () => {
    expect(measure('{ products(first: 20) { edges { node { id name } } } }')).toEqual({ depth: 4, aliases: 0, cost: 1 + 1 + 20 + 40 }); // products, edges, then 20 x (node, id, name)
    expect(measure('query($n: Int) { products(first: $n) { edges { node { id } } } }', { n: 50 }).cost).toBe(1 + 1 + 50 + 50);
    expect(measure('{ products { totalCount } }').cost).toBe(2);
    expect(measure('{ a: product(id: "1") { id } b: product(id: "2") { id } }').aliases).toBe(2);
    expect(measure('{ products { edges { node { ...F } } } } fragment F on Product { id seller { id } }').depth).toBe(5);
  });

  it('refuses what exceeds a limit with QUERY_TOO_COMPLEX', () => {
    const limits = { maxDepth: 4, maxAliases: 1, maxCost: 100 };
    expect(() => enforceLimits(measure('{ products(first: 20) { edges { node { id } } } }'), limits)).not.toThrow();
    expect(() => enforceLimits(measure('{ products(first: 20) { edges { node { seller { id } } } } }'), limits)).toThrow(/depth is 5/);
    expect(() => enforceLimits(measure('{ a: product(id: "1") { id } b: product(id: "2") { id } }'), limits)).toThrow(/alias count is 2/);
    expect(() => enforceLimits(measure('{ products(first: 100) { edges { node { id } } } }'), limits)).toThrow(/cost is \d+/);
  });
});
