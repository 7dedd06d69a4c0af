import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: (reference) => ({ id: reference.id }),
  orders: (user, { first, after }, { service, actor }) => service.ordersOf(user.id, { first, after }, actor),
};
