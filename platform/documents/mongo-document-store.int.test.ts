import { MongoClient } from 'mongodb';
import { afterAll } from 'vitest';
import { createLogger } from '../logging.js';
import { freshMongoUrl, withServer } from '../testing/servers.js';
import { documentStoreContract } from './document-store.contract.js';
import { MongoDocumentStore } from './mongo-document-store.js';

withServer('MONGODB_URL', 'DocumentStore contract: MongoDB', (base) => {
  const { url, database } = freshMongoUrl(base);
  afterAll(async () => {
    const client = await MongoClient.connect(url);
    await client.db(database).dropDatabase();
    await client.close();
  });
  documentStoreContract('MongoDB', () => MongoDocumentStore.connect(url, createLogger('test', 'silent')));
});
