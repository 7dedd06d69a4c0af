import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
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

/** A child process on the same log (see file-event-store.child.ts), with its stdout by lines. */
function child(mode: 'race' | 'flood', args: object) {
  const process_ = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'file-event-store.child.ts'), mode, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  const waiting: (() => void)[] = [];
  process_.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
      waiting.splice(0).forEach((w) => w());
    }
  });
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => process_.once('exit', (code) => resolve(code)));
  return {
    process: process_,
    exited,
    async line(n: number): Promise<string> {
      while (lines.length <= n) {
        if (process_.exitCode !== null) throw new Error(`child exited ${process_.exitCode} before line ${n}: ${stderr}`);
        await Promise.race([new Promise<void>((resolve) => waiting.push(resolve)), exited]);
      }
      return lines[n]!;
    },
    kill() {
      if (process_.exitCode === null && process_.signalCode === null) process_.kill('SIGKILL');
    },
  };
}

const meta = () => ({ correlationId: 'c', causationId: 'c', actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 });

describe('FileEventStore shared by several processes', () => {
  it('two processes appending at expected revisions to the same streams lose no revision, duplicate none, and deliver one $all', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-race-'));
    const streams = [`hot-${randomUUID()}`, `hot-${randomUUID()}`, `hot-${randomUUID()}`];
    const appends = 600;
    const children = [0, 1].map(() => child('race', { dir: own, streams, appends, workers: 4, total: 2 * appends }));
    try {
      // Both have the log open before either starts: they race from the first append.
      for (const c of children) expect(await c.line(0)).toBe('open');
      await Promise.all(children.map((c) => new Promise<void>((resolve) => c.process.stdin.write('go\n', () => resolve()))));
      const results = await Promise.all(children.map(async (c) => ({ ...(JSON.parse(await c.line(1)) as { appended: { id: string; stream: string; revision: number; position: number }[]; conflicts: number }), ...(JSON.parse(await c.line(2)) as { all: [number, string][] }) })));
      expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0]);

      const appended = results.flatMap((r) => r.appended);
      expect(appended).toHaveLength(2 * appends);
      expect(results.every((r) => r.conflicts > 0)).toBe(true); // they did meet at the expected revision
      // One $all, the same in both processes, positions 1..n, each acknowledged append once at the position it was given.
      expect(results[0]!.all).toEqual(results[1]!.all);
      expect(results[0]!.all.map(([position]) => position)).toEqual(Array.from({ length: 2 * appends }, (_, i) => i + 1));
      const positionOf = new Map(results[0]!.all.map(([position, id]) => [id, position]));
      for (const a of appended) expect(positionOf.get(a.id)).toBe(a.position);
      // Each stream: revisions 0..k-1, no gap, no duplicate; and this process reads what they wrote.
      const reader = await FileEventStore.open(own);
      for (const stream of streams) {
        const events = await reader.readStream(stream);
        expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
        expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
        expect(events.map((e) => e.id).sort()).toEqual(appended.filter((a) => a.stream === stream).map((a) => a.id).sort());
      }
      await reader.close();
    } finally {
      children.forEach((c) => c.kill());
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('a subscription in one process delivers another process’s appends, and reads see them once acknowledged', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-follow-'));
    const here = await FileEventStore.open(own, { fsync: false });
    const stream = `followed-${randomUUID()}`;
    const subscription = here.subscribeToAll({ from: 'start' });
    const other = child('race', { dir: own, streams: [stream], appends: 20, workers: 2, total: 20 });
    try {
      expect(await other.line(0)).toBe('open');
      other.process.stdin.write('go\n');
      const { appended } = JSON.parse(await other.line(1)) as { appended: { id: string; position: number }[] };
      // Acknowledged over there: a read here sees all of it without waiting for a file event.
      expect((await here.readStream(stream)).map((e) => e.id).sort()).toEqual(appended.map((a) => a.id).sort());
      expect(await here.headPosition()).toBe(20);
      const delivered: string[] = [];
      for await (const e of subscription) {
        delivered.push(e.id);
        if (delivered.length === 20) break;
      }
      expect(delivered).toEqual([...appended].sort((a, b) => a.position - b.position).map((a) => a.id));
      expect(await other.exited).toBe(0);
    } finally {
      other.kill();
      await subscription.close();
      await here.close();
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('a writer killed mid-append leaves no half record: readers never deliver it, the next writer cuts it off and continues', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-killed-'));
    const stream = `flooded-${randomUUID()}`;
    const here = await FileEventStore.open(own, { fsync: false });
    const subscription = here.subscribeToAll({ from: 'start' });
    const flooder = child('flood', { dir: own, stream });
    try {
      expect(await flooder.line(0)).toBe('ready');
      await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 70));
      flooder.kill();
      await flooder.exited;
      // Whatever the kill left (a torn line, a lock held by a dead process), the next append goes through.
      const after = { id: randomUUID(), type: 'After', data: {}, metadata: meta() };
      const result = await here.appendToStream(stream, [after], { expectedRevision: 'any' });
      const events = await here.readStream(stream);
      expect(events[events.length - 1]!.id).toBe(after.id);
      expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
      expect(result.position).toBe(events.length);
      const delivered: number[] = [];
      for await (const e of subscription) {
        delivered.push(e.position);
        if (e.id === after.id) break;
      }
      expect(delivered).toEqual(events.map((e) => e.position));
      // The file is whole lines only, and a fresh process reads the same.
      const file = readFileSync(join(own, 'events.jsonl'), 'utf8');
      expect(file.endsWith('\n')).toBe(true);
      const reopened = await FileEventStore.open(own);
      expect((await reopened.readStream(stream)).map((e) => e.id)).toEqual(events.map((e) => e.id));
      await reopened.close();
    } finally {
      flooder.kill();
      await subscription.close();
      await here.close();
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('takes over the append lock of a dead holder that left a torn line, which no reader delivered', async () => {
    const own = mkdtempSync(join(tmpdir(), 'file-event-store-dead-holder-'));
    const stream = `s-${randomUUID()}`;
    const here = await FileEventStore.open(own, { fsync: false });
    await here.appendToStream(stream, [{ id: randomUUID(), type: 'A', data: {}, metadata: meta() }], { expectedRevision: 'no_stream' });
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    try {
      writeFileSync(join(own, 'append.lock'), `${dead.pid} ${hostname()} ${randomUUID()}`);
      await appendFile(join(own, 'events.jsonl'), '{"events":[{"id":"half-writ');
      expect(await here.headPosition()).toBe(1); // the half line is not read
      expect(await here.appendToStream(stream, [{ id: randomUUID(), type: 'B', data: {}, metadata: meta() }], { expectedRevision: 0 })).toEqual({ nextRevision: 1, position: 2 });
      expect(existsSync(join(own, 'append.lock'))).toBe(false); // taken over, then given back
      expect(readFileSync(join(own, 'events.jsonl'), 'utf8')).not.toContain('half-writ');
      const reopened = await FileEventStore.open(own);
      expect((await reopened.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);
      await reopened.close();
    } finally {
      await here.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});
