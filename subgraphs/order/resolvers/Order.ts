import type { OrderResolvers } from '../__generated__/resolvers-types.js';

export const Order: OrderResolvers = {
  __resolveReference: (reference, { service, actor }) => service.order(reference.id, actor),
  id: (doc) => doc._id,
  customer: (doc) => ({ id: doc.customerId }),
};
