import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: (reference) => ({ id: reference.id }),
  salesSummary: (user, { from, to }, { service, actor }) => service.analytics.salesSummary(user.id, from, to, actor),
  products: (user, { first, after }, { service }) => service.queries.list({ first, after, filter: { sellerId: user.id }, sort: 'NEWEST' }),
};
