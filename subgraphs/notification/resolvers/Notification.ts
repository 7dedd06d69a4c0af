import type { NotificationResolvers } from '../__generated__/resolvers-types.js';
import { render } from '../render.js';

const text = (v: unknown) => (typeof v === 'string' ? v : null);
const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);

/** An inbox entry: its kind-specific facts become typed fields, its words come from render.ts. */
export const Notification: NotificationResolvers = {
  id: (doc) => doc._id,
  title: (doc) => render(doc.kind, doc.data).title,
  body: (doc) => render(doc.kind, doc.data).body,
  orderId: (doc) => text(doc.data.orderId),
  productId: (doc) => text(doc.data.productId),
  reason: (doc) => text(doc.data.reason),
  refunded: (doc) => (typeof doc.data.refunded === 'boolean' ? doc.data.refunded : null),
  quantity: (doc) => int(doc.data.quantity),
  stock: (doc) => int(doc.data.stock),
};
