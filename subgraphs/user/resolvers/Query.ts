import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  me: (_, __, { caller, userLoader }) => (caller.identity ? userLoader.load(caller.identity.userId) : null),
  user: (_, { id }, { caller, service }) => service.visibleUser(id, caller),
};
