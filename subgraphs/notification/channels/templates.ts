import { assertNever } from '../../../platform/errors.js';
import type { NotificationContent, NotificationKind, OutgoingEmail } from './channel.js';

/**
 * The e-mail of each notification kind: a subject, a plain-text body and an HTML body, rendered
 * from the facts the notification recorded (`content.data`). Pure: no I/O, no clock.
 *
 * The facts each kind reads (absent ones are left out of the text, never shown as "undefined"):
 * - every order kind: `orderId`; `total` (Money: `{ amount, currency }`, amount in minor units);
 * - ORDER_REJECTED: `reason`; ORDER_CANCELLED: `refund` (Money; none when nothing was paid), `reason`;
 * - PAYMENT_FAILED: `reason`; ORDER_SHIPPED: `carrier`, `trackingNumber`;
 * - seller kinds: `productId`, `productName`; UNIT_SOLD: `quantity`, `orderId`, `total`;
 *   STOCK_LOW: `stock`, `threshold`; SOLD_OUT: nothing more.
 * Everything from `data` is HTML-escaped in the HTML body: a product name is seller input.
 */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface EmailRecipient {
  email: string;
  /** How to greet them; the address when there is no name. */
  name: string | null;
}

/** Money as the notification data carries it: integer minor units and an ISO 4217 currency. */
export interface MoneyData {
  amount: number;
  currency: string;
}

const isMoney = (value: unknown): value is MoneyData =>
  typeof value === 'object' && value !== null && Number.isInteger((value as MoneyData).amount) && typeof (value as MoneyData).currency === 'string' && /^[A-Z]{3}$/.test((value as MoneyData).currency);

/** Minor units to a display string (e.g. 1999 EUR -> "€19.99"), with the currency's own number of decimals. */
export function formatMoney(money: MoneyData, locale = 'en-US'): string {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency: money.currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(money.amount / 10 ** digits);
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A line of the body: plain text, and its HTML twin (escaped). `null` parts are dropped. */
type Line = string | null;

interface Body {
  subject: string;
  /** The opening sentence. */
  headline: string;
  /** Further facts, one per line. */
  details: Line[];
}

const str = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : typeof value === 'number' && Number.isFinite(value) ? String(value) : null);
const money = (value: unknown): string | null => (isMoney(value) ? formatMoney(value) : null);
/** Short order reference for subjects: the first block of its id. */
const orderRef = (data: Record<string, unknown>): string => {
  const id = str(data.orderId);
  return id ? `#${id.split('-')[0]}` : '';
};
const productName = (data: Record<string, unknown>): string => str(data.productName) ?? 'your product';
const labelled = (label: string, value: string | null): Line => (value === null ? null : `${label}: ${value}`);

function body(kind: NotificationKind, data: Record<string, unknown>): Body {
  const order = orderRef(data);
  const orderLine = labelled('Order', str(data.orderId));
  const totalLine = labelled('Total', money(data.total));
  switch (kind) {
    case 'ORDER_CONFIRMED':
      return { subject: `Your order ${order} is confirmed`, headline: 'Good news: we have reserved everything on your order. It is waiting for your payment.', details: [orderLine, totalLine] };
    case 'ORDER_REJECTED':
      return { subject: `Your order ${order} could not be accepted`, headline: 'We are sorry: your order could not be accepted.', details: [labelled('Reason', str(data.reason)), orderLine, totalLine] };
    case 'ORDER_PAID':
      return { subject: `Payment received for order ${order}`, headline: 'Thank you: your payment went through. We will let you know when your order ships.', details: [orderLine, labelled('Paid', money(data.amount ?? data.total))] };
    case 'PAYMENT_FAILED':
      return { subject: `Payment failed for order ${order}`, headline: 'Your payment did not go through. Nothing was charged; you can try again from your orders.', details: [labelled('Reason', str(data.reason)), orderLine, totalLine] };
    case 'ORDER_CANCELLED': {
      // The order service says whether a payment was refunded (`refunded`), not always how much (`refund`).
      const refund = money(data.refund);
      return {
        subject: `Your order ${order} is cancelled`,
        headline: refund ? `Your order is cancelled and ${refund} is on its way back to you.` : data.refunded === true ? 'Your order is cancelled and your payment is refunded.' : 'Your order is cancelled. Nothing was charged.',
        details: [labelled('Reason', str(data.reason)), orderLine, labelled('Refund', refund)],
      };
    }
    case 'ORDER_SHIPPED':
      return { subject: `Your order ${order} has shipped`, headline: 'Your order is on its way.', details: [orderLine, labelled('Carrier', str(data.carrier)), labelled('Tracking number', str(data.trackingNumber))] };
    case 'UNIT_SOLD': {
      const quantity = typeof data.quantity === 'number' && Number.isInteger(data.quantity) ? data.quantity : 1;
      return {
        subject: `Sold: ${quantity} × ${productName(data)}`,
        headline: `A customer bought ${quantity} × ${productName(data)}.`,
        details: [labelled('Order', str(data.orderId)), labelled('Amount', money(data.total)), labelled('Product', str(data.productId))],
      };
    }
    case 'STOCK_LOW':
      return {
        subject: `Stock low: ${productName(data)} (${str(data.stock) ?? '?'} left)`,
        headline: `${productName(data)} is running low: ${str(data.stock) ?? 'few'} left.`,
        details: [labelled('Your threshold', str(data.threshold)), labelled('Product', str(data.productId))],
      };
    case 'SOLD_OUT':
      return { subject: `Sold out: ${productName(data)}`, headline: `${productName(data)} is sold out: customers cannot order it until you restock.`, details: [labelled('Product', str(data.productId))] };
    default:
      return assertNever(kind, 'notification kind');
  }
}

/**
 * Renders one notification for one recipient. The unsubscribe link (a signed URL the slice made)
 * ends both bodies; the e-mail sender also sends it as List-Unsubscribe.
 */
export function renderEmail(content: NotificationContent, recipient: EmailRecipient, unsubscribeUrl: string): RenderedEmail {
  const { subject, headline, details } = body(content.kind, content.data);
  const lines = details.filter((l): l is string => l !== null);
  const greeting = `Hello ${recipient.name?.trim() || recipient.email},`;
  const footer = 'You receive this e-mail because of your notification preferences.';
  const text = [greeting, '', headline, '', ...lines, ...(lines.length ? [''] : []), footer, `Unsubscribe from these e-mails: ${unsubscribeUrl}`, ''].join('\n');
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif; line-height: 1.5">',
    `<p>${escapeHtml(greeting)}</p>`,
    `<p>${escapeHtml(headline)}</p>`,
    ...(lines.length ? ['<ul>', ...lines.map((l) => `<li>${escapeHtml(l)}</li>`), '</ul>'] : []),
    `<p style="color: #666; font-size: small">${escapeHtml(footer)} <a href="${escapeHtml(unsubscribeUrl)}">Unsubscribe</a></p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject: subject.replace(/\s+/g, ' ').trim(), text, html };
}

/** The e-mail to hand to an `EmailSender`: rendered, addressed, with its unsubscribe link. */
export function composeEmail(content: NotificationContent, recipient: EmailRecipient, unsubscribeUrl: string): OutgoingEmail {
  return { notificationId: content.notificationId, to: recipient.email, unsubscribeUrl, ...renderEmail(content, recipient, unsubscribeUrl) };
}
