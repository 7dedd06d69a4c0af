import { IDENTITY_HEADER, readCaller } from '../../platform/auth/internal-identity.js';
import type { Actor, RecommendationService } from './service.js';

export interface RecommendationContext {
  /** Who is calling (verified by the gateway, signed for subgraphs); undefined for anonymous. */
  actor: Actor | undefined;
  service: RecommendationService;
}

export async function createContext(service: RecommendationService, headers: Record<string, unknown>, internalSecret: Uint8Array): Promise<RecommendationContext> {
  return { actor: (await readCaller(headers[IDENTITY_HEADER], internalSecret)).identity, service };
}
