/**
 * A realistic event log, appended directly through the event store port in large batches (the
 * services would take minutes to write a million events on this machine): the events the
 * product and order services write for a catalog and the order saga, with the same types and
 * data shapes, interleaved as concurrent customers interleave them.
 *
 * - Catalog: PRODUCTS products (ProductCreated), then now and then a restock or a price change.
 * - Orders, CONCURRENT in flight at any moment, each going through the saga: OrderPlaced (1-3
 *   lines, popular products more often), StockReserved per line (product streams),
 *   OrderLineReserved per line, OrderConfirmed; then 70 % OrderPaid + StockSold per line,
 *   10 % OrderCancelled + StockReleased per line, 5 % rejected instead of confirmed
 *   (StockReservationRejected, OrderRejected, StockReleased), the rest left confirmed.
 *   About 9 events per order, 2/3 of them order events.
 *
 * Deterministic for a seed (ids included), so a 100k log is the first 100k events of the 1M one.
 */
import { createHash } from 'node:crypto';
import type { EventStore, NewEvent } from '../../platform/event-store/event-store.js';
import { SeededRandom } from '../../platform/testing/seeded-random.js';

export interface WorkloadOptions {
  seed?: number;
  products?: number;
  concurrent?: number;
  /** Appends in flight at once (one group commit in the embedded store). */
  appendBatch?: number;
  onProgress?: (appended: number) => void;
}

export interface Workload {
  /** Appends about `events` more events (whole saga steps), continuing the orders in flight. */
  append(store: EventStore, events: number): Promise<number>;
  readonly orders: number;
  readonly products: number;
}

/** `events` events of a new workload into `store`. */
export async function appendWorkload(store: EventStore, options: WorkloadOptions & { events: number }): Promise<{ events: number; orders: number; products: number }> {
  const workload = createWorkload(options);
  const events = await workload.append(store, options.events);
  return { events, orders: workload.orders, products: workload.products };
}

interface Step {
  stream: string;
  events: NewEvent[];
}

export function createWorkload(options: WorkloadOptions = {}): Workload {
  const rng = new SeededRandom(options.seed ?? 42);
  const productCount = options.products ?? 200;
  const concurrent = options.concurrent ?? 40;
  const appendBatch = options.appendBatch ?? 2000;
  let n = 0;
  const uuid = () => {
    const h = createHash('sha1').update(`${rng.seed}:${n++}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  let clock = Date.UTC(2026, 10, 1);
  const at = () => new Date((clock += rng.int(1, 20))).toISOString();
  const correlation = uuid();
  const event = (type: string, data: unknown, actor: string): NewEvent => ({
    id: uuid(),
    type,
    data,
    metadata: { correlationId: correlation, causationId: correlation, actor, occurredAt: new Date(clock).toISOString(), schemaVersion: 1 },
  });

  const sellers = Array.from({ length: 10 }, uuid);
  const customers = Array.from({ length: 2000 }, uuid);
  const products = Array.from({ length: productCount }, (_, i) => ({ id: uuid(), price: rng.int(100, 9999), seller: sellers[i % sellers.length]!, stock: 1_000_000_000 }));
  const pickProduct = () => products[Math.floor(productCount * rng.next() ** 2)]!; // popular products more often

  let store: EventStore | undefined;
  let queue: Step[] = [];
  let written = 0;
  const flush = async (force: boolean) => {
    if (!store) throw new Error('no store');
    if (queue.length < appendBatch && !force) return;
    const steps = queue;
    queue = [];
    const into = store;
    await Promise.all(steps.map((s) => into.appendToStream(s.stream, s.events, { expectedRevision: 'any' })));
    written += steps.reduce((sum, s) => sum + s.events.length, 0);
    options.onProgress?.(written);
  };
  let planned = 0;
  const push = async (stream: string, ...events: NewEvent[]) => {
    queue.push({ stream, events });
    planned += events.length;
    await flush(false);
  };

  // Each order is a generator of steps; CONCURRENT of them advance in turn.
  let orders = 0;
  function* order(): Generator<[string, NewEvent[]]> {
    orders++;
    const orderId = uuid();
    const customer = rng.pick(customers);
    const lines = new Map<string, { product: (typeof products)[number]; quantity: number }>();
    for (let i = rng.int(1, 3); i > 0; i--) {
      const product = pickProduct();
      lines.set(product.id, { product, quantity: rng.int(1, 3) });
    }
    const items = [...lines.values()].map((l) => ({ productId: l.product.id, quantity: l.quantity }));
    yield [`order-${orderId}`, [event('OrderPlaced', { orderId, customerId: customer, items, idempotencyKey: rng.chance(0.3) ? uuid() : null, placedAt: at() }, customer)]];
    const system = 'system:saga';
    if (rng.chance(0.05)) {
      const [first, ...rest] = [...lines.values()];
      for (const l of rest) {
        l.product.stock -= l.quantity;
        yield [`product-${l.product.id}`, [event('StockReserved', { productId: l.product.id, orderId, quantity: l.quantity, unitPrice: { amount: l.product.price, currency: 'EUR' }, sellerId: l.product.seller, stock: l.product.stock, reservedAt: at() }, system)]];
      }
      yield [`product-${first!.product.id}`, [event('StockReservationRejected', { productId: first!.product.id, orderId, quantity: first!.quantity, reason: 'INSUFFICIENT_STOCK', available: 0, rejectedAt: at() }, system)]];
      yield [`order-${orderId}`, [event('OrderRejected', { orderId, reason: 'not enough stock', productId: first!.product.id, items, rejectedAt: at() }, system)]];
      for (const l of rest) {
        l.product.stock += l.quantity;
        yield [`product-${l.product.id}`, [event('StockReleased', { productId: l.product.id, orderId, quantity: l.quantity, stock: l.product.stock, releasedAt: at() }, system)]];
      }
      return;
    }
    for (const l of lines.values()) {
      l.product.stock -= l.quantity;
      yield [`product-${l.product.id}`, [event('StockReserved', { productId: l.product.id, orderId, quantity: l.quantity, unitPrice: { amount: l.product.price, currency: 'EUR' }, sellerId: l.product.seller, stock: l.product.stock, reservedAt: at() }, system)]];
    }
    for (const l of lines.values()) {
      yield [`order-${orderId}`, [event('OrderLineReserved', { orderId, productId: l.product.id, unitPrice: { amount: l.product.price, currency: 'EUR' }, sellerId: l.product.seller, reservedAt: at() }, system)]];
    }
    const total = [...lines.values()].reduce((sum, l) => sum + l.product.price * l.quantity, 0);
    yield [`order-${orderId}`, [event('OrderConfirmed', { orderId, total: { amount: total, currency: 'EUR' }, confirmedAt: at() }, system)]];
    const outcome = rng.next();
    if (outcome < 0.7) {
      yield [`order-${orderId}`, [event('OrderPaid', { orderId, chargeId: uuid(), amount: { amount: total, currency: 'EUR' }, idempotencyKey: null, items, paidAt: at() }, customer)]];
      for (const l of lines.values()) yield [`product-${l.product.id}`, [event('StockSold', { productId: l.product.id, orderId, quantity: l.quantity, soldAt: at() }, system)]];
    } else if (outcome < 0.8) {
      yield [`order-${orderId}`, [event('OrderCancelled', { orderId, cancelledBy: customer, refundId: null, items, cancelledAt: at() }, customer)]];
      for (const l of lines.values()) {
        l.product.stock += l.quantity;
        yield [`product-${l.product.id}`, [event('StockReleased', { productId: l.product.id, orderId, quantity: l.quantity, stock: l.product.stock, releasedAt: at() }, system)]];
      }
    }
  }

  const inFlight: Generator<[string, NewEvent[]]>[] = [];
  let created = false;
  return {
    get orders() {
      return orders;
    },
    products: productCount,
    async append(into: EventStore, events: number): Promise<number> {
      store = into;
      const goal = planned + events;
      const writtenBefore = written;
      if (!created) {
        created = true;
        for (const p of products) {
          await push(`product-${p.id}`, event('ProductCreated', { productId: p.id, sku: `SKU-${p.id.slice(0, 8)}`, name: `Product ${p.id.slice(0, 6)}`, description: rng.chance(0.5) ? 'A fine thing' : null, category: rng.pick(['home', 'kitchen', 'books', 'garden']), price: { amount: p.price, currency: 'EUR' }, initialStock: p.stock, sellerId: p.seller, createdAt: at() }, p.seller));
        }
      }
      while (planned < goal) {
        while (inFlight.length < concurrent) inFlight.push(order());
        const i = rng.int(0, inFlight.length - 1);
        const step = inFlight[i]!.next();
        if (step.done) {
          inFlight.splice(i, 1);
          continue;
        }
        await push(step.value[0], ...step.value[1]);
        if (rng.chance(0.004)) {
          const p = pickProduct();
          if (rng.chance(0.5)) {
            p.stock += 100;
            await push(`product-${p.id}`, event('ProductRestocked', { productId: p.id, quantity: 100, stock: p.stock, restockedAt: at() }, p.seller));
          } else {
            p.price = rng.int(100, 9999);
            await push(`product-${p.id}`, event('ProductUpdated', { productId: p.id, changes: { price: { amount: p.price, currency: 'EUR' } }, updatedAt: at() }, p.seller));
          }
        }
      }
      await flush(true);
      return written - writtenBefore;
    },
  };
}
