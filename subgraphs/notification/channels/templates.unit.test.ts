import { describe, expect, it } from 'vitest';
import type { NotificationContent, NotificationKind } from './channel.js';
import { composeEmail, formatMoney, renderEmail } from './templates.js';

const orderId = '3f2a9c1e-0000-4000-8000-000000000001';
const productId = '7b1d2e3f-0000-4000-8000-000000000002';
const recipient = { email: 'ada@example.com', name: 'Ada' };
const unsubscribe = 'https://shop.example/unsubscribe?token=abc.def&kind=x';

const content = (kind: NotificationKind, data: Record<string, unknown>): NotificationContent => ({ notificationId: 'n-1', kind, recipientId: 'u-1', occurredAt: '2026-12-01T10:00:00.000Z', data });

/** Per kind: the facts given, and what the subject and the text must say. */
const cases: { kind: NotificationKind; data: Record<string, unknown>; subject: RegExp; text: string[] }[] = [
  { kind: 'ORDER_CONFIRMED', data: { orderId, total: { amount: 4599, currency: 'EUR' } }, subject: /order #3f2a9c1e is confirmed/, text: ['€45.99', orderId] },
  { kind: 'ORDER_REJECTED', data: { orderId, reason: 'Not enough stock of Blue Mug' }, subject: /could not be accepted/, text: ['Reason: Not enough stock of Blue Mug'] },
  { kind: 'ORDER_PAID', data: { orderId, total: { amount: 1000, currency: 'USD' } }, subject: /Payment received/, text: ['Paid: $10.00'] },
  { kind: 'PAYMENT_FAILED', data: { orderId, reason: 'card declined', total: { amount: 250, currency: 'GBP' } }, subject: /Payment failed/, text: ['Reason: card declined', '£2.50'] },
  { kind: 'ORDER_CANCELLED', data: { orderId, refund: { amount: 1999, currency: 'EUR' }, reason: 'customer request' }, subject: /is cancelled/, text: ['€19.99 is on its way back', 'Refund: €19.99'] },
  { kind: 'ORDER_SHIPPED', data: { orderId, carrier: 'DHL', trackingNumber: 'JD0001' }, subject: /has shipped/, text: ['Carrier: DHL', 'Tracking number: JD0001'] },
  { kind: 'UNIT_SOLD', data: { orderId, productId, productName: 'Blue Mug', quantity: 3, total: { amount: 1500, currency: 'JPY' } }, subject: /Sold: 3 × Blue Mug/, text: ['bought 3 × Blue Mug', 'Amount: ¥1,500'] },
  { kind: 'STOCK_LOW', data: { productId, productName: 'Blue Mug', stock: 2, threshold: 5 }, subject: /Stock low: Blue Mug \(2 left\)/, text: ['2 left', 'Your threshold: 5'] },
  { kind: 'SOLD_OUT', data: { productId, productName: 'Blue Mug' }, subject: /Sold out: Blue Mug/, text: ['until you restock'] },
];

describe('e-mail templates', () => {
  it.each(cases)('renders $kind with its facts, a greeting and the unsubscribe link', ({ kind, data, subject, text }) => {
    const email = renderEmail(content(kind, data), recipient, unsubscribe);
    expect(email.subject).toMatch(subject);
    expect(email.text).toContain('Hello Ada,');
    for (const t of text) {
      expect(email.text).toContain(t);
      expect(email.html).toContain(t.replaceAll('&', '&amp;'));
    }
    expect(email.text).toContain(unsubscribe);
    expect(email.html).toContain(`href="${unsubscribe.replaceAll('&', '&amp;')}"`);
    expect(`${email.subject}${email.text}${email.html}`).not.toMatch(/undefined|null|NaN|\[object/);
  });

  it('composes the outgoing e-mail: addressed to the recipient, with the notification id and the link', () => {
    const email = composeEmail(content('SOLD_OUT', { productId, productName: 'Blue Mug' }), recipient, unsubscribe);
    expect(email).toEqual({ notificationId: 'n-1', to: 'ada@example.com', unsubscribeUrl: unsubscribe, ...renderEmail(content('SOLD_OUT', { productId, productName: 'Blue Mug' }), recipient, unsubscribe) });
  });

  it('covers every kind', () => {
    const kinds: Record<NotificationKind, true> = { ORDER_CONFIRMED: true, ORDER_REJECTED: true, ORDER_PAID: true, PAYMENT_FAILED: true, ORDER_CANCELLED: true, ORDER_SHIPPED: true, UNIT_SOLD: true, STOCK_LOW: true, SOLD_OUT: true };
    expect(cases.map((c) => c.kind).sort()).toEqual(Object.keys(kinds).sort());
  });

  it('escapes seller input in the HTML and keeps the subject on one line', () => {
    const email = renderEmail(content('SOLD_OUT', { productId, productName: '<script>alert("x")</script>\r\nBcc: evil@example.com' }), { email: 'a@example.com', name: null }, unsubscribe);
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(email.subject).not.toMatch(/[\r\n]/);
    expect(email.text).toContain('Hello a@example.com,');
  });

  it('leaves out facts that are missing instead of printing them', () => {
    const email = renderEmail(content('ORDER_CANCELLED', { orderId }), recipient, unsubscribe);
    expect(email.text).toContain('Nothing was charged');
    expect(email.text).not.toContain('Refund');
    expect(email.text).not.toContain('Reason');
  });

  it('formats money from minor units with the currency’s own decimals', () => {
    expect(formatMoney({ amount: 123456, currency: 'EUR' })).toBe('€1,234.56');
    expect(formatMoney({ amount: 500, currency: 'JPY' })).toBe('¥500');
    expect(formatMoney({ amount: 1234, currency: 'KWD' })).toBe('KWD\u00a01.234');
    expect(formatMoney({ amount: -5, currency: 'USD' })).toBe('-$0.05');
  });
});
