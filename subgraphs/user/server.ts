import { randomBytes } from 'node:crypto';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { AuthKeys } from '../../platform/auth/secrets.js';
import type { Config } from '../../platform/config.js';
import type { EventStore } from '../../platform/event-store/event-store.js';
import { startGraphQLService, subgraphTypeDefs, type RunningService } from '../../platform/graphql/service.js';
import type { Logger } from '../../platform/logging.js';
import { instrumentEventStore } from '../../platform/metrics/instrumented-event-store.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import type { RateLimiter } from '../../platform/ratelimit/rate-limiter.js';
import type { Resolvers } from './__generated__/resolvers-types.js';
import { createUserContext, type UserContext } from './context.js';
import { Mutation } from './resolvers/Mutation.js';
import { Query } from './resolvers/Query.js';
import { User } from './resolvers/User.js';
import { UserService, type UserServiceDeps } from './service.js';

export const userTypeDefs = subgraphTypeDefs(new URL('./schema.graphql', import.meta.url));
const resolvers: Resolvers = { Query, Mutation, User };

export interface UserSubgraphDeps extends UserServiceDeps {
  internalSecret: Uint8Array;
  readiness?: Record<string, () => Promise<void>>;
  admin?: { email: string; password: string } | undefined;
  /** Development: the seller who owns the demo catalog, so one can sign in and edit it. */
  demoSeller?: { userId: string; email: string; password: string; name: string } | undefined;
}

/** The user subgraph's dependencies from configuration (shared by its process and the embedded launcher). */
export function userSubgraphDeps(
  config: Config,
  deps: { events: EventStore; limiter: RateLimiter; readiness: Record<string, () => Promise<void>>; metrics: Metrics; logger: Logger; keys: AuthKeys; demoSeller?: UserSubgraphDeps['demoSeller'] },
): UserSubgraphDeps {
  return {
    events: instrumentEventStore(deps.events, deps.metrics),
    metrics: deps.metrics,
    logger: deps.logger,
    tokens: deps.keys.tokens,
    internalSecret: deps.keys.internalSecret,
    kdf: { N: 2 ** config.auth.passwordHashCost, r: 8, p: 1 },
    limiter: deps.limiter,
    loginLimits: { perEmail: config.auth.loginAttemptsPerEmail, perAddress: config.auth.loginAttemptsPerAddress },
    readiness: deps.readiness,
    admin: config.auth.admin,
    // The demo catalog's products name this seller, so the account exists whenever they are seeded
    // (or every product's `seller` would fail); in production with a random password nobody knows.
    demoSeller: config.seedDemoData && deps.demoSeller ? (config.production ? { ...deps.demoSeller, password: randomBytes(32).toString('base64url') } : deps.demoSeller) : undefined,
  };
}

/** Builds and starts the user subgraph; creates the configured admin on first start. */
export async function startUserSubgraph(deps: UserSubgraphDeps, listenOn: { port: number; host: string }): Promise<RunningService & { service: UserService }> {
  const service = new UserService(deps);
  if (deps.admin) await service.ensureAccount({ ...deps.admin, name: 'Administrator' }, 'ADMIN');
  if (deps.demoSeller) await service.ensureAccount(deps.demoSeller, 'SELLER', deps.demoSeller.userId);
  const running = await startGraphQLService<UserContext>(
    {
      name: 'user',
      schema: buildSubgraphSchema({ typeDefs: userTypeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> }),
      context: (headers) => createUserContext(service, headers, deps.internalSecret),
      logger: deps.logger,
      metrics: deps.metrics,
      readiness: { eventStore: async () => void (await deps.events.headPosition()), ...deps.readiness },
    },
    listenOn,
  );
  return { ...running, service };
}
