import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: (reference) => ({ id: reference.id }),
  recommendations: async (user, { first }, { service, actor }) => (await service.forUser(user.id, first, actor)).map((id) => ({ id })),
};
