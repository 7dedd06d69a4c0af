import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { eventually } from '../testing/eventually.js';
import { freshMongoUrl, withServer } from '../testing/servers.js';
import { documentStoreContract } from './document-store.contract.js';
import type { Doc } from './document-store.js';
import { MongoDocumentStore } from './mongo-document-store.js';

withServer('MONGODB_URL', 'DocumentStore contract: MongoDB', (base) => {
  const { url, database } = freshMongoUrl(base);
  afterAll(async () => {
    const client = await MongoClient.connect(url);
    await client.db(database).dropDatabase();
    await client.close();
  });
  documentStoreContract('MongoDB', () => MongoDocumentStore.connect(url, createLogger('test', 'silent')));

  describe('collection versions on MongoDB', () => {
    it('switches collections together for a reader in another process, keeps the versions just replaced (readers may still be on them) and drops the ones before', async () => {
      const logger = createLogger('test', 'silent');
      const writer = await MongoDocumentStore.connect(url, logger);
      const reader = await MongoDocumentStore.connect(url, logger);
      const client = await MongoClient.connect(url);
      try {
        const [a, b] = ['set_a', 'set_b'];
        const physicals: string[][] = [];
        for (let round = 1; round <= 3; round++) {
          const versions = [await writer.createVersion<Doc & { round: number }>(a), await writer.createVersion<Doc & { round: number }>(b)];
          for (const v of versions) await v.collection.upsertIfNewer({ _id: 'x', round }, 1);
          await writer.activateTogether(versions);
          physicals.push(versions.map((v) => v.physicalName));
          await eventually(async () => expect((await reader.collection<Doc & { round: number }>(a).get('x'))?.round).toBe(round));
          expect((await reader.collection<Doc & { round: number }>(b).get('x'))?.round).toBe(round); // resolved with a, in one read of the pointers
        }
        const names = (await client.db(database).listCollections().toArray()).map((c) => c.name).filter((n) => n.startsWith('set_'));
        expect(names.sort()).toEqual([...physicals[1]!, ...physicals[2]!].sort());
      } finally {
        await client.close();
        await writer.close();
        await reader.close();
      }
    });
  });
});
