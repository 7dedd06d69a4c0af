import { orderPublicEvents } from '../subgraphs/order/public-events.js';
import { userPublicEvents } from '../subgraphs/user/public-events.js';
import { ordersProjection } from '../subgraphs/order/read-model/projection.js';
import { catalogProjection } from '../subgraphs/product/catalog/projection.js';
import { productPublicEvents } from '../subgraphs/product/public-events.js';
import { userProfilesFeed } from '../subgraphs/user/profile-feed.js';
import { recommendationProjections } from '../subgraphs/recommendation/read-model/projections.js';
import { recommendationPublicEvents } from '../subgraphs/recommendation/public-events.js';
import { productAnalyticsProjection } from '../subgraphs/product/analytics/projection.js';
import { notificationProjections } from '../subgraphs/notification/read-model/projections.js';
import type { DocumentStore } from '../platform/documents/document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import { checkpointPosition, lagBehind, readModelReadiness } from './lag.js';
import type { Projection } from './projection.js';
import type { PublicContract } from './relay.js';

/**
 * Every read model the projector maintains (and the replay CLI can rebuild), as configured (the
 * trending half-life of the recommendation read models).
 */
export function readModels(options: { trendingHalfLifeHours?: number } = {}): Projection[] {
  return [catalogProjection, ordersProjection, ...recommendationProjections(options.trendingHalfLifeHours), productAnalyticsProjection, ...notificationProjections()];
}

/** The read models with the default configuration (tests, digests). */
export const READ_MODELS: readonly Projection[] = readModels();

/** Projections whose only consumer is the gateway's response cache (their announcements); no service reads them. */
export const GATEWAY_FEEDS: readonly Projection[] = [userProfilesFeed];

/** What the integration relay publishes: each slice's public events. */
export const PUBLIC_CONTRACTS: readonly PublicContract[] = [productPublicEvents, orderPublicEvents, userPublicEvents, recommendationPublicEvents];

/** The read models each query service reads (its readiness follows their lag). */
const READ_BY: Readonly<Record<string, readonly Projection[]>> = { product: [catalogProjection], order: [ordersProjection], recommendation: recommendationProjections(), notification: notificationProjections() };

/**
 * Readiness checks of the read models a service reads: each fails, naming the read model and its
 * lag, while it is further behind the event store than `maxLagSeconds` (a restarted process is
 * thus ready only once its read models have caught up).
 */
export function readModelChecks(service: string, ports: { documents: DocumentStore; events: EventStore }, maxLagSeconds: number, metrics?: Pick<Metrics, 'watchReadModelLag'>): Record<string, () => Promise<void>> {
  // Their lag, exported by this service as it sees it (storefront_read_model_lag_*): it stays
  // measurable, and alerts fire, when the projector is down or hung and its own gauges go silent.
  metrics?.watchReadModelLag(async () => {
    const lags = await Promise.all((READ_BY[service] ?? []).map(async (projection) => [projection.name, await lagBehind(ports.events, await checkpointPosition(ports.documents, projection))] as const));
    return Object.fromEntries(lags.map(([name, lag]) => [name, { events: lag.events, seconds: lag.seconds }]));
  });
  return Object.fromEntries((READ_BY[service] ?? []).map((projection) => [`read-model:${projection.name}`, readModelReadiness(ports.documents, ports.events, projection, maxLagSeconds)]));
}
