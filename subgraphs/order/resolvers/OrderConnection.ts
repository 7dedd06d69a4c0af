import type { OrderConnectionResolvers } from '../__generated__/resolvers-types.js';

export const OrderConnection: OrderConnectionResolvers = {
  edges: (page) => page.items.map((node, i) => ({ node, cursor: page.cursors[i]! })),
  pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.endCursor ?? null }),
  totalCount: (page) => page.totalCount(),
};
