import DataLoader from 'dataloader';
import { IDENTITY_HEADER, readCaller } from '../../platform/auth/internal-identity.js';
import type { Actor } from './decider.js';
import type { ProductDoc } from './catalog/read-model.js';
import type { ProductService } from './service.js';

export interface ProductContext {
  /** Who is calling (verified by the gateway, signed for subgraphs); undefined for anonymous. */
  actor: Actor | undefined;
  service: ProductService;
  /** Batches entity look-ups within one request (`_entities`, nested products). */
  productLoader: DataLoader<string, ProductDoc | null>;
}

export async function createContext(service: ProductService, headers: Record<string, unknown>, internalSecret: Uint8Array): Promise<ProductContext> {
  return {
    actor: (await readCaller(headers[IDENTITY_HEADER], internalSecret)).identity,
    service,
    productLoader: new DataLoader((ids: readonly string[]) => service.queries.products(ids)),
  };
}
