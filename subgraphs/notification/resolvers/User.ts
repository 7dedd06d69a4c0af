import type { UserResolvers } from '../__generated__/resolvers-types.js';
import { webhookUserResolvers } from '../webhook-resolvers.js';

export const User: UserResolvers = {
  ...webhookUserResolvers,
  __resolveReference: (reference) => ({ id: reference.id }),
  notifications: (user, { first, after, unreadOnly }, { service, actor }) => service.inbox(user.id, { first, after, unreadOnly }, actor),
  notificationPreferences: (user, _args, { service, actor }) => service.preferences(user.id, actor),
};
