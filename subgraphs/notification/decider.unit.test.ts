import { describe, expect, it } from 'vitest';
import { fold } from '../../platform/eventsourcing/decider.js';
import { channelsFor, MAX_DELIVERY_ATTEMPTS, notificationDecider, priorityOf, recipientDecider, retryDelayMs, stockAlert, type NotificationCommand } from './decider.js';
import type { NotificationEvent, NotificationRaised } from './events.js';
import { notificationIdFor } from './service.js';
import { readUnsubscribeToken, unsubscribeToken } from './unsubscribe-token.js';

const raised: NotificationRaised['data'] = {
  notificationId: 'n1',
  kind: 'ORDER_CONFIRMED',
  priority: 'NORMAL',
  recipientId: 'u1',
  channels: ['IN_APP', 'EMAIL'],
  occurredAt: '2026-12-01T00:00:00.000Z',
  raisedAt: '2026-12-01T00:00:01.000Z',
  data: { orderId: 'o1' },
  causationId: 'm1',
};

/** Decides each command on the state the previous ones left; returns every event. */
function run(commands: NotificationCommand[]): NotificationEvent[] {
  let state = notificationDecider.initialState();
  const all: NotificationEvent[] = [];
  for (const command of commands) {
    const events = notificationDecider.decide(command, state);
    state = fold(notificationDecider, events, state);
    all.push(...events);
  }
  return all;
}

describe('notification decider', () => {
  it('raises a notification once: the same cause, kind and recipient is the same notification', () => {
    expect(run([{ type: 'Raise', notification: raised }, { type: 'Raise', notification: raised }]).map((e) => e.type)).toEqual(['NotificationRaised']);
    expect(notificationIdFor('m1', 'ORDER_PAID', 'u1')).toBe(notificationIdFor('m1', 'ORDER_PAID', 'u1'));
    expect(new Set([notificationIdFor('m1', 'ORDER_PAID', 'u1'), notificationIdFor('m2', 'ORDER_PAID', 'u1'), notificationIdFor('m1', 'ORDER_PAID', 'u2'), notificationIdFor('m1', 'STOCK_LOW', 'u1')]).size).toBe(4);
  });

  it('retries a channel with growing backoff and parks it after the last attempt; a delivered or parked channel records nothing more', () => {
    const at = '2026-12-01T00:00:00.000Z';
    const failures = Array.from({ length: MAX_DELIVERY_ATTEMPTS + 1 }, (): NotificationCommand => ({ type: 'RecordFailure', channel: 'EMAIL', error: 'busy', retryable: true, at }));
    const events = run([{ type: 'Raise', notification: raised }, ...failures, { type: 'RecordDelivered', channel: 'EMAIL', at }]);
    expect(events.map((e) => e.type)).toEqual(['NotificationRaised', ...Array<string>(MAX_DELIVERY_ATTEMPTS - 1).fill('NotificationDeliveryFailed'), 'NotificationDeliveryParked']);
    const retryAts = events.filter((e) => e.type === 'NotificationDeliveryFailed').map((e) => Date.parse((e.data as { retryAt: string }).retryAt) - Date.parse(at));
    expect(retryAts).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(20)).toBe(300_000);
    // A permanent refusal parks at once; a channel the notification does not use records nothing.
    expect(run([{ type: 'Raise', notification: raised }, { type: 'RecordFailure', channel: 'EMAIL', error: '550', retryable: false, at }, { type: 'RecordFailure', channel: 'WEBHOOK', error: 'x', retryable: true, at }]).map((e) => e.type)).toEqual(['NotificationRaised', 'NotificationDeliveryParked']);
    expect(run([{ type: 'Raise', notification: raised }, { type: 'RecordDelivered', channel: 'EMAIL', at }, { type: 'RecordDelivered', channel: 'EMAIL', at }, { type: 'RecordFailure', channel: 'EMAIL', error: 'late', retryable: true, at }]).map((e) => e.type)).toEqual(['NotificationRaised', 'NotificationDelivered']);
  });

  it('lets only the recipient mark it read, once', () => {
    const at = '2026-12-01T00:00:00.000Z';
    expect(run([{ type: 'Raise', notification: raised }, { type: 'MarkRead', recipientId: 'someone else', at }, { type: 'MarkRead', recipientId: 'u1', at }, { type: 'MarkRead', recipientId: 'u1', at }]).map((e) => e.type)).toEqual(['NotificationRaised', 'NotificationRead']);
    expect(run([{ type: 'MarkRead', recipientId: 'u1', at }])).toEqual([]);
  });

  it('makes payment failures and rejections HIGH, the rest NORMAL', () => {
    expect(['PAYMENT_FAILED', 'ORDER_REJECTED', 'ORDER_CONFIRMED', 'SOLD_OUT'].map((k) => priorityOf(k as never))).toEqual(['HIGH', 'HIGH', 'NORMAL', 'NORMAL']);
  });
});

describe('stock alerts', () => {
  it('fire when a reservation crosses below the threshold, or takes the last unit, and only then', () => {
    expect(stockAlert(4, 2, 5)).toBe('STOCK_LOW'); // 6 -> 4
    expect(stockAlert(4, 1, 5)).toBe('STOCK_LOW'); // 5 -> 4
    expect(stockAlert(3, 1, 5)).toBeUndefined(); // 4 -> 3: already low
    expect(stockAlert(5, 1, 5)).toBeUndefined(); // 6 -> 5: not below
    expect(stockAlert(0, 3, 5)).toBe('SOLD_OUT'); // 3 -> 0
    expect(stockAlert(0, 10, 5)).toBe('SOLD_OUT'); // 10 -> 0: sold out says more than low
    expect(stockAlert(7, 3, 8)).toBe('STOCK_LOW'); // the seller's threshold
    expect(stockAlert(2, 1, 0)).toBeUndefined(); // threshold 0: only sold out
  });
});

describe('preferences and unsubscribe tokens', () => {
  it('keeps the default channels of a kind until the user chooses', () => {
    let state = recipientDecider.initialState();
    expect(channelsFor(state, 'ORDER_PAID')).toEqual(['IN_APP', 'EMAIL']);
    expect(channelsFor(state, 'UNIT_SOLD')).toEqual(['IN_APP', 'WEBHOOK']);
    state = fold(recipientDecider, recipientDecider.decide({ type: 'SetPreference', userId: 'u1', kind: 'ORDER_PAID', channels: ['EMAIL', 'IN_APP'], via: 'PREFERENCES', at: 'now' }, state), state);
    expect(channelsFor(state, 'ORDER_PAID')).toEqual(['IN_APP', 'EMAIL']);
    expect(recipientDecider.decide({ type: 'SetPreference', userId: 'u1', kind: 'ORDER_PAID', channels: ['IN_APP', 'EMAIL'], via: 'PREFERENCES', at: 'now' }, state)).toEqual([]); // the same again
  });

  it('reads back only tokens signed with the key, for the user and kind they name', () => {
    const key = new Uint8Array(32).fill(1);
    const token = unsubscribeToken('u1', 'ORDER_PAID', key);
    expect(readUnsubscribeToken(token, key)).toEqual({ userId: 'u1', kind: 'ORDER_PAID' });
    expect(readUnsubscribeToken(token, new Uint8Array(32).fill(2))).toBeUndefined();
    const [, signature] = token.split('.');
    expect(readUnsubscribeToken(`${Buffer.from(JSON.stringify({ u: 'u2', k: 'ORDER_PAID' })).toString('base64url')}.${signature}`, key)).toBeUndefined();
    expect(readUnsubscribeToken('garbage', key)).toBeUndefined();
    expect(readUnsubscribeToken(unsubscribeToken('u1', 'NOT_A_KIND' as never, key), key)).toBeUndefined();
  });
});
