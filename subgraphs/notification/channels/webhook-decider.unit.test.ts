import { describe, expect, it } from 'vitest';
import { deciderSpec } from '../../../platform/eventsourcing/testing.js';
import type { WebhookPayload } from './channel.js';
import { MAX_WEBHOOKS_PER_SELLER, webhookDecider, webhookSnapshots, type WebhookCommand, type WebhookEvent } from './webhook-decider.js';
import type { SealedWebhookSecret } from './webhook-secrets.js';

const spec = deciderSpec(webhookDecider);
const at = '2026-12-02T03:00:00.000Z';
const later = '2026-12-02T03:01:00.000Z';
const payload: WebhookPayload = { id: 'n-1', kind: 'UNIT_SOLD', occurredAt: at, data: {} };

/** The decider only carries the sealed record (webhook-secrets.ts seals and opens it). */
const sealed: SealedWebhookSecret = { v: 1, alg: 'A256GCM', keyId: 'k1', iv: 'aXZpdml2aXZpdml2', ciphertext: 'Y2lwaGVy', tag: 'dGFndGFndGFndGFndGFnIQ' };
const registered = (webhookId = 'w-1'): WebhookEvent => ({ type: 'WebhookRegistered', data: { webhookId, sellerId: 's-1', url: 'https://hooks.example.com/x', events: ['UNIT_SOLD'], sealedSecret: sealed, registeredAt: at } });
const failed = (attempt: number, nextAttemptAt: string | null = later, retryable = true): WebhookEvent => ({
  type: 'WebhookDeliveryFailed',
  data: { webhookId: 'w-1', notificationId: 'n-1', attempt, error: 'the receiver answered 500', status: 500, retryable, failedAt: at, nextAttemptAt, payload },
});
const fail = (attempt: number, retryable = true, parkAfter = 3): WebhookCommand => ({
  type: 'RecordFailed',
  webhookId: 'w-1',
  notificationId: 'n-1',
  attempt,
  error: 'the receiver answered 500',
  status: 500,
  retryable,
  retryAt: later,
  parkAfter,
  payload,
  at,
});

describe('webhook decider', () => {
  it('registers once (a retried registration decides nothing), with distinct kinds', () => {
    const register: WebhookCommand = { type: 'RegisterWebhook', webhookId: 'w-1', sellerId: 's-1', url: 'https://hooks.example.com/x', events: ['UNIT_SOLD', 'UNIT_SOLD'], sealedSecret: sealed, at };
    spec.given([]).when(register).then([registered()]);
    spec.given([registered()]).when(register).thenNothingHappens();
  });

  it(`refuses more than ${MAX_WEBHOOKS_PER_SELLER} webhooks per seller, and none without kinds`, () => {
    const ten = Array.from({ length: MAX_WEBHOOKS_PER_SELLER }, (_, i) => registered(`w-${i}`));
    spec.given(ten).when({ type: 'RegisterWebhook', webhookId: 'w-new', sellerId: 's-1', url: 'https://hooks.example.com/y', events: ['SOLD_OUT'], sealedSecret: sealed, at }).thenFails({ code: 'INVALID_STATE' });
    spec.given([]).when({ type: 'RegisterWebhook', webhookId: 'w-1', sellerId: 's-1', url: 'https://hooks.example.com/y', events: [], sealedSecret: sealed, at }).thenFails({ code: 'INVALID_INPUT', field: ['events'] });
  });

  it('schedules a retryable failure, not a permanent one', () => {
    spec.given([registered()]).when(fail(1)).then([failed(1)]);
    spec.given([registered()]).when(fail(1, false)).then([failed(1, null, false)]);
  });

  it('parks on the Nth consecutive failure; a delivery in between starts the count again', () => {
    spec.given([registered(), failed(1), failed(2)]).when(fail(3)).then([failed(3, null), { type: 'WebhookParked', data: { webhookId: 'w-1', after: 3, lastError: 'the receiver answered 500', parkedAt: at } }]);
    const delivered: WebhookEvent = { type: 'WebhookDelivered', data: { webhookId: 'w-1', notificationId: 'n-0', attempt: 1, deliveredAt: at } };
    spec.given([registered(), failed(1), delivered, failed(1)]).when(fail(2)).then([failed(2)]);
  });

  it('reactivates a parked webhook only; an unknown one is NOT_FOUND', () => {
    const parked: WebhookEvent = { type: 'WebhookParked', data: { webhookId: 'w-1', after: 3, lastError: 'x', parkedAt: at } };
    spec.given([registered(), parked]).when({ type: 'ReactivateWebhook', webhookId: 'w-1', by: 's-1', at: later }).then([{ type: 'WebhookReactivated', data: { webhookId: 'w-1', reactivatedAt: later, by: 's-1' } }]);
    spec.given([registered()]).when({ type: 'ReactivateWebhook', webhookId: 'w-1', by: 's-1', at: later }).thenNothingHappens();
    spec.given([registered()]).when({ type: 'ReactivateWebhook', webhookId: 'w-2', by: 's-1', at: later }).thenFails({ code: 'NOT_FOUND', field: ['id'] });
  });

  it('deletes a webhook once (then it is NOT_FOUND); an outcome arriving after the deletion records nothing', () => {
    const deleted: WebhookEvent = { type: 'WebhookDeleted', data: { webhookId: 'w-1', deletedAt: later, by: 's-1' } };
    spec.given([registered()]).when({ type: 'DeleteWebhook', webhookId: 'w-1', by: 's-1', at: later }).then([deleted]);
    spec.given([registered(), deleted]).when({ type: 'DeleteWebhook', webhookId: 'w-1', by: 's-1', at: later }).thenFails({ code: 'NOT_FOUND', field: ['id'] });
    spec.given([registered(), deleted]).when(fail(1)).thenNothingHappens();
    spec.given([registered(), deleted]).when({ type: 'RecordDelivered', webhookId: 'w-1', notificationId: 'n-1', attempt: 1, at }).thenNothingHappens();
    // A deleted webhook frees its place under the limit.
    const ten = Array.from({ length: MAX_WEBHOOKS_PER_SELLER }, (_, i) => registered(`w-${i}`));
    const register: WebhookCommand = { type: 'RegisterWebhook', webhookId: 'w-new', sellerId: 's-1', url: 'https://hooks.example.com/y', events: ['SOLD_OUT'], sealedSecret: sealed, at };
    spec.given([...ten, { type: 'WebhookDeleted', data: { webhookId: 'w-3', deletedAt: later, by: 's-1' } }]).when(register).then([{ type: 'WebhookRegistered', data: { webhookId: 'w-new', sellerId: 's-1', url: 'https://hooks.example.com/y', events: ['SOLD_OUT'], sealedSecret: sealed, registeredAt: at } }]);
  });

  it('records a failure of a parked webhook without scheduling it or parking it again', () => {
    const parked: WebhookEvent = { type: 'WebhookParked', data: { webhookId: 'w-1', after: 3, lastError: 'x', parkedAt: at } };
    spec.given([registered(), failed(1), failed(2), failed(3, null), parked]).when(fail(2)).then([failed(2, null)]);
  });

  it('keeps the sealed secret in the state and its snapshot; a legacy registration (a clear secret) is read as it was', () => {
    const fold = (events: WebhookEvent[]) => events.reduce((state, event) => webhookDecider.evolve(state, event), webhookDecider.initialState());
    expect(fold([registered()]).webhooks[0]!.secret).toEqual(sealed);
    const legacy: WebhookEvent = { type: 'WebhookRegistered', data: { webhookId: 'w-old', sellerId: 's-1', url: 'https://hooks.example.com/old', events: ['UNIT_SOLD'], secret: 'whsec_legacy', registeredAt: at } };
    expect(fold([legacy]).webhooks[0]!.secret).toEqual({ v: 0, plain: 'whsec_legacy' });
    const policy = webhookSnapshots();
    expect(policy.version).toBe(2); // version 1 held the secret in clear: ignored, the state is folded again
    expect(policy.fromSnapshot(JSON.parse(JSON.stringify(policy.toSnapshot(fold([registered()])))))).toEqual(fold([registered()]));
  });
});
