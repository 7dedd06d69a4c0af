import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { InboxDoc } from '../read-model/read-model.js';

export const Subscription: SubscriptionResolvers = {
  notificationReceived: {
    subscribe: (_, _args, { service, actor }) => service.received(actor),
    resolve: (doc: InboxDoc) => doc,
  },
};
