import type { ProductResolvers } from '../__generated__/resolvers-types.js';

export const Product: ProductResolvers = {
  __resolveReference: (reference, { productLoader }) => productLoader.load(reference.id),
  id: (doc) => doc._id,
  seller: (doc) => ({ id: doc.sellerId }),
  analytics: (doc, { from, to }, { service, actor }) => service.analytics.productAnalytics(doc, from, to, actor),
};
