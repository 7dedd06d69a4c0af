import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeConsumers } from '../bus/bus.js';
import { MemoryBus } from '../bus/memory-bus.js';
import { loadState } from '../eventsourcing/command-handler.js';
import { FileEventStore } from '../event-store/file-event-store.js';
import { createLogger } from '../logging.js';
import { orderDecider, type Actor, type OrderStatus } from '../../subgraphs/order/decider.js';
import { orderStream } from '../../subgraphs/order/events.js';
import { startSaga } from '../../subgraphs/order/saga-harness.js';
import { seedDemoCatalog } from '../../subgraphs/product/demo-seed.js';
import { startNotificationConsumers } from '../../subgraphs/notification/server.js';
import { NotificationService } from '../../subgraphs/notification/service.js';
import { startRecommendationConsumers } from '../../subgraphs/recommendation/server.js';
import { RecommendationService } from '../../subgraphs/recommendation/service.js';
import { MemoryCache } from '../cache/memory-cache.js';
import { MemoryDocumentStore } from '../documents/memory-document-store.js';
import { createMetrics, serviceRegistry } from '../metrics/metrics.js';
import { MemoryPubSub } from '../pubsub/memory-pubsub.js';
import { SeededRandom } from './seeded-random.js';

export { SeededRandom };

export interface SagaWorkloadSummary {
  /** Events in the log when the workload ended (the log's head position). */
  head: number;
  products: number;
  orders: number;
  /** How many orders ended in each status. */
  statuses: Partial<Record<OrderStatus, number>>;
  elapsedMs: number;
}

const FAR = 10 * 365 * 24 * 3600; // timeouts that never fire while the workload runs

/**
 * Writes an event log through the real write paths into `dataDir` (the embedded event store's
 * directory, as `DATA_DIR`): the demo catalog, extra products, and `orders` orders through the
 * whole saga (the product and order services, the relay and both saga consumers on the embedded
 * bus, and the recommendation and notification services' consumers of the same events), in waves of `wave` concurrent customers: 1 to 3 lines each (now and then a product that
 * does not exist, so the order is rejected), most confirmed orders paid (some declined, some
 * after transient provider failures), some cancelled before or after payment, some paid ones
 * shipped; between waves restocks, price changes and now and then a discontinued product (so
 * later orders for it are rejected). Ends when the saga has settled (no event appended for a
 * while after the relay reached the head), so nothing is in flight in the log it leaves.
 */
export async function writeSagaWorkload(dataDir: string, options: { seed: number; orders: number; products?: number; wave?: number }): Promise<SagaWorkloadSummary> {
  const started = Date.now();
  const rng = new SeededRandom(options.seed);
  const logger = createLogger('workload', 'silent');
  const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
  const bus = new MemoryBus();
  const saga = await startSaga({ bus, events, logger, timeouts: { pendingSeconds: FAR, paymentSeconds: FAR } });
  const { products: catalog, orders: service, relay } = saga;
  // The recommendation and notification services record what they need from the same public
  // events (purchases and product facts; notifications raised), as the system does: a system
  // started on this log then appends nothing (when it does not dispatch: NOTIFICATION_DISPATCH=false).
  const ports = () => ({ events, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: createMetrics(serviceRegistry('workload', { processMetrics: false })), logger, clock: () => new Date() });
  const recommendations = new RecommendationService(ports());
  const notifications = new NotificationService({ ...ports(), internalSecret: new Uint8Array(32) });
  const consumers = await Promise.all([startRecommendationConsumers(bus, recommendations), startNotificationConsumers(bus, notifications)])
    .then((groups) => groups.flat())
    .catch(async (error: unknown) => {
      await saga.stop();
      throw error;
    });
  const statuses: Partial<Record<OrderStatus, number>> = {};
  const all: string[] = [];
  try {
    const seeded = await seedDemoCatalog(catalog, logger);
    const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
    const admin: Actor = { userId: randomUUID(), role: 'ADMIN' };
    const customers: Actor[] = Array.from({ length: 25 }, () => ({ userId: randomUUID(), role: 'CUSTOMER' }));
    const products: string[] = [];
    for (let i = 0; i < (options.products ?? 30); i++) {
      const p = await catalog.create(
        { sku: `WL-${options.seed}-${i}-${randomUUID().slice(0, 6)}`, name: `Workload item ${i}`, category: rng.pick(['home', 'kitchen', 'books']), description: rng.chance(0.5) ? `Item ${i}` : null, price: { amount: rng.int(100, 9999), currency: 'EUR' }, initialStock: rng.int(10, 60) },
        seller,
      );
      products.push(p._id);
    }
    const live = new Set(products);
    const statusOf = async (id: string) => (await loadState(events, orderDecider, orderStream(id))).status;
    const wave = options.wave ?? 20;
    while (all.length < options.orders) {
      const size = Math.min(wave, options.orders - all.length);
      const placed = await Promise.all(
        Array.from({ length: size }, async () => {
          const customer = rng.pick(customers);
          const lines = Array.from({ length: rng.int(1, 3) }, () => ({ productId: rng.chance(0.03) ? randomUUID() : rng.pick(products), quantity: rng.int(1, 3) }));
          return { id: (await service.place({ items: lines }, customer))._id, customer };
        }),
      );
      all.push(...placed.map((o) => o.id));
      // Every order of the wave answered (confirmed or rejected), from the order streams themselves.
      const deadline = Date.now() + 60_000;
      while ((await Promise.all(placed.map((o) => statusOf(o.id)))).includes('PENDING')) {
        if (Date.now() > deadline) throw new Error('the saga left orders PENDING for 60 s');
        await sleep(10);
      }
      await Promise.all(
        placed.map(async ({ id, customer }) => {
          if ((await statusOf(id)) !== 'CONFIRMED') return;
          const roll = rng.next();
          if (roll < 0.15) {
            await service.cancel(id, customer);
            return;
          }
          if (roll > 0.85) return; // left CONFIRMED, unpaid
          const token = rng.chance(0.08) ? 'tok_declined' : rng.chance(0.05) ? 'tok_flaky' : 'tok_visa';
          const paid = await service.pay(id, { token }, customer);
          if (paid.order.status !== 'PAID') return;
          if (rng.chance(0.3)) await service.ship(id, admin);
          else if (rng.chance(0.1)) await service.cancel(id, customer);
        }),
      );
      for (let i = 0; i < 3; i++) {
        const id = rng.pick([...live]);
        await catalog.restock(id, rng.int(1, 10), seller);
      }
      if (rng.chance(0.3)) await catalog.update(rng.pick([...live]), { price: { amount: rng.int(100, 9999), currency: 'EUR' } }, null, seller);
      if (rng.chance(0.05) && live.size > 10) {
        const id = rng.pick([...live]);
        await catalog.discontinue(id, seller);
        live.delete(id);
      }
    }
    // Settled: the relay has published everything and nothing more is appended (the releases and
    // sales that cancellations and payments cause, published and handled).
    // Every consumer group must also have handled every message (a handler retrying with backoff
    // would otherwise append after the workload ended, and the log would not be the one measured).
    for (let stable = 0; stable < 3; ) {
      const head = await events.headPosition();
      await relay.waitFor(head, 60_000);
      await sleep(150);
      stable = (await events.headPosition()) === head && bus.backlog === 0 ? stable + 1 : 0;
    }
    for (const id of all) {
      const status = await statusOf(id);
      if (status !== 'none') statuses[status] = (statuses[status] ?? 0) + 1;
    }
    return { head: await events.headPosition(), products: products.length + seeded, orders: all.length, statuses, elapsedMs: Date.now() - started };
  } finally {
    await closeConsumers(consumers);
    await saga.stop();
    await bus.close();
    await events.close();
  }
}
