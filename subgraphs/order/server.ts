import { ordersProjection } from './read-model/projection.js';
import { readModelPositions } from '../../projections/lag.js';
import { readAfterPositions } from '../../projections/read-your-writes.js';
import { DEFAULT_READ_AFTER_MAX_WAIT_MS } from '../../platform/read-your-writes.js';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { closeAfterFailedStart, type Bus } from '../../platform/bus/bus.js';
import { startGraphQLService, subgraphTypeDefs, type RunningService } from '../../platform/graphql/service.js';
import type { ServicePorts } from '../../platform/ports.js';
import type { Resolvers } from './__generated__/resolvers-types.js';
import { createContext, type OrderContext } from './context.js';
import type { PaymentProvider } from './payments.js';
import { startReservationReplies } from './reservation-replies.js';
import { Mutation } from './resolvers/Mutation.js';
import { Order } from './resolvers/Order.js';
import { OrderConnection } from './resolvers/OrderConnection.js';
import { OrderItem } from './resolvers/OrderItem.js';
import { Query } from './resolvers/Query.js';
import { Subscription } from './resolvers/Subscription.js';
import { User } from './resolvers/User.js';
import { DEFAULT_ORDER_TIMEOUTS, OrderService, type OrderServiceDeps } from './service.js';
import { expiryInterval, startOrderExpiry } from './expiry.js';

export const orderTypeDefs = subgraphTypeDefs(new URL('./schema.graphql', import.meta.url));

const resolvers: Resolvers = { Query, Mutation, Subscription, Order, OrderItem, OrderConnection, User };

export interface OrderSubgraphDeps extends ServicePorts {
  /** Where the saga's replies (public stock events) arrive. */
  bus: Bus;
  payments: PaymentProvider;
  clock?: () => Date;
  paymentRetry?: OrderServiceDeps['paymentRetry'];
  timeouts?: OrderServiceDeps['timeouts'];
  resume?: OrderServiceDeps['resume'];
  internalSecret: Uint8Array;
  readiness?: Record<string, () => Promise<void>>;
  /** How long a query sent with x-read-after-position waits for the read models (default DEFAULT_READ_AFTER_MAX_WAIT_MS). */
  readAfterMaxWaitMs?: number;
}

/** Builds and starts the order subgraph and its half of the saga (the reservation replies consumer). */
export async function startOrderSubgraph(deps: OrderSubgraphDeps, listenOn: { port: number; host: string }): Promise<RunningService & { service: OrderService }> {
  const service = new OrderService({ ...deps, clock: deps.clock ?? (() => new Date()) });
  const replies = await startReservationReplies(deps.bus, service);
  const expiry = startOrderExpiry(service, deps.logger, expiryInterval(deps.timeouts ?? DEFAULT_ORDER_TIMEOUTS));
  try {
    const running = await startGraphQLService<OrderContext>(
      {
        name: 'order',
        schema: buildSubgraphSchema({ typeDefs: orderTypeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> }),
        context: (headers) => createContext(service, headers, deps.internalSecret),
        logger: deps.logger,
        metrics: deps.metrics,
        readiness: { eventStore: async () => void (await deps.events.headPosition()), ...deps.readiness },
        readModelPositions: readModelPositions(deps.documents, [ordersProjection], { onError: (error) => deps.logger.debug({ err: error }, 'could not read the read model position for an answer') }),
        readAfter: readAfterPositions(deps, [ordersProjection], deps.readAfterMaxWaitMs ?? DEFAULT_READ_AFTER_MAX_WAIT_MS),
      },
      listenOn,
    );
    return {
      ...running,
      service,
      close: async () => {
        await expiry.stop();
        await replies.close();
        await running.close();
      },
    };
  } catch (error) {
    await expiry.stop();
    return closeAfterFailedStart([replies], error);
  }
}
