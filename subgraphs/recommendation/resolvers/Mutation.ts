import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  recordProductView: (_, { productId }, { service, actor }) => service.recordView(productId, actor),
};
