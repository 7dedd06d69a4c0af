import { orderPublicEvents } from '../subgraphs/order/public-events.js';
import { ordersProjection } from '../subgraphs/order/read-model/projection.js';
import { catalogProjection } from '../subgraphs/product/catalog/projection.js';
import { productPublicEvents } from '../subgraphs/product/public-events.js';
import type { Projection } from './projection.js';
import type { PublicContract } from './relay.js';

/** Every read model the projector maintains (and the replay CLI can rebuild). */
export const READ_MODELS: readonly Projection[] = [catalogProjection, ordersProjection];

/** What the integration relay publishes: each slice's public events. */
export const PUBLIC_CONTRACTS: readonly PublicContract[] = [productPublicEvents, orderPublicEvents];
