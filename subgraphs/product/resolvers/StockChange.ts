import type { StockChangeResolvers } from '../__generated__/resolvers-types.js';
import { cursorOf } from '../../../platform/subscriptions/cursor.js';

export const StockChange: StockChangeResolvers = {
  cursor: (notification) => cursorOf(notification),
};
