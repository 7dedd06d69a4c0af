import { print } from 'graphql';
import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { describe, expect, it } from 'vitest';
import { CompositionError, composeSupergraph } from './compose.js';

const productSdl = print(subgraphTypeDefs(new URL('../subgraphs/product/schema.graphql', import.meta.url)));

describe('composeSupergraph', () => {
  it('composes the product subgraph and records who owns each subscription field', () => {
    const supergraph = composeSupergraph([{ name: 'product', url: 'http://product/graphql', sdl: productSdl }]);
    expect(supergraph.subscriptionOwners.get('stockChanged')).toEqual({ name: 'product', url: 'http://product/graphql' });
    expect(supergraph.apiSchema.getQueryType()?.getFields()).toHaveProperty('products');
    expect(supergraph.apiSchema.getType('_Entity')).toBeUndefined(); // federation internals stay internal
  });

  it('fails with every composition error listed readably', () => {
    const clash = `
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Money { amount: String! currency: String! }
      type Query { price: Money }
    `;
    let error: unknown;
    try {
      composeSupergraph([
        { name: 'product', url: 'http://product/graphql', sdl: productSdl },
        { name: 'pricing', url: 'http://pricing/graphql', sdl: clash },
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CompositionError);
    const message = (error as CompositionError).message;
    expect(message).toMatch(/^supergraph composition failed:\n {2}- /);
    expect(message).toMatch(/Money/);
    expect((error as CompositionError).errors.length).toBeGreaterThan(0);
  });

  it('refuses two subgraphs claiming one subscription field', () => {
    const other = `
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Query { ping: String }
      type Subscription { stockChanged: String }
    `;
    expect(() =>
      composeSupergraph([
        { name: 'product', url: 'http://product/graphql', sdl: productSdl },
        { name: 'other', url: 'http://other/graphql', sdl: other },
      ]),
    ).toThrow(CompositionError);
  });
});
