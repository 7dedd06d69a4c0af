import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Bus, BusMessage, DeliveredMessage } from '../platform/bus/bus.js';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import { MemoryBus } from '../platform/bus/memory-bus.js';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { eventually } from '../platform/testing/eventually.js';
import { withServer } from '../platform/testing/servers.js';
import { PRODUCT_TOPIC, productPublicEvents } from '../subgraphs/product/public-events.js';
import { ProductService } from '../subgraphs/product/service.js';
import { Projector } from './projector.js';
import { relayProjection } from './relay.js';

function relaySuite(name: string, openBus: () => Promise<Bus>) {
  describe(`integration relay (${name})`, () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

    it('publishes public events keyed by aggregate, with the event id, and resumes from its checkpoint without repeating', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'relay-'));
      dirs.push(dir);
      const events = await FileEventStore.open(dir, { fsync: false });
      const bus = await openBus();
      const logger = createLogger('test', 'silent');
      const metrics = () => createMetrics(serviceRegistry('test', { processMetrics: false }));
      const documents = new MemoryDocumentStore();
      const deps = { events, documents, cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics: metrics(), logger };
      const service = new ProductService({ ...deps, metrics: metrics(), clock: () => new Date() });
      const seller = { userId: randomUUID(), role: 'SELLER' as const };
      const ours = new Set<string>();
      const received: DeliveredMessage[] = [];
      const consumer = await bus.consume({
        groupId: `relay-test-${randomUUID()}`,
        topics: [PRODUCT_TOPIC],
        handler: (m) => {
          if (ours.has(m.key)) received.push(m);
          return Promise.resolve();
        },
      });
      const create = async (tag: string) => {
        const p = await service.create({ sku: `R-${randomUUID().slice(0, 8)}`, name: tag, category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
        ours.add(p._id);
        return p;
      };
      try {
        const a = await create('A');
        const b = await create('B');
        await service.restock(a._id, 2, seller);
        await service.update(b._id, { description: 'internal detail only' }, null, seller);
        await service.update(b._id, { name: 'B2' }, null, seller);
        await service.discontinue(a._id, seller);

        const relay = new Projector(relayProjection(bus, [productPublicEvents]), deps, { checkpointEveryMs: 0 });
        await relay.start();
        await relay.waitFor(await events.headPosition());
        await relay.stop();
        await eventually(() => expect(received).toHaveLength(5), 60_000);
        const byKey = (key: string) => received.filter((m) => m.key === key).map((m) => m.type);
        expect(byKey(a._id)).toEqual(['ProductListed.v1', 'StockLevelChanged.v1', 'ProductDiscontinued.v1']);
        expect(byKey(b._id)).toEqual(['ProductListed.v1', 'ProductDetailsChanged.v1']); // the description-only change is internal
        expect(received.find((m) => m.type === 'StockLevelChanged.v1')?.value).toMatchObject({ productId: a._id, stock: 3, delta: 2, reason: 'RESTOCKED' });
        const stream = await events.readStream(`product-${a._id}`);
        expect(received.filter((m) => m.key === a._id).map((m) => m.id)).toEqual([stream[0]!.id, stream[1]!.id, stream[2]!.id]);

        const c = await create('C');
        const again = new Projector(relayProjection(bus, [productPublicEvents]), deps, { checkpointEveryMs: 0 });
        await again.start();
        await again.waitFor(await events.headPosition());
        await again.stop();
        await eventually(() => expect(received).toHaveLength(6), 60_000);
        expect(received[5]).toMatchObject({ key: c._id, type: 'ProductListed.v1' });
        expect(new Set(received.map((m) => m.id)).size).toBe(6); // nothing published twice
      } finally {
        await consumer.close();
        await bus.close();
        await events.close();
      }
    });
  });
}

relaySuite('embedded bus', () => Promise.resolve(new MemoryBus()));

describe('integration relay through a bus outage', () => {
  it('keeps publishing nothing twice while its subscription is restarted during the outage, and publishes every message once it is over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-outage-'));
    const events = await FileEventStore.open(dir, { fsync: false });
    // The bus is outside the relay: this one refuses every publish while `down`, as Kafka does
    // while it is away, and counts what it was asked to publish.
    const inner = new MemoryBus();
    let down = false;
    const published: string[] = [];
    const bus: Bus = Object.assign(Object.create(inner) as MemoryBus, {
      publish: async (topic: string, messages: readonly BusMessage[]) => {
        if (down) throw new Error('connect ECONNREFUSED (the broker is away)');
        await inner.publish(topic, messages);
        published.push(...messages.map((m) => m.id));
      },
    });
    const logger = createLogger('test', 'silent');
    const metrics = createMetrics(serviceRegistry('test', { processMetrics: false }));
    const deps = { events, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), metrics, logger };
    const service = new ProductService({ ...deps, metrics: createMetrics(serviceRegistry('test', { processMetrics: false })), clock: () => new Date() });
    const seller = { userId: randomUUID(), role: 'SELLER' as const };
    const relay = new Projector(relayProjection(bus, [productPublicEvents]), deps, { checkpointEveryMs: 0, stallSeconds: 0.2, lagIntervalMs: 50 });
    try {
      await relay.start();
      down = true;
      for (let i = 0; i < 20; i++) await service.create({ sku: `O-${i}-${randomUUID().slice(0, 6)}`, name: `P${i}`, category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
      // The watchdog restarts the stalled subscription several times while the bus is down.
      await eventually(async () => expect((await metrics.projectionRestarts.get()).values.reduce((n, v) => n + v.value, 0)).toBeGreaterThanOrEqual(3), 20_000);
      expect(published).toHaveLength(0);
      down = false;
      await relay.waitFor(await events.headPosition(), 20_000);
      expect(published).toHaveLength(20);
      expect(new Set(published).size).toBe(20);
    } finally {
      await relay.stop();
      await events.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
withServer('KAFKA_BROKERS', 'integration relay (Kafka)', (brokers) => {
  relaySuite('Kafka', () => KafkaBus.connect(brokers, { clientId: 'relay-test', logger: createLogger('test', 'silent') }));
});
