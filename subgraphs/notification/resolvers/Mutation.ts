import type { MutationResolvers } from '../__generated__/resolvers-types.js';
import { webhookMutationResolvers } from '../webhook-resolvers.js';

export const Mutation: MutationResolvers = {
  ...webhookMutationResolvers,
  markNotificationsRead: (_, { ids }, { service, actor }) => service.markRead(ids, actor),
  setNotificationPreference: (_, { kind, channels }, { service, actor }) => service.setPreference(kind, channels, actor),
  setStockAlertThreshold: (_, { productId, threshold }, { service, actor }) => service.setStockAlertThreshold(productId, threshold, actor),
  unsubscribe: (_, { token }, { service }) => service.unsubscribe(token),
};
