import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: (reference, { userLoader }) => userLoader.load(reference.id),
  id: (user) => user.userId,
  createdAt: (user) => user.registeredAt,
  // Only the user themself and admins see an email address.
  email: (user, _, { caller }) => (user.self || (caller.identity && (caller.identity.userId === user.userId || caller.identity.role === 'ADMIN')) ? user.email : null),
};
