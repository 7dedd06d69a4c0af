import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collection, Doc, DocumentStore, ManyWrite } from '../platform/documents/document-store.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import type { RecordedEvent } from '../platform/event-store/event-store.js';
import { digestDifference, readModelDigest } from '../platform/testing/read-model-hash.js';
import { writeSagaWorkload } from '../platform/testing/saga-workload.js';
import { freshMongoDocuments, memoryDocuments, readAllEvents, type OpenDocuments } from '../platform/testing/suite-stores.js';
import { withServer } from '../platform/testing/servers.js';
import { BatchTarget, DocumentMemory } from './batch-target.js';
import type { Projection } from './projection.js';
import { READ_MODELS } from './registry.js';

// A projector killed (SIGKILL) in the middle of a flush leaves part of a batch's writes in the
// store and its checkpoint where it was; the next holder of the lease applies the events again
// from that checkpoint (up to a second's worth before the batch, the checkpoint interval) with a
// memory of its own. Every read model must then end exactly as one clean pass: the takeover e2e
// test (test/projector-takeover.e2e.test.ts) caught product-analytics counting fewer sales than
// the clean pass when the kill fell between the flush of its lines and the flush of its figures.

/** Events per batch (a projector catching up takes up to 500; live, far fewer). */
const BATCH = 25;
const SEED = 424242;

/** The store, except that its writes stop for good after `budget` more documents: the process died mid-flush. */
function dyingAfter(store: DocumentStore, budget: number): DocumentStore {
  let left = budget;
  const documents = Object.create(store) as DocumentStore;
  documents.collection = <T extends Doc>(name: string): Collection<T> => {
    const inner = store.collection<T>(name);
    return {
      ...inner,
      writeManyIfNewer: async (writes: readonly ManyWrite<T>[]) => {
        const sent = writes.slice(0, Math.max(0, left));
        left -= sent.length;
        const applied = sent.length > 0 ? await inner.writeManyIfNewer(sent) : 0;
        if (sent.length < writes.length) throw new Error('killed in the middle of the flush');
        return applied;
      },
    };
  };
  return documents;
}

/** Applies `events` in batches, as the projector does (prefetch, apply, one flush per batch), into `documents`. */
async function project(projection: Projection, documents: DocumentStore, events: readonly RecordedEvent[], memory = new DocumentMemory()): Promise<void> {
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    const target = BatchTarget.over(documents, memory, projection.flushOrder);
    await target.prefetch(projection, batch);
    for (const event of batch) if (projection.handles(event)) await projection.apply(event, target);
    await target.flush();
  }
}

/** The writes a batch's flush sends, had everything before it been applied. */
async function writesOfBatch(projection: Projection, documents: DocumentStore, before: readonly RecordedEvent[], batch: readonly RecordedEvent[]): Promise<number> {
  const memory = new DocumentMemory();
  await project(projection, documents, before, memory);
  const target = BatchTarget.over(documents, memory, projection.flushOrder);
  await target.prefetch(projection, batch);
  for (const event of batch) if (projection.handles(event)) await projection.apply(event, target);
  return target.size;
}

function reapplyContract(name: string, open: OpenDocuments, cuts: (writes: number) => number[]): void {
  describe(`a batch cut short by a kill, applied again from the checkpoint by the next holder: ${name}`, () => {
    let dataDir: string;
    let events: RecordedEvent[];
    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'reapply-'));
      await writeSagaWorkload(dataDir, { seed: SEED, orders: 40, products: 8, wave: 10 });
      const store = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
      try {
        events = await readAllEvents(store);
      } finally {
        await store.close();
      }
    }, 120_000);
    afterAll(() => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    for (const projection of READ_MODELS) {
      it(`${projection.name}: ends as one clean pass wherever the flush was cut`, async () => {
        const handled = events.filter((e) => projection.handles(e));
        expect(handled.length, 'the workload has events for it').toBeGreaterThan(1);
        const clean = await open();
        const scratch = await open();
        try {
          await project(projection, clean.documents, events);
          const expected = await readModelDigest(clean.documents, [projection]);
          // The batch killed mid-flush: the one where most of its events are; the checkpoint a batch before it.
          const killedAt = Math.floor(events.indexOf(handled[Math.floor(handled.length / 2)]!) / BATCH) * BATCH;
          const checkpoint = Math.max(0, killedAt - BATCH);
          const batch = events.slice(killedAt, killedAt + BATCH);
          const writes = await writesOfBatch(projection, scratch.documents, events.slice(0, killedAt), batch);
          expect(writes, 'the batch writes something').toBeGreaterThan(0);
          for (const cut of cuts(writes)) {
            const run = await open();
            try {
              // The killed holder: everything up to the batch, then the batch's flush cut after `cut` documents.
              await project(projection, run.documents, events.slice(0, killedAt));
              await expect(project(projection, dyingAfter(run.documents, cut), batch)).rejects.toThrow('killed in the middle of the flush');
              // The next holder: from the checkpoint, with a memory of its own.
              await project(projection, run.documents, events.slice(checkpoint));
              const actual = await readModelDigest(run.documents, [projection]);
              expect(actual.hash, `cut after ${cut} of ${writes} documents:\n${digestDifference(expected, actual)}`).toBe(expected.hash);
            } finally {
              await run.drop();
            }
          }
        } finally {
          await clean.drop();
          await scratch.drop();
        }
      }, 300_000);
    }
  });
}

/** Every cut, on the embedded store. */
reapplyContract('embedded documents', memoryDocuments, (writes) => Array.from({ length: writes }, (_, i) => i));

/** A few cuts on FerretDB (a fresh database each): nothing written, a quarter, half and three quarters of the way. */
withServer('MONGODB_URL', 'a batch cut short, applied again: FerretDB', (mongo) => {
  reapplyContract('FerretDB', () => freshMongoDocuments(mongo), (writes) => [...new Set([0, Math.ceil(writes / 4), Math.ceil(writes / 2), Math.ceil((3 * writes) / 4)])].filter((n) => n < writes));
});
