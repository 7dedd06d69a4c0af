/**
 * Probe (not a test): `. scripts/servers/env.sh && npx tsx bench/compare-and-set.bench.ts`.
 * Whether the document store's `replaceIf` (compare-and-set) is atomic under concurrency: in each
 * round, CONTENDERS calls race to replace one document on the same expected state; more than one
 * winner in a round means two processes could both take what only one may (a webhook retry, a
 * projection lease). Runs on the embedded store and, with MONGODB_URL set, on it (FerretDB here).
 * Env: BENCH_ROUNDS (50), BENCH_CONTENDERS (5).
 */
import type { Doc, DocumentStore } from '../platform/documents/document-store.js';
import { MemoryDocumentStore } from '../platform/documents/memory-document-store.js';
import { MongoDocumentStore } from '../platform/documents/mongo-document-store.js';
import { createLogger } from '../platform/logging.js';
import { dropTestDatabase, freshMongoUrl } from '../platform/testing/servers.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const CONTENDERS = Number(process.env.BENCH_CONTENDERS ?? 5);

interface Claim extends Doc {
  owner: string;
}

async function probe(name: string, documents: DocumentStore): Promise<void> {
  const collection = documents.collection<Claim>('cas_probe');
  let rounds = 0;
  let extraWinners = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const id = `doc-${round}`;
    await collection.replaceIf({ _id: id, owner: 'none' }, 1, null);
    const won = await Promise.all(Array.from({ length: CONTENDERS }, (_, i) => collection.replaceIf({ _id: id, owner: `c${i}` }, 2, { owner: 'none' })));
    const winners = won.filter(Boolean).length;
    if (winners !== 1) rounds++;
    extraWinners += Math.max(0, winners - 1);
  }
  console.log(`${name.padEnd(12)} rounds with other than exactly one winner: ${rounds}/${ROUNDS} (extra winners: ${extraWinners}; ${CONTENDERS} contenders per round)`);
}

async function main() {
  await probe('embedded', new MemoryDocumentStore());
  if (process.env.MONGODB_URL) {
    const { url } = freshMongoUrl(process.env.MONGODB_URL);
    const documents = await MongoDocumentStore.connect(url, createLogger('bench', 'silent'));
    try {
      await probe('MONGODB_URL', documents);
    } finally {
      await documents.close();
      await dropTestDatabase(url);
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
