import DataLoader from 'dataloader';
import { IDENTITY_HEADER, readCaller, type CallerContext } from '../../platform/auth/internal-identity.js';
import type { UserModel, UserService } from './service.js';

export interface UserContext {
  caller: CallerContext;
  service: UserService;
  userLoader: DataLoader<string, UserModel | null>;
}

export async function createUserContext(service: UserService, headers: Record<string, unknown>, internalSecret: Uint8Array): Promise<UserContext> {
  return {
    caller: await readCaller(headers[IDENTITY_HEADER], internalSecret),
    service,
    userLoader: new DataLoader((ids: readonly string[]) => Promise.all(ids.map((id) => service.get(id)))),
  };
}
