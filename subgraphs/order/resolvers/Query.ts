import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  order: (_, { id }, { service, actor }) => service.order(id, actor),
};
