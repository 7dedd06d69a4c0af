import { mkdir, open, readFile, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConcurrencyError, InfrastructureError } from '../errors.js';
import {
  describeExpected,
  type AllSubscription,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
  type SubscribeFrom,
} from './event-store.js';

/** Bytes read at a time when the log is opened. */
const LOAD_CHUNK = 8 * 2 ** 20;
const NEWLINE = 0x0a;

interface PendingAppend {
  streamName: string;
  events: readonly NewEvent[];
  expectedRevision: ExpectedRevision;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** A stream by revision, written and staged events together. */
interface StreamView {
  length: number;
  at(revision: number): RecordedEvent | undefined;
}

/** One line of the log: one append, so a torn write loses a whole append, never half of one. */
interface LogLine {
  events: RecordedEvent[];
}

/**
 * The embedded event store: an append-only JSON-lines log on local disk, fully indexed in
 * memory. Appends are group-committed (one write + fdatasync for everything queued meanwhile)
 * and are acknowledged only after they are durable. A torn last line (crash mid-write) is cut
 * off at open, so the log always holds whole appends.
 */
export class FileEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  private queue: PendingAppend[] = [];
  private flushing = false;
  private waiters = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    private readonly options: { fsync: boolean; clock: () => Date },
    private readonly lockPath: string | undefined,
  ) {}

  /**
   * `writerLock`: take `writer.lock` in the directory (this process's id), and refuse to open
   * while another live process holds it. The log has one writer: a second process appending
   * (the import CLI while `npm start` runs on the same DATA_DIR) would give out the same
   * positions twice. Processes that open the log only to read it leave the option off.
   */
  static async open(dir: string, options: { fsync?: boolean; clock?: () => Date; writerLock?: boolean } = {}): Promise<FileEventStore> {
    await mkdir(dir, { recursive: true });
    const lockPath = options.writerLock ? await takeWriterLock(dir) : undefined;
    const path = join(dir, 'events.jsonl');
    const file = await open(path, 'a+');
    const store = new FileEventStore(file, { fsync: options.fsync ?? true, clock: options.clock ?? (() => new Date()) }, lockPath);
    await store.load();
    return store;
  }

  /**
   * Reads the log in chunks of LOAD_CHUNK bytes, line by line (a log past V8's largest string,
   * about 512 MiB, cannot be read as one), and cuts off whatever follows the last whole line.
   */
  private async load(): Promise<void> {
    const size = (await this.file.stat()).size;
    const chunk = Buffer.allocUnsafe(LOAD_CHUNK);
    let carry = Buffer.alloc(0);
    let offset = 0;
    let validLength = 0;
    reading: while (offset < size) {
      const { bytesRead } = await this.file.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (let end = data.indexOf(NEWLINE, start); end >= 0; end = data.indexOf(NEWLINE, start)) {
        let parsed: LogLine;
        try {
          parsed = JSON.parse(data.toString('utf8', start, end)) as LogLine;
        } catch {
          break reading; // torn or corrupt: everything from here on is not an acknowledged append
        }
        for (const event of parsed.events) this.index(event);
        validLength += end + 1 - start;
        start = end + 1;
      }
      carry = Buffer.from(data.subarray(start)); // a copy: the chunk is read into again
    }
    if (validLength < size) await this.file.truncate(validLength);
  }

  private index(event: RecordedEvent): void {
    this.log.push(event);
    let stream = this.streams.get(event.streamName);
    if (!stream) this.streams.set(event.streamName, (stream = []));
    stream.push(event);
    this.byId.set(event.id, event);
  }

  appendToStream(streamName: string, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    return new Promise((resolve, reject) => {
      this.queue.push({ streamName, events, expectedRevision: options.expectedRevision, resolve, reject });
      void this.flush();
    });
  }

  /** Group commit: validate every queued append against the state including earlier ones in the group. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const accepted: { pending: PendingAppend; records: RecordedEvent[] | undefined; result: AppendResult }[] = [];
        const staged = new Map<string, RecordedEvent[]>();
        const stagedIds = new Set<string>();
        let nextPosition = this.log.length + 1;
        const recordedAt = this.options.clock().toISOString();
        for (const pending of batch) {
          // The stream as it will be once the earlier appends of this group are written, without
          // copying it: an append costs the same on a stream of ten events or of a million.
          const written = this.streams.get(pending.streamName) ?? [];
          const stagedHere = staged.get(pending.streamName) ?? [];
          const current = { length: written.length + stagedHere.length, at: (revision: number) => (revision < written.length ? written[revision] : stagedHere[revision - written.length]) };
          const duplicate = this.idempotentResult(pending, current);
          if (duplicate === 'conflict') {
            pending.reject(new Error(`events ${pending.events.map((e) => e.id).join(',')} were already appended with different content or position`));
            continue;
          }
          if (duplicate) {
            accepted.push({ pending, records: undefined, result: duplicate });
            continue;
          }
          if (pending.events.some((e) => stagedIds.has(e.id))) {
            pending.reject(new Error('the same event id is being appended twice at once'));
            continue;
          }
          const actual = current.length - 1; // -1: no stream
          if (!revisionMatches(pending.expectedRevision, actual)) {
            pending.reject(new ConcurrencyError(pending.streamName, describeExpected(pending.expectedRevision), actual < 0 ? 'no_stream' : `revision ${actual}`));
            continue;
          }
          const records = pending.events.map((event, i): RecordedEvent => ({
            id: event.id,
            type: event.type,
            data: event.data,
            metadata: event.metadata,
            streamName: pending.streamName,
            revision: actual + 1 + i,
            position: nextPosition++,
            recordedAt,
          }));
          staged.set(pending.streamName, [...stagedHere, ...records]);
          for (const r of records) stagedIds.add(r.id);
          const last = records[records.length - 1]!;
          accepted.push({ pending, records, result: { nextRevision: last.revision, position: last.position } });
        }
        const lines = accepted.flatMap((a) => (a.records ? [JSON.stringify({ events: a.records } satisfies LogLine) + '\n'] : []));
        try {
          if (lines.length > 0) {
            await this.file.appendFile(lines.join(''), 'utf8');
            if (this.options.fsync) await this.file.datasync();
          }
        } catch (error) {
          for (const a of accepted) a.pending.reject(error);
          continue;
        }
        for (const a of accepted) if (a.records) for (const r of a.records) this.index(r);
        for (const a of accepted) a.pending.resolve(a.result);
        if (lines.length > 0) this.wake();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Same ids appended again at the same place: return what the first append returned. */
  private idempotentResult(pending: PendingAppend, current: StreamView): AppendResult | 'conflict' | undefined {
    const first = this.byId.get(pending.events[0]!.id);
    if (!first) return undefined;
    const sameTail = pending.events.every((e, i) => {
      const recorded = current.at(first.revision + i);
      return first.streamName === pending.streamName && recorded?.id === e.id;
    });
    if (!sameTail) return 'conflict';
    const last = current.at(first.revision + pending.events.length - 1)!;
    return { nextRevision: last.revision, position: last.position };
  }

  readStream(streamName: string, options: { fromRevision?: number } = {}): Promise<RecordedEvent[]> {
    const stream = this.streams.get(streamName) ?? [];
    return Promise.resolve(stream.slice(options.fromRevision ?? 0));
  }

  readLastEvent(streamName: string): Promise<RecordedEvent | undefined> {
    const stream = this.streams.get(streamName);
    return Promise.resolve(stream?.[stream.length - 1]);
  }

  headPosition(): Promise<number> {
    return Promise.resolve(this.log.length);
  }

  subscribeToAll(options: { from: SubscribeFrom }): AllSubscription {
    let cursor = options.from === 'start' ? 0 : options.from.after; // index into log = position - 1
    let stopped = false;
    let wakeUp: (() => void) | undefined;
    const waitForMore = () =>
      new Promise<void>((resolve) => {
        wakeUp = resolve;
        this.waiters.add(resolve);
      });
    const stop = () => {
      stopped = true;
      if (wakeUp) {
        this.waiters.delete(wakeUp);
        wakeUp();
      }
    };
    const log = this.log;
    const isClosed = () => this.closed;
    async function* iterate(): AsyncGenerator<RecordedEvent> {
      try {
        while (!stopped && !isClosed()) {
          if (cursor < log.length) {
            yield log[cursor++]!;
          } else {
            await waitForMore();
          }
        }
      } finally {
        stopped = true;
      }
    }
    const iterator = iterate();
    return {
      [Symbol.asyncIterator]: () => iterator,
      // The generator reads `cursor` afresh each time it resumes: what is taken here is not yielded again.
      takeReady: (max) => {
        if (stopped || isClosed()) return [];
        const end = Math.min(log.length, cursor + Math.max(0, max));
        const taken = log.slice(cursor, end);
        cursor = end;
        return taken;
      },
      close: async () => {
        stop();
        await iterator.return(undefined);
      },
    };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
    this.closed = true;
    this.wake();
    await this.file.close();
    if (this.lockPath) await releaseWriterLock(this.lockPath);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** Takes `writer.lock` in `dir`, or fails naming the live process that holds it; a dead holder's lock is taken over. */
async function takeWriterLock(dir: string): Promise<string> {
  const path = join(dir, 'writer.lock');
  try {
    await writeFile(path, String(process.pid), { flag: 'wx' });
    return path;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new InfrastructureError('event store', dir, `the event log is open for writing in process ${holder} (a running system?); stop it first, or use EventStoreDB (EVENTSTORE_URL), which takes many writers`);
  }
  await writeFile(path, String(process.pid));
  return path;
}

async function releaseWriterLock(path: string): Promise<void> {
  const holder = await readFile(path, 'utf8').catch(() => '');
  if (holder.trim() === String(process.pid)) await unlink(path).catch(() => undefined);
}

function revisionMatches(expected: ExpectedRevision, actual: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === -1;
    case 'stream_exists':
      return actual >= 0;
    default:
      return expected === actual;
  }
}
