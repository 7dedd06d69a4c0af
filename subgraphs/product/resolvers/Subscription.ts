import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { StockNotification } from '../catalog/read-model.js';

export const Subscription: SubscriptionResolvers = {
  stockChanged: {
    subscribe: (_, { productIds, after }, { service }) => service.stockChanges(productIds ?? null, after ?? null),
    resolve: (notification: StockNotification) => notification,
  },
};
