import { documentStoreContract } from './document-store.contract.js';
import { MemoryDocumentStore } from './memory-document-store.js';

documentStoreContract('embedded in-memory', () => Promise.resolve(new MemoryDocumentStore()));
