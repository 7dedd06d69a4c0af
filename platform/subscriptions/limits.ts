/** The gateway's bounds on subscriptions (see Config.subscriptions for the environment variables). */
export interface SubscriptionLimits {
  /** Events held for one subscriber that has not taken them; beyond, it ends with SUBSCRIBER_TOO_SLOW. */
  bufferEvents: number;
  perConnection: number;
  /** Per signed-in user; per client address when anonymous. */
  perIdentity: number;
  total: number;
  connectionInitTimeoutMs: number;
  keepAliveMs: number;
}

export const DEFAULT_SUBSCRIPTION_LIMITS: SubscriptionLimits = {
  bufferEvents: 500,
  perConnection: 50,
  perIdentity: 200,
  total: 20_000,
  connectionInitTimeoutMs: 3000,
  keepAliveMs: 12_000,
};
