import type { NotificationConnectionResolvers } from '../__generated__/resolvers-types.js';

export const NotificationConnection: NotificationConnectionResolvers = {
  edges: (page) => page.items.map((node, i) => ({ node, cursor: page.cursors[i]! })),
  pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.endCursor ?? null }),
  unreadCount: (page) => page.unreadCount,
};
