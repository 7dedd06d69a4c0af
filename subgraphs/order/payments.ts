import { randomUUID } from 'node:crypto';
import type { Money } from './events.js';

/**
 * The payment provider port (outside the system: Stripe, Adyen, …). Requests carry an
 * idempotency key, as real providers accept: the same key never charges twice.
 */
export interface PaymentProvider {
  charge(request: { idempotencyKey: string; token: string; amount: Money; reference: string }): Promise<{ chargeId: string }>;
  refund(request: { idempotencyKey: string; chargeId: string }): Promise<{ refundId: string }>;
  /** The charge made for `reference` (an order), if any: to reconcile a charge whose recording was lost. */
  findCharge(reference: string): Promise<{ chargeId: string; amount: Money } | undefined>;
}

/** The provider refused the payment (a final answer: retrying will not change it). */
export class PaymentDeclinedError extends Error {
  constructor(readonly reason: string) {
    super(`payment declined: ${reason}`);
    this.name = 'PaymentDeclinedError';
  }
}

/** The provider could not answer now (timeout, 5xx); the same request may be retried. */
export class TransientPaymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientPaymentError';
  }
}

/**
 * A simulated provider with the test tokens of the contract: `tok_visa` pays, `tok_declined` is
 * declined, `tok_flaky` fails transiently `flakyFailures` times per idempotency key, then pays.
 * Any other token is declined as an invalid card. It keeps its answers by idempotency key, like
 * a real provider, so a retried charge returns the first charge.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  private readonly charges = new Map<string, { chargeId: string; amount: Money } | PaymentDeclinedError>();
  private readonly refunds = new Map<string, string>();
  private readonly attempts = new Map<string, number>();
  /** Charges actually made (not replays), for tests and the demo. */
  readonly charged: { chargeId: string; amount: Money; reference: string }[] = [];

  constructor(private readonly options: { flakyFailures?: number } = {}) {}

  charge(request: { idempotencyKey: string; token: string; amount: Money; reference: string }): Promise<{ chargeId: string }> {
    const previous = this.charges.get(request.idempotencyKey);
    if (previous instanceof PaymentDeclinedError) return Promise.reject(previous);
    if (previous) return Promise.resolve({ chargeId: previous.chargeId });
    const attempt = (this.attempts.get(request.idempotencyKey) ?? 0) + 1;
    this.attempts.set(request.idempotencyKey, attempt);
    switch (request.token) {
      case 'tok_flaky':
        if (attempt <= (this.options.flakyFailures ?? 2)) return Promise.reject(new TransientPaymentError(`provider timed out (attempt ${attempt})`));
        break;
      case 'tok_visa':
        break;
      case 'tok_declined':
        return this.decline(request.idempotencyKey, 'card declined');
      default:
        return this.decline(request.idempotencyKey, 'invalid card token');
    }
    const chargeId = `ch_${randomUUID().replaceAll('-', '')}`;
    this.charges.set(request.idempotencyKey, { chargeId, amount: request.amount });
    this.charged.push({ chargeId, amount: request.amount, reference: request.reference });
    return Promise.resolve({ chargeId });
  }

  private decline(key: string, reason: string): Promise<never> {
    const error = new PaymentDeclinedError(reason);
    this.charges.set(key, error);
    return Promise.reject(error);
  }

  findCharge(reference: string): Promise<{ chargeId: string; amount: Money } | undefined> {
    const charge = this.charged.find((c) => c.reference === reference);
    return Promise.resolve(charge && { chargeId: charge.chargeId, amount: charge.amount });
  }

  refund(request: { idempotencyKey: string; chargeId: string }): Promise<{ refundId: string }> {
    let refundId = this.refunds.get(request.idempotencyKey);
    if (!refundId) this.refunds.set(request.idempotencyKey, (refundId = `re_${randomUUID().replaceAll('-', '')}`));
    return Promise.resolve({ refundId });
  }
}
