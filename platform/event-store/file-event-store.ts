import { fstatSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConcurrencyError } from '../errors.js';
import { AppendLock } from './append-lock.js';
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
/** How often a subscribed process checks the file for other processes' appends when no file event came. */
const POLL_MS = 100;

type Outcome = { pending: PendingAppend; result: AppendResult } | { pending: PendingAppend; error: unknown };

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
 * memory, shared by every process on this machine that opens the same directory.
 *
 * Appends are group-committed (one write + fdatasync for everything a process queued meanwhile)
 * and acknowledged only once durable. Processes take turns through an exclusive lock file
 * (`AppendLock`); under it a process first reads what the others appended since the last byte
 * it knows, so expected revisions are checked against the stream as it is, then writes. A torn
 * last line (a writer killed mid-write) is never indexed by anyone and is cut off by the next
 * process that holds the lock (or opens the log).
 *
 * Other processes' appends reach this one three ways: every read (`readStream`,
 * `readLastEvent`, `headPosition`) first compares the file's size with what it knows (one
 * fstat, so a read after another process's acknowledged append sees it); subscriptions are woken
 * by `fs.watch` (inotify: a millisecond or two) with a poll every POLL_MS as a fallback where
 * file events do not arrive (network filesystems).
 */
export class FileEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  private queue: PendingAppend[] = [];
  private flushing = false;
  private waiters = new Set<() => void>();
  private closed = false;
  /** Bytes of the log that are indexed: whole lines only. */
  private knownSize = 0;
  /** Serialises, within this process, reading the tail of the file and writing to it. */
  private exclusiveTail: Promise<unknown> = Promise.resolve();
  private exclusiveCount = 0;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  /** A failure to follow the file, given to subscribers (readers see it on their own read). */
  private tailFailure: unknown;

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    private readonly options: { fsync: boolean; clock: () => Date },
    private readonly lock: AppendLock,
  ) {}

  static async open(dir: string, options: { fsync?: boolean; clock?: () => Date } = {}): Promise<FileEventStore> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'events.jsonl');
    const file = await open(path, 'a+');
    const lock = await AppendLock.create(dir);
    const store = new FileEventStore(file, path, { fsync: options.fsync ?? true, clock: options.clock ?? (() => new Date()) }, lock);
    try {
      await store.readNew(); // the bulk of the log, without holding up other processes' appends
      await store.lock.acquire();
      try {
        await store.readNew({ repair: true });
      } finally {
        store.lock.release();
      }
    } catch (error) {
      await lock.dispose();
      await file.close();
      throw error;
    }
    return store;
  }

  /**
   * Indexes the whole lines past `knownSize`, reading LOAD_CHUNK bytes at a time (a log past
   * V8's largest string, about 512 MiB, cannot be read as one). A line that does not parse ends
   * the reading: it is a torn write, or one still being written by another process. With
   * `repair` (only under the append lock, when nobody is writing) it and whatever follows it are
   * cut off: they are not acknowledged appends.
   */
  private async readNew(options: { repair?: boolean } = {}): Promise<void> {
    const size = fstatSync(this.file.fd).size; // synchronous: microseconds, and on every append
    if (size === this.knownSize) return;
    const chunk = Buffer.allocUnsafe(Math.min(LOAD_CHUNK, Math.max(size - this.knownSize, 1)));
    let carry = Buffer.alloc(0);
    let offset = this.knownSize;
    let indexed = false;
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
          break reading;
        }
        for (const event of parsed.events) this.index(event);
        indexed = true;
        this.knownSize += end + 1 - start;
        start = end + 1;
      }
      carry = Buffer.from(data.subarray(start)); // a copy: the chunk is read into again
    }
    if (options.repair && this.knownSize < size) await this.file.truncate(this.knownSize);
    if (indexed) this.wake();
  }

  /** Runs `work` after every other reading of the tail or write this process started. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.exclusiveCount++;
    const run = this.exclusiveTail.then(work).finally(() => this.exclusiveCount--);
    this.exclusiveTail = run.catch(() => undefined); // the failure is the caller's, through `run`
    return run;
  }

  /** Indexes other processes' appends, if the file grew; nothing to wait for when it did not. */
  private catchUp(): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.exclusiveCount === 0 && fstatSync(this.file.fd).size === this.knownSize) return undefined;
    return this.exclusive(() => this.readNew());
  }

  /** Follows the file for subscribers: started by the first subscription. */
  private follow(): void {
    if (this.watcher || this.closed) return;
    const onChange = () => {
      const caughtUp = this.catchUp();
      if (caughtUp) {
        caughtUp.catch((error: unknown) => {
          this.tailFailure = error;
          this.wake();
        });
      }
    };
    this.watcher = watch(this.path, { persistent: false }, onChange);
    this.watcher.on('error', (error) => {
      this.tailFailure = error;
      this.wake();
    });
    this.poller = setInterval(onChange, POLL_MS).unref();
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

  /**
   * Group commit: everything queued meanwhile is validated (each append against the state
   * including the earlier ones of the group) and written at once, under the append lock.
   */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        let outcome: Outcome[];
        try {
          await this.lock.acquire();
          try {
            outcome = await this.exclusive(() => this.commit(batch));
          } finally {
            this.lock.release();
          }
        } catch (error) {
          for (const pending of batch) pending.reject(error);
          continue;
        }
        for (const o of outcome) {
          if ('error' in o) o.pending.reject(o.error);
          else o.pending.resolve(o.result);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Under the append lock: catches up with other processes, validates the batch, writes it. */
  private async commit(batch: PendingAppend[]): Promise<Outcome[]> {
    await this.readNew({ repair: true });
    const outcome: Outcome[] = [];
    const written: RecordedEvent[][] = [];
    const staged = new Map<string, RecordedEvent[]>();
    const stagedIds = new Set<string>();
    let nextPosition = this.log.length + 1;
    const recordedAt = this.options.clock().toISOString();
    for (const pending of batch) {
      // The stream as it will be once the earlier appends of this group are written, without
      // copying it: an append costs the same on a stream of ten events or of a million.
      const stream = this.streams.get(pending.streamName) ?? [];
      const stagedHere = staged.get(pending.streamName) ?? [];
      const current = { length: stream.length + stagedHere.length, at: (revision: number) => (revision < stream.length ? stream[revision] : stagedHere[revision - stream.length]) };
      const duplicate = this.idempotentResult(pending, current);
      if (duplicate === 'conflict') {
        outcome.push({ pending, error: new Error(`events ${pending.events.map((e) => e.id).join(',')} were already appended with different content or position`) });
        continue;
      }
      if (duplicate) {
        outcome.push({ pending, result: duplicate });
        continue;
      }
      if (pending.events.some((e) => stagedIds.has(e.id))) {
        outcome.push({ pending, error: new Error('the same event id is being appended twice at once') });
        continue;
      }
      const actual = current.length - 1; // -1: no stream
      if (!revisionMatches(pending.expectedRevision, actual)) {
        outcome.push({ pending, error: new ConcurrencyError(pending.streamName, describeExpected(pending.expectedRevision), actual < 0 ? 'no_stream' : `revision ${actual}`) });
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
      written.push(records);
      const last = records[records.length - 1]!;
      outcome.push({ pending, result: { nextRevision: last.revision, position: last.position } });
    }
    if (written.length === 0) return outcome;
    const bytes = Buffer.from(written.map((records) => JSON.stringify({ events: records } satisfies LogLine) + '\n').join(''), 'utf8');
    try {
      await this.file.appendFile(bytes);
      if (this.options.fsync) await this.file.datasync();
    } catch (error) {
      // Whatever reached the file is read back (whole lines) or cut off (a torn one) by the
      // next reading, here or elsewhere, like any unacknowledged append.
      return batch.map((pending) => ({ pending, error }));
    }
    this.knownSize += bytes.length;
    for (const records of written) for (const r of records) this.index(r);
    this.wake();
    return outcome;
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
    return this.afterCatchUp(() => (this.streams.get(streamName) ?? []).slice(options.fromRevision ?? 0));
  }

  readLastEvent(streamName: string): Promise<RecordedEvent | undefined> {
    return this.afterCatchUp(() => {
      const stream = this.streams.get(streamName);
      return stream?.[stream.length - 1];
    });
  }

  headPosition(): Promise<number> {
    return this.afterCatchUp(() => this.log.length);
  }

  /** `read` once other processes' appends are indexed: at once when the file did not grow. */
  private afterCatchUp<T>(read: () => T): Promise<T> {
    const caughtUp = this.catchUp();
    return caughtUp ? caughtUp.then(read) : Promise.resolve(read());
  }

  subscribeToAll(options: { from: SubscribeFrom }): AllSubscription {
    this.follow();
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
    const failure = () => this.tailFailure;
    async function* iterate(): AsyncGenerator<RecordedEvent> {
      try {
        while (!stopped && !isClosed()) {
          if (cursor < log.length) {
            yield log[cursor++]!;
          } else if (failure() !== undefined) {
            throw failure();
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
    this.watcher?.close();
    clearInterval(this.poller);
    this.wake();
    await this.exclusiveTail;
    await this.file.close();
    await this.lock.dispose();
  }
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
