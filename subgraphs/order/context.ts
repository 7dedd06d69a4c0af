import { IDENTITY_HEADER, readCaller } from '../../platform/auth/internal-identity.js';
import type { Actor } from './decider.js';
import type { OrderService } from './service.js';

export interface OrderContext {
  /** Who is calling (verified by the gateway, signed for subgraphs); undefined for anonymous. */
  actor: Actor | undefined;
  service: OrderService;
}

export async function createContext(service: OrderService, headers: Record<string, unknown>, internalSecret: Uint8Array): Promise<OrderContext> {
  return { actor: (await readCaller(headers[IDENTITY_HEADER], internalSecret)).identity, service };
}
