import type { UserResolvers } from '../__generated__/resolvers-types.js';
import type { UserContext } from '../context.js';
import type { UserModel } from '../service.js';

const ownOrAdmin = (user: UserModel, caller: UserContext['caller']): boolean =>
  Boolean(user.self || (caller.identity && (caller.identity.userId === user.userId || caller.identity.role === 'ADMIN')));

export const User: UserResolvers = {
  __resolveReference: (reference, { userLoader }) => userLoader.load(reference.id),
  id: (user) => user.userId,
  createdAt: (user) => user.registeredAt,
  // Only the user themself and admins see an email address.
  email: (user, _, { caller }) => (ownOrAdmin(user, caller) ? user.email : null),
  timeZone: (user, _, { caller }) => (ownOrAdmin(user, caller) ? user.timeZone : null),
};
