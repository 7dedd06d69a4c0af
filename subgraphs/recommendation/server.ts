import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { closeAfterFailedStart, closeConsumers as closeAll, startConsumers, type Bus, type Consumer } from '../../platform/bus/bus.js';
import { startGraphQLService, subgraphTypeDefs, type RunningService } from '../../platform/graphql/service.js';
import type { ServicePorts } from '../../platform/ports.js';
import { readModelPositions } from '../../projections/lag.js';
import { readAfterPositions } from '../../projections/read-your-writes.js';
import { DEFAULT_READ_AFTER_MAX_WAIT_MS } from '../../platform/read-your-writes.js';
import type { Resolvers } from './__generated__/resolvers-types.js';
import { startProductFactsConsumer, startPurchaseConsumer } from './consumers.js';
import { createContext, type RecommendationContext } from './context.js';
import { recommendationProjections } from './read-model/projections.js';
import { Mutation } from './resolvers/Mutation.js';
import { Product } from './resolvers/Product.js';
import { Query } from './resolvers/Query.js';
import { User } from './resolvers/User.js';
import { RecommendationService } from './service.js';

export const recommendationTypeDefs = subgraphTypeDefs(new URL('./schema.graphql', import.meta.url));

const resolvers: Resolvers = { Query, Mutation, Product, User };

export function buildRecommendationSchema() {
  return buildSubgraphSchema({ typeDefs: recommendationTypeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> });
}

export interface RecommendationSubgraphDeps extends ServicePorts {
  /** Where order and product public events arrive (purchases, product facts). */
  bus: Bus;
  clock?: () => Date;
  internalSecret: Uint8Array;
  readiness?: Record<string, () => Promise<void>>;
  /** How long a query sent with x-read-after-position waits for the read models (default DEFAULT_READ_AFTER_MAX_WAIT_MS). */
  readAfterMaxWaitMs?: number;
}

/** Starts the consumers of order.events.v1 and product.events.v1 (no HTTP): for tests, benchmarks and the subgraph below. */
export function startRecommendationConsumers(bus: Bus, service: RecommendationService, clock: () => Date = () => new Date()): Promise<Consumer[]> {
  return startConsumers([() => startProductFactsConsumer(bus, service), () => startPurchaseConsumer(bus, service, clock)]);
}

/** Builds and starts the recommendation subgraph and its consumers (index.ts only decides where it listens). */
export async function startRecommendationSubgraph(deps: RecommendationSubgraphDeps, listenOn: { port: number; host: string }): Promise<RunningService & { service: RecommendationService }> {
  const clock = deps.clock ?? (() => new Date());
  const service = new RecommendationService({ ...deps, clock });
  const consumers = await startRecommendationConsumers(deps.bus, service, clock);
  const closeConsumers = async () => {
    await closeAll(consumers);
  };
  try {
    const running = await startGraphQLService<RecommendationContext>(
      {
        name: 'recommendation',
        schema: buildRecommendationSchema(),
        context: (headers) => createContext(service, headers, deps.internalSecret),
        logger: deps.logger,
        metrics: deps.metrics,
        readiness: { eventStore: async () => void (await deps.events.headPosition()), ...deps.readiness },
        readModelPositions: readModelPositions(deps.documents, recommendationProjections(), { onError: (error) => deps.logger.debug({ err: error }, 'could not read the read model positions for an answer') }),
        readAfter: readAfterPositions(deps, recommendationProjections(), deps.readAfterMaxWaitMs ?? DEFAULT_READ_AFTER_MAX_WAIT_MS),
      },
      listenOn,
    );
    return {
      ...running,
      service,
      close: async () => {
        await closeConsumers();
        await running.close();
      },
    };
  } catch (error) {
    return closeAfterFailedStart(consumers, error);
  }
}
