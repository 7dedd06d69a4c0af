import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  trendingProducts: async (_, { first, category }, { service }) => (await service.trending(first, category)).map((id) => ({ id })),
};
