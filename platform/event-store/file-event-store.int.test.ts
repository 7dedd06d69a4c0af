import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  it('opens a log larger than the chunk it reads at a time, with appends spanning chunk boundaries and multi-byte text, and cuts a torn tail after them', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-large-'));
    try {
      const store = await FileEventStore.open(own, { fsync: false });
      const meta = { correlationId: 'c', causationId: 'c', actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 };
      const text = 'grüße-€-'.repeat(600); // about 6 KB per event, multi-byte characters
      for (let i = 0; i < 1600; i++) await store.appendToStream(`s-${i % 7}`, [{ id: randomUUID(), type: 'T', data: { i, text }, metadata: meta }], { expectedRevision: 'any' });
      await store.close();
      const file = join(own, 'events.jsonl');
      const size = (await stat(file)).size;
      expect(size).toBeGreaterThan(8 * 2 ** 20); // more than one chunk
      await appendFile(file, '{"events":[{"id":"torn');
      const reopened = await FileEventStore.open(own);
      expect((await stat(file)).size).toBe(size);
      expect(await reopened.headPosition()).toBe(1600);
      const stream = await reopened.readStream('s-3');
      expect(stream.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 1600 }, (_, i) => i).filter((i) => i % 7 === 3));
      expect((stream[stream.length - 1]!.data as { text: string }).text).toBe(text);
      await reopened.close();
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('FileEventStore writer lock', () => {
  it('refuses to open for writing while another live process holds the lock, takes over a dead holder’s, and releases it on close', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-lock-'));
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(join(own, 'writer.lock'), String(holder.pid));
      await expect(FileEventStore.open(own, { writerLock: true })).rejects.toThrow(new RegExp(`open for writing in process ${holder.pid}`));
      const reader = await FileEventStore.open(own); // without the option: a reader, not refused
      await reader.close();
      const gone = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await gone;
      const store = await FileEventStore.open(own, { writerLock: true });
      expect(readFileSync(join(own, 'writer.lock'), 'utf8')).toBe(String(process.pid));
      await store.close();
      expect(existsSync(join(own, 'writer.lock'))).toBe(false);
    } finally {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      rmSync(own, { recursive: true, force: true });
    }
  });
});
