import type { ProductResolvers } from '../__generated__/resolvers-types.js';

/** Recommendations are Product references: the gateway fetches their fields from the product subgraph, all of a level in one `_entities` request. */
export const Product: ProductResolvers = {
  __resolveReference: (reference) => ({ id: reference.id }),
  recommendations: async (product, { first }, { service }) => (await service.boughtTogether(product.id, first)).map((id) => ({ id })),
};
