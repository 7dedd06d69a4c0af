import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  product: (_, { id }, { productLoader }) => productLoader.load(id),
  products: (_, args, { service }) => service.queries.list(args),
};
