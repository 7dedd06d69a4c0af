import { assertNever } from '../../platform/errors.js';
import type { NotificationKind } from './channels/channel.js';

/** A notification as words, for the inbox (e-mails are rendered by channels/templates.ts). */
export interface Rendered {
  title: string;
  body: string;
}

const str = (v: unknown, fallback = '') => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback);
const money = (v: unknown) => {
  const m = v as { amount?: number; currency?: string } | undefined;
  return m && typeof m.amount === 'number' ? `${(m.amount / 100).toFixed(2)} ${m.currency ?? ''}`.trim() : '';
};

export function render(kind: NotificationKind, data: Record<string, unknown>): Rendered {
  const order = str(data.orderId).slice(0, 8);
  const product = str(data.productName, 'your product');
  switch (kind) {
    case 'ORDER_CONFIRMED':
      return { title: `Order ${order} confirmed`, body: `Your order is confirmed${data.total ? ` (total ${money(data.total)})` : ''}. Pay it to have it shipped.` };
    case 'ORDER_REJECTED':
      return { title: `Order ${order} rejected`, body: `Your order could not be accepted: ${str(data.reason, 'unknown reason')}.` };
    case 'ORDER_PAID':
      return { title: `Order ${order} paid`, body: `We received your payment${data.amount ? ` of ${money(data.amount)}` : ''}.` };
    case 'PAYMENT_FAILED':
      return { title: `Payment for order ${order} failed`, body: 'Your payment did not go through. Please pay again with another card.' };
    case 'ORDER_CANCELLED':
      return { title: `Order ${order} cancelled`, body: data.refunded === true ? 'Your order is cancelled and your payment refunded.' : 'Your order is cancelled.' };
    case 'ORDER_SHIPPED':
      return { title: `Order ${order} shipped`, body: 'Your order is on its way.' };
    case 'UNIT_SOLD':
      return { title: `Sold: ${product}`, body: `${str(data.quantity, '1')} × ${product} sold (order ${order}).` };
    case 'STOCK_LOW':
      return { title: `Stock low: ${product}`, body: `Only ${str(data.stock)} left of ${product} (your alert threshold is ${str(data.threshold)}).` };
    case 'SOLD_OUT':
      return { title: `Sold out: ${product}`, body: `${product} is sold out. Restock it to sell it again.` };
    default:
      return assertNever(kind, 'notification kind');
  }
}
