import { print } from 'graphql';
import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from './compose.js';
import { SingleSubgraphRouter } from './fast-path.js';

const sdl = (name: string) => print(subgraphTypeDefs(new URL(`../subgraphs/${name}/schema.graphql`, import.meta.url)));
const router = new SingleSubgraphRouter(
  composeSupergraph([
    { name: 'product', url: 'http://product', sdl: sdl('product') },
    { name: 'user', url: 'http://user', sdl: sdl('user') },
  ]),
);
const to = (query: string, operationName?: string) => router.route(query, operationName)?.subgraph.name;

describe('single-subgraph fast path', () => {
  it('routes operations whose every field one subgraph resolves', () => {
    expect(to('{ products(first: 20) { edges { node { id name price { amount currency } stock seller { id } } } } }')).toBe('product');
    expect(to('query A { me { id } } query B { product(id: "1") { name } }', 'B')).toBe('product');
    expect(to('query A { me { id email } } query B { product(id: "1") { name } }', 'A')).toBe('user');
    expect(to('mutation { register(input: { email: "a@b.c", password: "12345678", name: "A" }) { token } }')).toBe('user');
    expect(to('{ products { edges { node { ...F } } } } fragment F on Product { sku __typename }')).toBe('product');
  });

  it('leaves to the query planner whatever spans subgraphs, introspects, or is not valid for clients', () => {
    expect(to('{ products { edges { node { seller { name } } } } }')).toBeUndefined(); // User.name lives in user
    expect(to('{ me { id } products { totalCount } }')).toBeUndefined();
    expect(to('{ __schema { types { name } } }')).toBeUndefined();
    expect(to('{ _service { sdl } }')).toBeUndefined(); // subgraph-only fields are not in the client schema
    expect(to('{ _entities(representations: []) { __typename } }')).toBeUndefined();
    expect(to('{ products { nope } }')).toBeUndefined();
    expect(to('not graphql')).toBeUndefined();
    expect(to('subscription { stockChanged { stock } }')).toBeUndefined();
  });
});
