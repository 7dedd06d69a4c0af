import { IDENTITY_HEADER, readCaller } from '../../platform/auth/internal-identity.js';
import type { Actor, NotificationService } from './service.js';

export interface NotificationContext {
  /** Who is calling (verified by the gateway, signed for subgraphs); undefined for anonymous. */
  actor: Actor | undefined;
  service: NotificationService;
}

export async function createContext(service: NotificationService, headers: Record<string, unknown>, internalSecret: Uint8Array): Promise<NotificationContext> {
  return { actor: (await readCaller(headers[IDENTITY_HEADER], internalSecret)).identity, service };
}
