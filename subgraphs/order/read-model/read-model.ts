import type { Doc, Page } from '../../../platform/documents/document-store.js';
import type { PlacedOrder } from '../decider.js';

/** The order read model: one document per order, the order as its events describe it. */
export const ORDERS = 'orders';

export type OrderDoc = PlacedOrder & Doc;

export type OrderPage = Page<OrderDoc> & { totalCount: () => Promise<number> };

/** What the projector publishes when an order's status changes. */
export interface OrderStatusNotification {
  order: OrderDoc;
  at: string;
  position: number;
}

export const ORDER_STATUS_CHANNEL = 'order.status-changed';

export interface UserRef {
  id: string;
}
