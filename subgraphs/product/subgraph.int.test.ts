import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../../platform/documents/memory-document-store.js';
import { FileEventStore } from '../../platform/event-store/file-event-store.js';
import type { RunningService } from '../../platform/graphql/service.js';
import { createLogger } from '../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../platform/pubsub/memory-pubsub.js';
import { graphql } from '../../platform/testing/graphql-client.js';
import { Projector } from '../../projections/projector.js';
import { catalogProjection } from './catalog/projection.js';
import { startProductSubgraph } from './server.js';
import type { ProductService } from './service.js';

describe('product subgraph (federation surface)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'product-subgraph-'));
  let events: FileEventStore;
  let subgraph: RunningService & { service: ProductService };
  let projector: Projector;

  beforeAll(async () => {
    events = await FileEventStore.open(dir, { fsync: false });
    const infra = { events, documents: new MemoryDocumentStore(), cache: new MemoryCache(), pubsub: new MemoryPubSub(), logger: createLogger('test', 'silent') };
    subgraph = await startProductSubgraph({ ...infra, metrics: createMetrics(serviceRegistry('product', { processMetrics: false })), internalSecret: new TextEncoder().encode('s'.repeat(32)) }, { port: 0, host: '127.0.0.1' });
    projector = new Projector(catalogProjection, { ...infra, metrics: createMetrics(serviceRegistry('projector', { processMetrics: false })) });
    await projector.start();
  });
  afterAll(async () => {
    await projector.stop();
    await subgraph.close();
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves Product references through _entities, in order, null for unknown ids', async () => {
    const seller = { userId: randomUUID(), role: 'SELLER' as const };
    const a = await subgraph.service.create({ sku: `E-${randomUUID().slice(0, 8)}`, name: 'Entity A', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
    const b = await subgraph.service.create({ sku: `E-${randomUUID().slice(0, 8)}`, name: 'Entity B', category: 'c', description: null, price: { amount: 200, currency: 'EUR' }, initialStock: 2 }, seller);
    await projector.waitFor(await events.headPosition());
    const r = await graphql<{ _entities: ({ id: string; name: string; seller: { id: string } } | null)[] }>(
      subgraph.url,
      'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id name seller { id } } } }',
      { reps: [{ __typename: 'Product', id: b._id }, { __typename: 'Product', id: randomUUID() }, { __typename: 'Product', id: a._id }] },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data?._entities).toEqual([{ id: b._id, name: 'Entity B', seller: { id: seller.userId } }, null, { id: a._id, name: 'Entity A', seller: { id: seller.userId } }]);
  });

  it("resolves a seller's products through User references", async () => {
    const seller = { userId: randomUUID(), role: 'SELLER' as const };
    await subgraph.service.create({ sku: `U-${randomUUID().slice(0, 8)}`, name: 'Sold by U', category: 'c', description: null, price: { amount: 100, currency: 'EUR' }, initialStock: 1 }, seller);
    await projector.waitFor(await events.headPosition());
    const r = await graphql<{ _entities: { products: { totalCount: number; edges: { node: { name: string } }[] } }[] }>(
      subgraph.url,
      'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { products { totalCount edges { node { name } } } } } }',
      { reps: [{ __typename: 'User', id: seller.userId }] },
    );
    expect(r.data?._entities[0]?.products).toEqual({ totalCount: 1, edges: [{ node: { name: 'Sold by U' } }] });
  });
});
