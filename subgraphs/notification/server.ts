import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { Bus, Consumer } from '../../platform/bus/bus.js';
import { startGraphQLService, subgraphTypeDefs, type RunningService } from '../../platform/graphql/service.js';
import type { ServicePorts } from '../../platform/ports.js';
import { readModelPositions } from '../../projections/lag.js';
import { readAfterPositions } from '../../projections/read-your-writes.js';
import { DEFAULT_READ_AFTER_MAX_WAIT_MS } from '../../platform/read-your-writes.js';
import type { Resolvers } from './__generated__/resolvers-types.js';
import type { EmailSender } from './channels/channel.js';
import { startOrderNotificationConsumer, startProductNotificationConsumer, startRecipientConsumer } from './consumers.js';
import { createContext, type NotificationContext } from './context.js';
import { DEFAULT_DISPATCHER_OPTIONS, NotificationDispatcher, type DispatcherOptions, type WebhookDeliverer } from './dispatcher.js';
import { notificationProjections } from './read-model/projections.js';
import { Mutation } from './resolvers/Mutation.js';
import { Notification } from './resolvers/Notification.js';
import { NotificationConnection } from './resolvers/NotificationConnection.js';
import { Subscription } from './resolvers/Subscription.js';
import { User } from './resolvers/User.js';
import { NotificationService } from './service.js';

export const notificationTypeDefs = subgraphTypeDefs(new URL('./schema.graphql', import.meta.url));

const resolvers: Resolvers = { Mutation, Subscription, Notification, NotificationConnection, User };

export function buildNotificationSchema() {
  return buildSubgraphSchema({ typeDefs: notificationTypeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> });
}

/**
 * What the notification subgraph needs. The transports plug in here: `email` (SMTP, see
 * channels/) and `webhooks` (the sellers' registered webhooks). Without them, those deliveries
 * stay pending in the outbox (logged at start) and go out once a process with them dispatches.
 */
export interface NotificationSubgraphDeps extends ServicePorts {
  /** Where order, product and user public events arrive. */
  bus: Bus;
  clock?: () => Date;
  internalSecret: Uint8Array;
  /** Where e-mails' unsubscribe links point (PUBLIC_URL). */
  publicUrl: string;
  email?: EmailSender | undefined;
  webhooks?: WebhookDeliverer | undefined;
  dispatcher?: Partial<DispatcherOptions>;
  readiness?: Record<string, () => Promise<void>>;
  readAfterMaxWaitMs?: number;
}

/** Starts the consumers of order, product and user events (no HTTP): for tests and the subgraph below. */
export async function startNotificationConsumers(bus: Bus, service: NotificationService, clock: () => Date = () => new Date()): Promise<Consumer[]> {
  const started: Consumer[] = [];
  try {
    started.push(await startRecipientConsumer(bus, service));
    started.push(await startProductNotificationConsumer(bus, service, clock));
    started.push(await startOrderNotificationConsumer(bus, service, clock));
    return started;
  } catch (error) {
    for (const c of started) await c.close();
    throw error;
  }
}

/** Builds and starts the notification subgraph, its consumers and its dispatcher (which delivers only while it holds the dispatcher lease). */
export async function startNotificationSubgraph(
  deps: NotificationSubgraphDeps,
  listenOn: { port: number; host: string },
): Promise<RunningService & { service: NotificationService; dispatcher: NotificationDispatcher }> {
  const clock = deps.clock ?? (() => new Date());
  const service = new NotificationService({ ...deps, clock });
  const consumers = await startNotificationConsumers(deps.bus, service, clock);
  const dispatcher = new NotificationDispatcher({ ...deps, clock }, { ...DEFAULT_DISPATCHER_OPTIONS, ...deps.dispatcher });
  const closeConsumers = async () => {
    for (const c of consumers) await c.close();
  };
  try {
    const running = await startGraphQLService<NotificationContext>(
      {
        name: 'notification',
        schema: buildNotificationSchema(),
        context: (headers) => createContext(service, headers, deps.internalSecret),
        logger: deps.logger,
        metrics: deps.metrics,
        readiness: { eventStore: async () => void (await deps.events.headPosition()), ...deps.readiness },
        readModelPositions: readModelPositions(deps.documents, notificationProjections(), { onError: (error) => deps.logger.debug({ err: error }, 'could not read the read model positions for an answer') }),
        readAfter: readAfterPositions(deps, notificationProjections(), deps.readAfterMaxWaitMs ?? DEFAULT_READ_AFTER_MAX_WAIT_MS),
      },
      listenOn,
    );
    dispatcher.start();
    return {
      ...running,
      service,
      dispatcher,
      close: async () => {
        await dispatcher.stop();
        await closeConsumers();
        await running.close();
      },
    };
  } catch (error) {
    await closeConsumers();
    throw error;
  }
}
