import type { OrderItemResolvers } from '../__generated__/resolvers-types.js';

export const OrderItem: OrderItemResolvers = {
  product: (item) => ({ id: item.productId }),
  lineTotal: (item) => item.unitPrice && { amount: item.unitPrice.amount * item.quantity, currency: item.unitPrice.currency },
};
