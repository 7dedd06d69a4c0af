import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { parse, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from './compose.js';
import { EntityCompleter, inlineFragments, project, type EntityFetch } from './entity-completion.js';

const sdl = (name: string) => print(subgraphTypeDefs(new URL(`../subgraphs/${name}/schema.graphql`, import.meta.url)));
const supergraph = composeSupergraph([
  { name: 'product', url: 'http://product', sdl: sdl('product') },
  { name: 'user', url: 'http://user', sdl: sdl('user') },
]);
const completer = new EntityCompleter(supergraph.apiSchema, supergraph.ownership);
const subscription = supergraph.apiSchema.getSubscriptionType()!;
const operation = inlineFragments(parse('subscription { stockChanged { stock p: product { name seller { name } } } }'))!;

describe('completing subscription events across subgraphs', () => {
  it('sends the owner only what it resolves, with type names and keys under reserved aliases', () => {
    const planned = completer.plan(operation.selectionSet, subscription, 'product');
    expect(planned.cut).toBe(true);
    expect(print(planned.set).replace(/\s+/g, ' ')).toBe(
      '{ stockChanged { stock p: product { name seller { __sf_typename: __typename __sf_key_id: id } __sf_typename: __typename __sf_key_id: id } __sf_typename: __typename } }',
    );
  });

  it('fetches the cut fields from their owner by key and returns the client shape', async () => {
    const calls: { subgraph: string; query: string; variables: Record<string, unknown> }[] = [];
    const fetch: EntityFetch = (subgraph, query, variables) => {
      calls.push({ subgraph, query, variables });
      return Promise.resolve({ data: { _entities: [{ name: 'Ada', __sf_typename: 'User', __sf_key_id: 'u1' }] } });
    };
    const event = { stockChanged: { stock: 3, __sf_typename: 'StockChange', p: { name: 'Lamp', __sf_typename: 'Product', __sf_key_id: 'p1', seller: { __sf_typename: 'User', __sf_key_id: 'u1' } } } };
    await completer.complete([event], operation.selectionSet, subscription, 'product', fetch, { definitions: [], values: {} }, []);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.subgraph).toBe('user');
    expect(calls[0]!.variables).toEqual({ representations: [{ __typename: 'User', id: 'u1' }] });
    expect(project(supergraph.apiSchema, event, operation.selectionSet, 'Subscription')).toEqual({ stockChanged: { stock: 3, p: { name: 'Lamp', seller: { name: 'Ada' } } } });
  });
});
