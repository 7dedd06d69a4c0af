import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { OrderStatusNotification } from '../read-model/read-model.js';

export const Subscription: SubscriptionResolvers = {
  orderStatusChanged: {
    subscribe: (_, { orderId, after }, { service, actor }) => service.statusChanges(orderId, actor, after ?? null),
    resolve: (notification: OrderStatusNotification) => notification.order,
  },
};
