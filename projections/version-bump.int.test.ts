import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../platform/cache/memory-cache.js';
import type { Collection, Doc, DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import type { RunningService } from '../platform/graphql/service.js';
import { createLogger } from '../platform/logging.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { MemoryPubSub } from '../platform/pubsub/memory-pubsub.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql } from '../platform/testing/graphql-client.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { catalogProjection } from '../subgraphs/product/catalog/projection.js';
import type { ProductDoc } from '../subgraphs/product/catalog/read-model.js';
import type { ProductService } from '../subgraphs/product/service.js';
import { startProductSubgraph } from '../subgraphs/product/server.js';
import type { Projection } from './projection.js';
import { Projector } from './projector.js';
import { liveVersion } from './versions.js';

const V2 = ' (v2)';

/** Version 2 of the catalog: the same documents, each name marked, so an answer tells which version built it. */
function catalogV2(gate: Promise<void>): Projection {
  const mark = <T extends Doc>(doc: T): T => {
    const product = doc as unknown as ProductDoc;
    return (product.name.endsWith(V2) ? doc : { ...product, name: `${product.name}${V2}` }) as unknown as T;
  };
  const marking = <T extends Doc>(collection: Collection<T>): Collection<T> => ({
    get: (id) => collection.get(id),
    getMany: (ids) => collection.getMany(ids),
    upsertIfNewer: (doc, position) => collection.upsertIfNewer(mark(doc), position),
    deleteIfNewer: (id, position) => collection.deleteIfNewer(id, position),
    writeManyIfNewer: (writes) => collection.writeManyIfNewer(writes.map((w) => ({ ...w, doc: w.doc && mark(w.doc) }))),
    find: (options) => collection.find(options),
    count: (filter) => collection.count(filter),
    replaceIf: (doc, position, expected) => collection.replaceIf(doc, position, expected),
  });
  return {
    ...catalogProjection,
    version: 2,
    apply: async (event, target) => {
      await gate;
      return catalogProjection.apply(event, { collection: <T extends Doc>(name: string) => marking(target.collection<T>(name)) });
    },
  };
}

const logger = createLogger('test', 'silent');
const seller = { userId: randomUUID(), role: 'SELLER' as const };

/**
 * The product subgraph reads the catalog through `reader`; the projector writes it through
 * `writer`: on MongoDB two connections (two processes' view of the live collection), embedded the
 * same store.
 */
versionBumpSuite('embedded documents', () => {
  const store = new MemoryDocumentStore();
  return Promise.resolve({ writer: store, reader: store });
});
withServer('MONGODB_URL', 'a catalog version bump on MongoDB', (url) =>
  versionBumpSuite('MongoDB', async () => {
    const fresh = freshMongoUrl(url);
    const drop = async () => {
      const client = await MongoClient.connect(fresh.url);
      await client.db(fresh.database).dropDatabase();
      await client.close();
    };
    return { writer: await MongoDocumentStore.connect(fresh.url, logger), reader: await MongoDocumentStore.connect(fresh.url, logger), drop };
  }),
);

function versionBumpSuite(store: string, openDocuments: () => Promise<{ writer: DocumentStore; reader: DocumentStore; drop?: () => Promise<void> }>) {
  describe(`a catalog version bump (${store})`, () => {
    let dir: string;
    let events: EventStore;
    let writer: DocumentStore;
    let reader: DocumentStore;
    let drop: (() => Promise<void>) | undefined;
    let subgraph: RunningService & { service: ProductService };
    const cache = new MemoryCache();
    const projectors: Projector[] = [];
    let stopQueries = () => Promise.resolve();

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'version-bump-'));
      events = await FileEventStore.open(dir, { fsync: false });
      ({ writer, reader, drop } = await openDocuments());
      const ports = { events, documents: reader, cache, pubsub: new MemoryPubSub(), logger, metrics: createMetrics(serviceRegistry('product', { processMetrics: false })) };
      subgraph = await startProductSubgraph({ ...ports, internalSecret: new TextEncoder().encode('s'.repeat(32)) }, { port: 0, host: '127.0.0.1' });
    });
    afterEach(async () => {
      await stopQueries();
      for (const p of projectors.splice(0)) await p.stop();
      await subgraph.close();
      await events.close();
      await writer.close();
      if (reader !== writer) await reader.close();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    const projector = (projection: Projection) => {
      const p = new Projector(projection, { events, documents: writer, cache, pubsub: new MemoryPubSub(), logger, metrics: createMetrics(serviceRegistry('projector', { processMetrics: false })) }, { lagIntervalMs: 50 });
      projectors.push(p);
      return p;
    };

    it('rebuilds while products are queried in a loop: no query error, every answer wholly v1 or wholly v2 (never a mix, never empty), and all v2 after the switch', async () => {
      const products = 8;
      for (let i = 0; i < products; i++) {
        await subgraph.service.create({ sku: `V-${randomUUID().slice(0, 8)}`, name: `Product ${i}`, category: 'c', description: null, price: { amount: 100 + i, currency: 'EUR' }, initialStock: i }, seller);
      }
      const v1 = projector(catalogProjection);
      await v1.start();
      await v1.waitFor(await events.headPosition());
      await v1.stop();

      const answers: { names: string[]; errors: unknown[] | undefined }[] = [];
      let querying = true;
      const queries = (async () => {
        while (querying) {
          try {
            const r = await graphql<{ products: { totalCount: number; edges: { node: { name: string } }[] } }>(subgraph.url, '{ products(first: 50) { totalCount edges { node { name } } } }');
            answers.push({ names: r.data?.products.edges.map((e) => e.node.name) ?? [], errors: r.errors });
          } catch (error) {
            answers.push({ names: [], errors: [error] });
          }
        }
      })();
      stopQueries = async () => {
        querying = false;
        await queries;
      };

      let open = () => undefined as void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const v2 = projector(catalogV2(gate));
      await v2.start();
      await eventually(() => expect(v2.health.reason).toMatch(/^rebuilding the read model aside for version 2/));
      const during = answers.length;
      await eventually(() => expect(answers.length).toBeGreaterThan(during + 10)); // the v1 model answers while the rebuild is held
      open();
      await eventually(() => expect(v2.running).toBe(true));
      await eventually(() => expect(answers[answers.length - 1]?.names[0]).toMatch(/ \(v2\)$/));
      const switched = answers.length;
      await eventually(() => expect(answers.length).toBeGreaterThan(switched + 10));
      await stopQueries();

      expect(answers.filter((a) => a.errors !== undefined)).toEqual([]);
      const versionOf = (a: { names: string[] }) => {
        const marked = a.names.filter((n) => n.endsWith(V2)).length;
        return marked === 0 ? 'v1' : marked === a.names.length ? 'v2' : 'mixed';
      };
      for (const answer of answers) expect(answer.names).toHaveLength(products);
      const versions = answers.map(versionOf);
      expect(versions).not.toContain('mixed');
      const firstV2 = versions.indexOf('v2');
      expect(firstV2).toBeGreaterThan(during);
      expect(versions.slice(0, firstV2).every((v) => v === 'v1')).toBe(true);
      expect(versions.slice(firstV2).every((v) => v === 'v2')).toBe(true); // atomic and for good: never back to v1
      expect(await liveVersion(reader, catalogProjection)).toBe(2);
    });
  });
}
