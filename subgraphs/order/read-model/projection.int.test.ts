import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../platform/bus/memory-bus.js';
import { MemoryCache } from '../../../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../../../platform/documents/memory-document-store.js';
import { FileEventStore } from '../../../platform/event-store/file-event-store.js';
import { createLogger } from '../../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../../platform/pubsub/memory-pubsub.js';
import { eventually } from '../../../platform/testing/eventually.js';
import { Projector } from '../../../projections/projector.js';
import type { Actor } from '../decider.js';
import { startSaga } from '../saga-harness.js';
import { ordersProjection } from './projection.js';
import { ORDERS, type OrderDoc } from './read-model.js';

describe('orders read model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orders-rm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rebuilds from the events to exactly the live documents, and ignores events already applied', async () => {
    const logger = createLogger('orders-rm', 'silent');
    const events = await FileEventStore.open(dir, { fsync: false });
    const bus = new MemoryBus();
    const live = new MemoryDocumentStore();
    const saga = await startSaga({ bus, events, logger, documents: live });
    try {
      const seller: Actor = { userId: randomUUID(), role: 'SELLER' };
      const customer: Actor = { userId: randomUUID(), role: 'CUSTOMER' };
      const p = await saga.products.create({ sku: `RM-${randomUUID().slice(0, 8)}`, name: 'Read model', category: 'c', description: null, price: { amount: 300, currency: 'EUR' }, initialStock: 3 }, seller);
      const placed = await Promise.all([1, 1, 2, 1].map((quantity) => saga.orders.place({ items: [{ productId: p._id, quantity }] }, customer)));
      const status = async (id: string) => (await live.collection<OrderDoc>(ORDERS).get(id))?.status;
      await eventually(async () => expect(await Promise.all(placed.map((o) => status(o._id)))).not.toContain('PENDING'));
      const confirmed: string[] = [];
      for (const o of placed) if ((await status(o._id)) === 'CONFIRMED') confirmed.push(o._id);
      expect(confirmed.length).toBeGreaterThanOrEqual(2);
      await saga.orders.pay(confirmed[0]!, { token: 'tok_visa' }, customer);
      await saga.orders.cancel(confirmed[1]!, customer);
      const head = await events.headPosition();
      await eventually(async () => expect(await status(confirmed[1]!)).toBe('CANCELLED'));

      const page = await live.collection<OrderDoc>(ORDERS).find({ first: 100, sort: [['createdAt', -1]] });
      expect(page.items).toHaveLength(4);
      const rebuilt = new MemoryDocumentStore();
      const deps = { events, documents: rebuilt, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: createMetrics(serviceRegistry('test', { processMetrics: false })), logger };
      const projector = new Projector(ordersProjection, deps, { checkpointEveryMs: 0 });
      await projector.start();
      await projector.waitFor(head);
      await projector.stop();
      expect(await rebuilt.collection<OrderDoc>(ORDERS).getMany(placed.map((o) => o._id))).toEqual(await live.collection<OrderDoc>(ORDERS).getMany(placed.map((o) => o._id)));

      // Delivered again (at-least-once, replays): nothing changes.
      const all = [];
      for await (const e of events.subscribeToAll({ from: 'start' })) {
        all.push(e);
        if (e.position >= head) break;
      }
      for (const e of all.filter((x) => ordersProjection.handles(x))) expect((await ordersProjection.apply(e, { collection: (name) => rebuilt.collection(name) })).changed).toBe(false);
    } finally {
      await saga.stop();
      await bus.close();
      await events.close();
    }
  });
});
