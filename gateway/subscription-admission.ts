import { GraphQLError } from 'graphql';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { SubscriptionLimits } from '../platform/subscriptions/limits.js';

/** A graphql-ws connection's count of open subscriptions. */
export interface ConnectionSubscriptions {
  subscriptions: number;
}

/**
 * Bounds the subscriptions this gateway holds: per connection, per identity (a signed-in user, or
 * an anonymous client's address) and in total. A subscription over a bound is refused with
 * SUBSCRIPTION_LIMIT (which bound, and its value, in the error), before anything is opened.
 */
export class SubscriptionAdmission {
  private total = 0;
  private readonly byIdentity = new Map<string, number>();

  constructor(
    private readonly limits: Pick<SubscriptionLimits, 'perConnection' | 'perIdentity' | 'total'>,
    private readonly metrics: Metrics,
  ) {}

  get open(): number {
    return this.total;
  }

  /** Counts one more subscription, or throws SUBSCRIPTION_LIMIT. Returns its release (idempotent). */
  admit(connection: ConnectionSubscriptions, identity: string): () => void {
    const ofIdentity = this.byIdentity.get(identity) ?? 0;
    if (connection.subscriptions >= this.limits.perConnection) throw this.refuse('per_connection', `at most ${this.limits.perConnection} subscriptions per connection (SUBSCRIPTIONS_PER_CONNECTION)`, this.limits.perConnection);
    if (ofIdentity >= this.limits.perIdentity) throw this.refuse('per_identity', `at most ${this.limits.perIdentity} subscriptions per user, or per address when signed out (SUBSCRIPTIONS_PER_IDENTITY)`, this.limits.perIdentity);
    if (this.total >= this.limits.total) throw this.refuse('total', `this gateway holds as many subscriptions as it may (${this.limits.total}, SUBSCRIPTIONS_TOTAL): retry shortly, another instance may take it`, this.limits.total);
    connection.subscriptions++;
    this.byIdentity.set(identity, ofIdentity + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      connection.subscriptions--;
      this.total--;
      const left = (this.byIdentity.get(identity) ?? 1) - 1;
      if (left <= 0) this.byIdentity.delete(identity);
      else this.byIdentity.set(identity, left);
    };
  }

  private refuse(limit: 'per_connection' | 'per_identity' | 'total', message: string, value: number): GraphQLError {
    this.metrics.subscriptionRefusals.inc({ limit });
    return new GraphQLError(message, { extensions: { code: 'SUBSCRIPTION_LIMIT', limit, max: value } });
  }
}
