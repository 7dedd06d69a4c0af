import type { Config } from '../platform/config.js';
import { openInfrastructure, type Infrastructure } from '../platform/infrastructure.js';
import { createLogger, type Logger } from '../platform/logging.js';
import { instrumentEventStore } from '../platform/metrics/instrumented-event-store.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { Projector } from '../projections/projector.js';
import { relayProjection } from '../projections/relay.js';
import { startProjectorHttp } from '../projections/server.js';
import { startProductSubgraph } from '../subgraphs/product/server.js';
import { startGateway } from '../gateway/server.js';
import { DEMO_SELLER_ACCOUNT, seedDemoCatalog } from '../subgraphs/product/demo-seed.js';
import { startUserSubgraph, userSubgraphDeps } from '../subgraphs/user/server.js';
import { authKeys } from '../platform/auth/secrets.js';
import { SimulatedPaymentProvider } from '../subgraphs/order/payments.js';
import { startOrderSubgraph } from '../subgraphs/order/server.js';
import { GATEWAY_FEEDS, PUBLIC_CONTRACTS, readModelChecks, readModels } from '../projections/registry.js';
import { startRecommendationSubgraph } from '../subgraphs/recommendation/server.js';
import { startNotificationSubgraph, type NotificationSubgraphDeps } from '../subgraphs/notification/server.js';
import { ensureStorefront } from '../storefront/build.js';
import { EVENT_SCHEMAS } from '../subgraphs/event-schemas.js';

export interface RunningSystem {
  gatewayUrl: string;
  productUrl: string;
  orderUrl: string;
  userUrl: string;
  recommendationUrl: string;
  notificationUrl: string;
  projectorUrl: string;
  infrastructure: Infrastructure;
  projectors: Projector[];
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * Starts every service in one process on the configured adapters: the product subgraph, the
 * projector (with its /metrics and health endpoints), then the gateway, which composes the
 * supergraph from the running subgraphs. Stops them in reverse order.
 */
export interface SystemOptions {
  logger?: Logger;
  /** Transports in place of the notification channels' (default: built from `config.notificationChannels`). */
  notificationTransports?: Pick<NotificationSubgraphDeps, 'email' | 'webhooks'>;
}

/** What kind of part the system started; the kind, not the name, decides what stops together. */
export type PartKind = 'infrastructure' | 'subgraph' | 'projector' | 'projector http' | 'gateway';

export interface StartedPart {
  kind: PartKind;
  /** For the logs only. */
  name: string;
  stop: () => Promise<void>;
}

/**
 * Kinds whose parts stop together when they are next to each other in the stop order: the
 * subgraphs, which do not depend on each other (each may wait a few seconds for its Kafka
 * consumers to leave their groups, and a shutdown should wait for the slowest, not their sum).
 */
const STOPPED_TOGETHER: ReadonlySet<PartKind> = new Set(['subgraph']);

/**
 * The order in which started parts (given in start order) are stopped: the reverse of their start,
 * one batch after another, a batch being one part or a run of parts of a kind in STOPPED_TOGETHER.
 */
export function shutdownBatches(started: readonly StartedPart[]): StartedPart[][] {
  const batches: StartedPart[][] = [];
  for (const part of [...started].reverse()) {
    const last = batches.at(-1);
    if (last && STOPPED_TOGETHER.has(part.kind) && last[0]!.kind === part.kind) last.push(part);
    else batches.push([part]);
  }
  return batches;
}

export async function startSystem(config: Config, options: SystemOptions = {}): Promise<RunningSystem> {
  const logger = options.logger ?? createLogger('storefront', config.logLevel, undefined, config.logFormat);
  // Bus metrics belong to the projector: its relay is what publishes.
  const projectorMetrics = createMetrics(serviceRegistry('projector'));
  const infrastructure = await openInfrastructure(config, logger, { eventSchemas: EVENT_SCHEMAS, metrics: projectorMetrics });
  const stops: StartedPart[] = [{ kind: 'infrastructure', name: 'infrastructure', stop: () => infrastructure.close() }];
  const stopOne = async ({ name, stop }: StartedPart) => {
    try {
      logger.debug({ component: name }, 'stopping');
      await stop();
    } catch (error) {
      logger.error({ err: error, component: name }, 'error while stopping');
    }
  };
  // In reverse order of start; the subgraphs together (see shutdownBatches).
  const stop = async () => {
    const batches = shutdownBatches(stops);
    stops.length = 0;
    for (const batch of batches) await Promise.all(batch.map(stopOne));
  };
  try {
    const listenOn = (port: number) => ({ port, host: config.host });

    const keys = authKeys(config, logger);

    // What a subgraph with read models gets: its own metrics registry (event store instrumented
    // into it), its logger, the shared infrastructure and the key to verify callers.
    const sliceDeps = (service: string) => {
      const metrics = createMetrics(serviceRegistry(service));
      const events = instrumentEventStore(infrastructure.events, metrics);
      const readiness = { ...infrastructure.readiness, ...readModelChecks(service, infrastructure, config.projections.maxLagSeconds, metrics) };
      return { ...infrastructure, events, metrics, logger: logger.child({ service }), readiness, internalSecret: keys.internalSecret, resume: config.subscriptions.resume, readAfterMaxWaitMs: config.projections.readAfterMaxWaitMs };
    };

    const product = await startProductSubgraph(sliceDeps('product'), listenOn(config.ports.product));
    stops.push({ kind: 'subgraph', name: 'product subgraph', stop: () => product.close() });

    const user = await startUserSubgraph(
      userSubgraphDeps(config, { ...infrastructure, metrics: createMetrics(serviceRegistry('user')), logger: logger.child({ service: 'user' }), keys, demoSeller: DEMO_SELLER_ACCOUNT }),
      listenOn(config.ports.user),
    );
    stops.push({ kind: 'subgraph', name: 'user subgraph', stop: () => user.close() });

    const order = await startOrderSubgraph({ ...sliceDeps('order'), payments: new SimulatedPaymentProvider(), timeouts: config.orderTimeouts }, listenOn(config.ports.order));
    stops.push({ kind: 'subgraph', name: 'order subgraph', stop: () => order.close() });

    const recommendation = await startRecommendationSubgraph(sliceDeps('recommendation'), listenOn(config.ports.recommendation));
    stops.push({ kind: 'subgraph', name: 'recommendation subgraph', stop: () => recommendation.close() });

    const notification = await startNotificationSubgraph(
      { ...sliceDeps('notification'), publicUrl: config.publicUrl, channels: config.notificationChannels, dispatch: config.notificationDispatch, dispatcher: { lease: config.projectionLease }, ...options.notificationTransports },
      listenOn(config.ports.notification),
    );
    stops.push({ kind: 'subgraph', name: 'notification subgraph', stop: () => notification.close() });

    const projectorLogger = logger.child({ service: 'projector' });
    const projectors = [...readModels(config.recommendations), ...GATEWAY_FEEDS, relayProjection(infrastructure.bus, PUBLIC_CONTRACTS)].map((p) => new Projector(p, { ...infrastructure, metrics: projectorMetrics, logger: projectorLogger }, config.projections));
    for (const projector of projectors) {
      await projector.start();
      stops.push({ kind: 'projector', name: `projector ${projector.name}`, stop: () => projector.stop() });
    }
    const projectorHttp = await startProjectorHttp(
      { projectors, metrics: projectorMetrics, logger: projectorLogger, production: config.production, readiness: infrastructure.readiness, ...(config.adminToken && { adminToken: config.adminToken }) },
      listenOn(config.ports.projector),
    );
    stops.push({ kind: 'projector http', name: 'projector http', stop: () => projectorHttp.close() });

    // Idempotent: product ids derive from SKUs, so a product already there is left alone.
    if (config.seedDemoData) await seedDemoCatalog(product.service, logger);

    // The storefront's bundle, (re)built when a source is newer (about 100 ms); the gateway serves it at `/`.
    let storefront: string | undefined;
    try {
      storefront = await ensureStorefront();
    } catch (error) {
      logger.error({ err: error }, 'the storefront could not be built; the gateway serves GraphQL only');
    }

    const gateway = await startGateway(
      {
        subgraphs: [
          { name: 'product', url: product.url },
          { name: 'order', url: order.url },
          { name: 'user', url: user.url },
          { name: 'recommendation', url: recommendation.url },
          { name: 'notification', url: notification.url },
        ],
        logger: logger.child({ service: 'gateway' }),
        metrics: createMetrics(serviceRegistry('gateway')),
        auth: keys,
        limits: config.limits,
        subscriptions: config.subscriptions,
        limiter: infrastructure.limiter,
        corsOrigins: config.corsOrigins,
        coalesceReads: config.coalesceReads,
        // The projector runs in this process: its pub/sub (in-process, or Redis) carries its invalidations.
        ...(config.responseCache.enabled !== 'off' && { responseCache: { pubsub: infrastructure.pubsub, maxBytes: config.responseCache.maxBytes } }),
        production: config.production,
        ...(storefront && { storefront }),
      },
      listenOn(config.ports.gateway),
    );
    stops.push({ kind: 'gateway', name: 'gateway', stop: () => gateway.close() });

    return {
      gatewayUrl: gateway.url,
      productUrl: product.url,
      orderUrl: order.url,
      userUrl: user.url,
      recommendationUrl: recommendation.url,
      notificationUrl: notification.url,
      projectorUrl: `http://${config.host}:${projectorHttp.port}`,
      infrastructure,
      projectors,
      logger,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
