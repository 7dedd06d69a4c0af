import { IDENTITY_HEADER, readCaller } from '../../platform/auth/internal-identity.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import type { WebhookDeliveries } from './channels/webhooks.js';
import type { Actor, NotificationService } from './service.js';

export interface NotificationContext {
  /** Who is calling (verified by the gateway, signed for subgraphs); undefined for anonymous. */
  actor: Actor | undefined;
  service: NotificationService;
  /** Sellers' webhooks: registration and their delivery state. */
  webhooks: WebhookDeliveries;
  metrics: Metrics;
}

export async function createContext(parts: Omit<NotificationContext, 'actor'>, headers: Record<string, unknown>, internalSecret: Uint8Array): Promise<NotificationContext> {
  return { actor: (await readCaller(headers[IDENTITY_HEADER], internalSecret)).identity, ...parts };
}
