import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { getIntrospectionQuery, GraphQLError, parse, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from './compose.js';
import { fragmentFanOut, nestedSelections } from '../platform/testing/hostile-documents.js';
import { enforceLimits, measureOperation, OperationGuard } from './limits.js';

const schema = composeSupergraph([{ name: 'product', url: 'http://p', sdl: print(subgraphTypeDefs(new URL('../subgraphs/product/schema.graphql', import.meta.url))) }]).apiSchema;
const measure = (query: string, variables = {}) => measureOperation(schema, parse(query), undefined, variables);
const LIMITS = { maxDepth: 12, maxAliases: 30, maxCost: 20_000, maxFields: 500, maxTokens: 5000 };

function refusal(run: () => unknown): GraphQLError {
  try {
    run();
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('operation limits', () => {
  it('measures depth, aliases, fields and cost from list sizes (literal or variable first)', () => {
    expect(measure('{ products(first: 20) { edges { node { id name } } } }')).toEqual({ depth: 4, aliases: 0, fields: 5, cost: 1 + 1 + 20 + 40 }); // products, edges, then 20 x (node, id, name)
    expect(measure('query($n: Int) { products(first: $n) { edges { node { id } } } }', { n: 50 }).cost).toBe(1 + 1 + 50 + 50);
    expect(measure('{ products { totalCount } }').cost).toBe(2);
    expect(measure('{ a: product(id: "1") { id } b: product(id: "2") { id } }').aliases).toBe(2);
    expect(measure('{ products { edges { node { ...F } } } } fragment F on Product { id seller { id } }').depth).toBe(5);
  });

  it('refuses what exceeds a limit with QUERY_TOO_COMPLEX', () => {
    const limits = { maxDepth: 4, maxAliases: 1, maxCost: 100, maxFields: 6 };
    expect(() => enforceLimits(measure('{ products(first: 20) { edges { node { id } } } }'), limits)).not.toThrow();
    expect(() => enforceLimits(measure('{ products(first: 20) { edges { node { seller { id } } } } }'), limits)).toThrow(/depth is 5/);
    expect(() => enforceLimits(measure('{ a: product(id: "1") { id } b: product(id: "2") { id } }'), limits)).toThrow(/alias count is 2/);
    expect(() => enforceLimits(measure('{ products(first: 100) { edges { node { id } } } }'), limits)).toThrow(/cost is \d+/);
    expect(() => enforceLimits(measure('{ __typename __typename __typename __typename __typename __typename __typename }'), limits)).toThrow(/field count is 7/);
  });

  it('measures fragment fan-out without expanding it: each fragment once', () => {
    // Ten to the eighth fields once expanded; measured by visiting nine fragments.
    expect(measure(fragmentFanOut(8))).toMatchObject({ fields: 2 * 10 ** 8, cost: 2 * 10 ** 8, depth: 2 });
  });
});

describe('the operation guard', () => {
  const guard = () => new OperationGuard(schema, LIMITS);

  it('admits an ordinary operation and an IDE introspection query', () => {
    const admitted = guard().admit('query Catalog { products(first: 20) { edges { node { id name } } } }', 'Catalog');
    expect(admitted.operation.name?.value).toBe('Catalog');
    expect(() => guard().admit(getIntrospectionQuery(), undefined)).not.toThrow();
  });

  it('refuses fragment fan-out of every depth by its expanded field count', () => {
    for (const levels of [3, 5, 8, 30]) {
      const error = refusal(() => guard().admit(fragmentFanOut(levels), undefined));
      expect(error.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'field count', http: { status: 400 } });
    }
  });

  it('refuses fan-out hidden in a fragment the operation does not use (validation would still walk it)', () => {
    const query = `{ __typename } ${fragmentFanOut(6).replace('query { ...F0 }', '')}`;
    expect(refusal(() => guard().admit(query, undefined)).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'field count' });
  });

  it('refuses deep nesting while lexing, before the recursive parser could overflow its stack', () => {
    for (const levels of [700, 100_000]) {
      expect(refusal(() => guard().admit(nestedSelections(levels), undefined)).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'nesting' });
    }
    const list = `{ products(filter: { category: ${'['.repeat(50_000)}"x"${']'.repeat(50_000)} }) { totalCount } }`;
    expect(refusal(() => guard().admit(list, undefined)).extensions).toMatchObject({ limit: 'nesting' });
  });

  it('refuses too many tokens, and syntax errors with GRAPHQL_PARSE_FAILED', () => {
    expect(refusal(() => guard().admit(`{ ${'__typename '.repeat(6000)} }`, undefined)).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'token count' });
    expect(refusal(() => guard().admit('{ products(first: ) }', undefined)).extensions).toMatchObject({ code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } });
    expect(refusal(() => guard().admit('{ "unterminated }', undefined)).extensions).toMatchObject({ code: 'GRAPHQL_PARSE_FAILED' });
  });

  it('refuses fragment cycles instead of recursing forever', () => {
    const error = refusal(() => guard().admit('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }', undefined));
    expect(error.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('resolves the operation to run, or says precisely why it cannot', () => {
    const two = 'query A { __typename } query B { __typename }';
    expect(guard().admit(two, 'B').operation.name?.value).toBe('B');
    const unnamed = refusal(() => guard().admit(two, undefined));
    expect(unnamed.message).toMatch(/2 operations: operationName must say which/);
    expect(unnamed.extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
    expect(refusal(() => guard().admit(two, 'C'))).toMatchObject({ message: 'the document has no operation named "C"', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
    expect(refusal(() => guard().admit('fragment F on Query { __typename }', undefined)).extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
  });

  it('checks cost with each request\'s variables, and caches the verdict on the document', () => {
    const g = guard();
    const query = 'query($n: Int) { products(first: $n) { edges { node { id name } } } }';
    expect(() => g.admit(query, undefined, { n: 20 })).not.toThrow();
    expect(refusal(() => g.admit(query, undefined, { n: 100_000 })).extensions).toMatchObject({ limit: 'cost' });
    const hostile = fragmentFanOut(8);
    const first = refusal(() => g.admit(hostile, undefined));
    expect(refusal(() => g.admit(hostile, undefined))).toBe(first);
  });
});
