import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { closeAfterFailedStart, closeConsumers as closeAll, startConsumers, type Bus, type Consumer } from '../../platform/bus/bus.js';
import { startGraphQLService, subgraphTypeDefs, type RunningService } from '../../platform/graphql/service.js';
import type { NotificationChannelsConfig } from '../../platform/config.js';
import type { ServicePorts } from '../../platform/ports.js';
import { readModelPositions } from '../../projections/lag.js';
import { readAfterPositions } from '../../projections/read-your-writes.js';
import { DEFAULT_READ_AFTER_MAX_WAIT_MS } from '../../platform/read-your-writes.js';
import type { Resolvers } from './__generated__/resolvers-types.js';
import type { EmailSender } from './channels/channel.js';
import { createEmailSender } from './channels/email.js';
import { createWebhookSender } from './channels/webhook.js';
import { WebhookDeliveries } from './channels/webhooks.js';
import { webhookSecretBox } from './channels/webhook-secrets.js';
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
 * What the notification subgraph needs. Its transports are built from `channels` (the
 * configuration's notificationChannels: SMTP_URL or the mail folder; the webhook policy): e-mail over SMTP (or .eml files in a folder, the embedded
 * default) and the sellers' registered webhooks. A test may pass `email` or `webhooks` instead
 * (the receivers are outside the system); `null` leaves a channel out: its deliveries stay
 * pending in the outbox (logged at start) until a process with it dispatches.
 */
export interface NotificationSubgraphDeps extends ServicePorts {
  /** Where order, product and user public events arrive. */
  bus: Bus;
  clock?: () => Date;
  internalSecret: Uint8Array;
  /** Where e-mails' unsubscribe links point (PUBLIC_URL). */
  publicUrl: string;
  /** The channels' settings (Config.notificationChannels, read in platform/config.ts). */
  channels: NotificationChannelsConfig;
  email?: EmailSender | null | undefined;
  webhooks?: WebhookDeliverer | null | undefined;
  dispatcher?: Partial<DispatcherOptions>;
  /** false: this process delivers nothing (the dispatcher is not started; see NOTIFICATION_DISPATCH). */
  dispatch?: boolean;
  readiness?: Record<string, () => Promise<void>>;
  readAfterMaxWaitMs?: number;
}

/** Starts the consumers of order, product and user events (no HTTP): for tests and the subgraph below. */
export function startNotificationConsumers(bus: Bus, service: NotificationService, clock: () => Date = () => new Date()): Promise<Consumer[]> {
  return startConsumers([() => startRecipientConsumer(bus, service), () => startProductNotificationConsumer(bus, service, clock), () => startOrderNotificationConsumer(bus, service, clock)]);
}

/** Builds and starts the notification subgraph, its consumers and its dispatcher (which delivers only while it holds the dispatcher lease). */
export async function startNotificationSubgraph(
  deps: NotificationSubgraphDeps,
  listenOn: { port: number; host: string },
): Promise<RunningService & { service: NotificationService; dispatcher: NotificationDispatcher }> {
  const clock = deps.clock ?? (() => new Date());
  const service = new NotificationService({ ...deps, clock });
  const channels = deps.channels;
  // First: production without WEBHOOK_SECRET_KEYS stops here, before anything is started.
  const secrets = webhookSecretBox(channels.webhooks, deps.logger);
  const webhookSender = createWebhookSender({ allowPrivate: channels.webhooks.allowPrivate, timeoutMs: channels.webhooks.timeoutMs });
  const webhookAttempts = deps.metrics.webhookAttempts;
  const webhooks = new WebhookDeliveries({
    events: deps.events,
    documents: deps.documents,
    sender: webhookSender,
    secrets,
    clock,
    logger: deps.logger,
    retry: channels.webhooks.retry,
    allowPrivate: channels.webhooks.allowPrivate,
    requireHttps: channels.webhooks.requireHttps,
    observer: { attempted: (outcome) => webhookAttempts.inc({ outcome }) },
  });
  const email = deps.email === undefined ? createEmailSender(channels.email) : deps.email;
  const consumers = await startNotificationConsumers(deps.bus, service, clock);
  const dispatcher = new NotificationDispatcher({ ...deps, clock, email: email ?? undefined, webhooks: (deps.webhooks === undefined ? webhooks : deps.webhooks) ?? undefined }, { ...DEFAULT_DISPATCHER_OPTIONS, ...deps.dispatcher });
  const closeConsumers = async () => {
    await closeAll(consumers);
  };
  const closeTransports = async () => {
    webhookSender.close();
    if (deps.email === undefined) await email?.close();
  };
  try {
    const running = await startGraphQLService<NotificationContext>(
      {
        name: 'notification',
        schema: buildNotificationSchema(),
        context: (headers) => createContext({ service, webhooks, metrics: deps.metrics }, headers, deps.internalSecret),
        logger: deps.logger,
        metrics: deps.metrics,
        readiness: { eventStore: async () => void (await deps.events.headPosition()), ...deps.readiness },
        readModelPositions: readModelPositions(deps.documents, notificationProjections(), { onError: (error) => deps.logger.debug({ err: error }, 'could not read the read model positions for an answer') }),
        readAfter: readAfterPositions(deps, notificationProjections(), deps.readAfterMaxWaitMs ?? DEFAULT_READ_AFTER_MAX_WAIT_MS),
      },
      listenOn,
    );
    if (deps.dispatch !== false) dispatcher.start();
    return {
      ...running,
      service,
      dispatcher,
      close: async () => {
        await dispatcher.stop();
        await closeConsumers();
        await running.close();
        await closeTransports();
      },
    };
  } catch (error) {
    await closeTransports();
    return closeAfterFailedStart(consumers, error);
  }
}
