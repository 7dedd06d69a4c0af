import { closeConsumers, startConsumers, type Bus } from '../../platform/bus/bus.js';
import { MemoryCache } from '../../platform/cache/memory-cache.js';
import type { DocumentStore } from '../../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../../platform/documents/memory-document-store.js';
import type { EventStore } from '../../platform/event-store/event-store.js';
import type { Logger } from '../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import type { PubSub } from '../../platform/pubsub/pubsub.js';
import { MemoryPubSub } from '../../platform/pubsub/memory-pubsub.js';
import { Projector } from '../../projections/projector.js';
import { PUBLIC_CONTRACTS } from '../../projections/registry.js';
import { relayProjection } from '../../projections/relay.js';
import { startReservationConsumer } from '../product/reservations.js';
import { ProductService, type ProductServiceDeps } from '../product/service.js';
import { SimulatedPaymentProvider, type PaymentProvider } from './payments.js';
import { ordersProjection } from './read-model/projection.js';
import { startReservationReplies } from './reservation-replies.js';
import { OrderService, type OrderServiceDeps } from './service.js';

export interface Saga {
  products: ProductService;
  orders: OrderService;
  relay: Projector;
  pubsub: PubSub;
  stop: () => Promise<void>;
}

/**
 * Both halves of the order saga in one process, without HTTP: the product service with its
 * reservation consumer, the order service with its replies consumer, the relay between them and
 * the orders read model (whose status notifications a subscription would see). For tests and
 * benchmarks; production runs the same pieces in their own processes.
 */
export async function startSaga(deps: {
  bus: Bus;
  events: EventStore;
  logger: Logger;
  documents?: DocumentStore;
  pubsub?: PubSub;
  payments?: PaymentProvider;
  paymentRetry?: OrderServiceDeps['paymentRetry'];
  timeouts?: OrderServiceDeps['timeouts'];
  /** Both services' clock (default: the system clock). */
  clock?: () => Date;
  productStates?: ProductServiceDeps['streamStates'];
}): Promise<Saga> {
  const clock = deps.clock ?? (() => new Date());
  const metrics = () => createMetrics(serviceRegistry('saga', { processMetrics: false }));
  const pubsub = deps.pubsub ?? new MemoryPubSub();
  const ports = { events: deps.events, documents: deps.documents ?? new MemoryDocumentStore(), cache: new MemoryCache(), pubsub, logger: deps.logger };
  const products = new ProductService({ ...ports, metrics: metrics(), clock, ...(deps.productStates && { streamStates: deps.productStates }) });
  const orders = new OrderService({
    ...ports,
    metrics: metrics(),
    clock,
    payments: deps.payments ?? new SimulatedPaymentProvider(),
    ...(deps.paymentRetry && { paymentRetry: deps.paymentRetry }),
    ...(deps.timeouts && { timeouts: deps.timeouts }),
  });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  };
  try {
    const consumers = await startConsumers([() => startReservationConsumer(deps.bus, products, deps.logger), () => startReservationReplies(deps.bus, orders)]);
    stops.push(() => closeConsumers(consumers));
    const readModel = new Projector(ordersProjection, { ...ports, metrics: metrics() });
    await readModel.start();
    stops.push(() => readModel.stop());
    const relay = new Projector(relayProjection(deps.bus, PUBLIC_CONTRACTS), { ...ports, metrics: metrics() });
    await relay.start();
    stops.push(() => relay.stop());
    return { products, orders, relay, pubsub, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
