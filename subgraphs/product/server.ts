import { catalogProjection } from './catalog/projection.js';
import { readModelPositions } from '../../projections/lag.js';
import { readAfterPositions } from '../../projections/read-your-writes.js';
import { DEFAULT_READ_AFTER_MAX_WAIT_MS } from '../../platform/read-your-writes.js';
import type { ServicePorts } from '../../platform/ports.js';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { startGraphQLService, subgraphTypeDefs, type RunningService } from '../../platform/graphql/service.js';
import type { Resolvers } from './__generated__/resolvers-types.js';
import { createContext, type ProductContext } from './context.js';
import { Mutation } from './resolvers/Mutation.js';
import { Product } from './resolvers/Product.js';
import { ProductConnection } from './resolvers/ProductConnection.js';
import { Query } from './resolvers/Query.js';
import { StockChange } from './resolvers/StockChange.js';
import { Subscription } from './resolvers/Subscription.js';
import { User } from './resolvers/User.js';
import { ProductService, type ProductServiceDeps } from './service.js';
import { closeAfterFailedStart, closeConsumers, type Bus } from '../../platform/bus/bus.js';
import { startReservationConsumer } from './reservations.js';
import { startAnalyticsConsumers } from './analytics/consumers.js';

export const productTypeDefs = subgraphTypeDefs(new URL('./schema.graphql', import.meta.url));

const resolvers: Resolvers = { Query, Mutation, Subscription, StockChange, Product, ProductConnection, User };

export interface ProductSubgraphDeps extends ServicePorts {
  clock?: () => Date;
  /** Verifies the caller identity the gateway signs. */
  internalSecret: Uint8Array;
  /** Checks of the servers the subgraph depends on, for /health/ready. */
  readiness?: Record<string, () => Promise<void>>;
  /** How long a query sent with x-read-after-position waits for the read models (default DEFAULT_READ_AFTER_MAX_WAIT_MS). */
  readAfterMaxWaitMs?: number;
  /** Where order events arrive for the inventory side of the saga (and views and time zones for analytics); without it, neither. */
  bus?: Bus;
  /** How far back a stockChanged subscriber may resume from. */
  resume?: ProductServiceDeps['resume'];
}

export function buildProductSchema() {
  return buildSubgraphSchema({ typeDefs: productTypeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> });
}

/** Builds and starts the product subgraph (index.ts only decides where it listens). */
export async function startProductSubgraph(deps: ProductSubgraphDeps, listenOn: { port: number; host: string }): Promise<RunningService & { service: ProductService }> {
  const service = new ProductService({ ...deps, clock: deps.clock ?? (() => new Date()) });
  const reservations = deps.bus && (await startReservationConsumer(deps.bus, service, deps.logger));
  const analytics = deps.bus ? await startAnalyticsConsumers(deps.bus, service.analytics).catch((error: unknown) => closeAfterFailedStart([reservations], error)) : [];
  const stopConsuming = () => closeConsumers([reservations, ...analytics]);
  const running = await startGraphQLService<ProductContext>(
    {
      name: 'product',
      schema: buildProductSchema(),
      context: (headers) => createContext(service, headers, deps.internalSecret),
      logger: deps.logger,
      metrics: deps.metrics,
      readiness: {
        eventStore: async () => void (await deps.events.headPosition()),
        ...deps.readiness,
      },
      readModelPositions: readModelPositions(deps.documents, [catalogProjection], { onError: (error) => deps.logger.debug({ err: error }, 'could not read the read model position for an answer') }),
      readAfter: readAfterPositions(deps, [catalogProjection], deps.readAfterMaxWaitMs ?? DEFAULT_READ_AFTER_MAX_WAIT_MS),
    },
    listenOn,
  ).catch((error: unknown) => closeAfterFailedStart([reservations, ...analytics], error)); // not left consuming when the subgraph cannot start
  return {
    ...running,
    service,
    close: async () => {
      await stopConsuming();
      await running.close();
    },
  };
}
