import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { eventStoreContract } from './event-store.contract.js';
import { FileEventStore } from './file-event-store.js';

const dir = mkdtempSync(join(tmpdir(), 'file-event-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

eventStoreContract('embedded file log', () => FileEventStore.open(dir));

describe('FileEventStore crash safety', () => {
  it('drops a torn last append at open and keeps appending after it', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-torn-'));
    try {
      const store = await FileEventStore.open(own);
      const meta = { correlationId: 'c', causationId: 'c', actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 };
      await store.appendToStream('s-1', [{ id: randomUUID(), type: 'A', data: {}, metadata: meta }], { expectedRevision: 'no_stream' });
      await store.close();
      const file = join(own, 'events.jsonl');
      const sizeBefore = (await stat(file)).size;
      await appendFile(file, '{"events":[{"id":"half-writ');
      const reopened = await FileEventStore.open(own);
      expect((await stat(file)).size).toBe(sizeBefore);
      expect(await reopened.readStream('s-1')).toHaveLength(1);
      await reopened.appendToStream('s-1', [{ id: randomUUID(), type: 'B', data: {}, metadata: meta }], { expectedRevision: 0 });
      await reopened.close();
      const third = await FileEventStore.open(own);
      expect((await third.readStream('s-1')).map((e) => e.type)).toEqual(['A', 'B']);
      await third.close();
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});
