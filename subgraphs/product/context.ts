import DataLoader from 'dataloader';
import type { IncomingHttpHeaders } from 'node:http';
import type { Actor } from './decider.js';
import type { ProductDoc } from './catalog/read-model.js';
import type { ProductService } from './service.js';

export interface ProductContext {
  /** Who is calling; undefined for anonymous. */
  actor: Actor | undefined;
  service: ProductService;
  /** Batches entity look-ups within one request (`_entities`, nested products). */
  productLoader: DataLoader<string, ProductDoc | null>;
}

const ROLES = new Set<Actor['role']>(['CUSTOMER', 'SELLER', 'ADMIN']);

/**
 * DEVELOPMENT identity until authentication lands: `x-dev-user-id` (+ optional `x-dev-user-role`,
 * default SELLER), forwarded by the gateway. Not a security boundary.
 */
export function actorFromHeaders(headers: IncomingHttpHeaders | Record<string, unknown>): Actor | undefined {
  const id = headers['x-dev-user-id'];
  if (typeof id !== 'string' || id.trim() === '') return undefined;
  const role = headers['x-dev-user-role'];
  const upper = typeof role === 'string' ? role.toUpperCase() : 'SELLER';
  return { userId: id.trim().slice(0, 128), role: ROLES.has(upper as Actor['role']) ? (upper as Actor['role']) : 'SELLER' };
}

export function createContext(service: ProductService, actor: Actor | undefined): ProductContext {
  return {
    actor,
    service,
    productLoader: new DataLoader((ids: readonly string[]) => service.queries.products(ids)),
  };
}
