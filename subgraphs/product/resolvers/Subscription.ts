import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { StockNotification } from '../catalog/read-model.js';

export const Subscription: SubscriptionResolvers = {
  stockChanged: {
    subscribe: (_, { productIds }, { service }) => service.stockChanges(productIds ?? null),
    resolve: (notification: StockNotification) => notification,
  },
};
