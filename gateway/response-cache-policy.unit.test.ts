import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { subgraphTypeDefs } from '../platform/graphql/service.js';
import { composeSupergraph } from './compose.js';
import { ResponseCachePlanner } from './response-cache-policy.js';

const sdl = (name: string) => print(subgraphTypeDefs(new URL(`../subgraphs/${name}/schema.graphql`, import.meta.url)));
const supergraph = composeSupergraph(['product', 'order', 'user', 'recommendation'].map((name) => ({ name, url: `http://${name}`, sdl: sdl(name) })));
const planner = new ResponseCachePlanner(supergraph.apiSchema, supergraph.ownership);
const tags = (query: string, data: unknown, variables: Record<string, unknown> = {}, operationName?: string) => planner.plan(query, operationName)?.tagsFor(variables, data)?.sort();

describe('which answers the gateway may cache, and their tags', () => {
  it('tags a catalog page with the list, the read model and every product in it', () => {
    const data = { products: { edges: [{ node: { id: 'a', price: { amount: 1 } } }, { node: { id: 'b', price: { amount: 2 } } }] } };
    expect(tags('{ products(first: 20) { edges { node { id price { amount } } } } }', data)).toEqual(['Product:a', 'Product:b', 'Product:list', 'read-model:product-catalog']);
  });

  it('follows aliases and fragments, and tags a product looked up by id even when it is not there', () => {
    const query = 'query P($id: ID!) { thing: product(id: $id) { ...F } } fragment F on Product { key: id name seller { id } }';
    expect(tags(query, { thing: { key: 'x', name: 'n', seller: { id: 's' } } }, { id: 'x' })).toEqual(['Product:x', 'User:s', 'read-model:product-catalog', 'read-model:user-profiles']);
    expect(tags(query, { thing: null }, { id: 'y' })).toEqual(['Product:y', 'read-model:product-catalog', 'read-model:user-profiles']);
  });

  it('tags products whose id is not selected with a tag any product change invalidates', () => {
    expect(tags('{ products { edges { node { name } } } }', { products: { edges: [{ node: { name: 'n' } }] } })).toContain('Product:*');
  });

  it('tags sellers (their public profile) with the user and the user-profiles feed', () => {
    const data = { products: { edges: [{ node: { id: 'a', seller: { id: 's', name: 'Sam', role: 'SELLER' } } }] } };
    expect(tags('{ products { edges { node { id seller { id name role } } } } }', data)).toEqual(['Product:a', 'Product:list', 'User:s', 'read-model:product-catalog', 'read-model:user-profiles']);
  });

  it('refuses personal data, data with no invalidations, mutations, introspection and other directives', () => {
    for (const query of [
      '{ me { id } }',
      '{ products { edges { node { id } } } me { id } }',
      'query($id: ID!) { user(id: $id) { email } }',
      'query($id: ID!) { order(id: $id) { id } }',
      '{ products { edges { node { id seller { name email } } } } }',
      '{ products { edges { node { id seller { name timeZone } } } } }',
      'query($id: ID!) { product(id: $id) { id analytics(from: "2026-01-01", to: "2026-01-31") { views } } }',
      '{ products { edges { node { id seller { orders { totalCount } } } } } }',
      'mutation { restockProduct(id: "1", quantity: 1) { product { id } } }',
      '{ __schema { queryType { name } } }',
      '{ products { edges { node { id } } } ... on Query { __type(name: "Product") { name } } }',
      'query { products @deprecated { totalCount } }',
      '{ nope }',
      '{',
    ]) {
      expect(planner.plan(query, undefined), query).toBeUndefined();
    }
  });

  it('picks the named operation, and tags only what that operation holds', () => {
    const document = 'query Me { me { id } } query One { product(id: "1") { id } }';
    expect(planner.plan(document, 'Me')).toBeUndefined();
    expect(planner.plan(document, undefined)).toBeUndefined(); // which one? Apollo refuses it
    expect(tags(document, { product: { id: '1' } }, {}, 'One')).toEqual(['Product:1', 'read-model:product-catalog']);
  });

  it('tags bought-together recommendations per product they were asked of, and keeps them at most 30 s', () => {
    const query = 'query($id: ID!) { product(id: $id) { recommendations(first: 5) { name price { amount } stock } } }';
    const data = { product: { recommendations: [{ name: 'b', price: { amount: 1 }, stock: 2 }] } };
    // The product was looked up by id: its answers are tagged with it though the answer does not show it.
    expect(tags(query, data, { id: 'a' })).toEqual([
      'Product:*',
      'Product:a',
      'field:Product.recommendations',
      'field:Product.recommendations@a',
      'read-model:product-catalog',
      'read-model:recommendation-co-purchases',
      'read-model:recommendation-product-facts',
    ]);
    expect(planner.plan(query, undefined)?.maxAgeMs).toBe(30_000);
    // In a list: per product whose id the answer shows, else the tag any product's purchase invalidates.
    const list = '{ products { edges { node { id recommendations { id } } } } }';
    const page = { products: { edges: [{ node: { id: 'a', recommendations: [{ id: 'b' }] } }, { node: { id: 'c', recommendations: [] } }] } };
    expect(tags(list, page)).toEqual(expect.arrayContaining(['field:Product.recommendations@a', 'field:Product.recommendations@c', 'Product:b', 'Product:list']));
    expect(tags(list, page)).not.toContain('field:Product.recommendations@*');
    expect(tags('{ products { edges { node { recommendations { id } } } } }', { products: { edges: [{ node: { recommendations: [] } }] } })).toContain('field:Product.recommendations@*');
    expect(planner.plan('{ products { totalCount } }', undefined)?.maxAgeMs).toBeUndefined();
  });

  it('keeps trending lists at most 10 s, and never a user\'s recommendations', () => {
    expect(tags('{ trendingProducts(first: 3) { id } }', { trendingProducts: [{ id: 'a' }] })).toEqual(['Product:a', 'field:Product.recommendations', 'read-model:product-catalog', 'read-model:recommendation-product-facts']);
    expect(planner.plan('{ trendingProducts(first: 3) { id } }', undefined)?.maxAgeMs).toBe(10_000);
    expect(planner.plan('{ me { recommendations { id } } }', undefined)).toBeUndefined();
    expect(planner.plan('query($id: ID!) { user(id: $id) { recommendations { id } } }', undefined)).toBeUndefined();
  });

  it('does not tag an answer whose variables do not coerce', () => {
    expect(planner.plan('query($id: ID!) { product(id: $id) { id } }', undefined)?.tagsFor({}, { product: null })).toBeUndefined();
  });
});
