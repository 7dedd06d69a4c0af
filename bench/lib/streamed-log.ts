/**
 * A read-only event source over the embedded store's log file (events.jsonl) that streams it from
 * disk instead of holding it in memory, as a server event store (EventStoreDB) streams `$all` to
 * a projector. The embedded FileEventStore indexes its whole log in memory at open, so a process
 * that opens it grows with the log whatever the projections do; with this source, what grows is
 * only what the projection pipeline itself holds. Only what a rebuild needs: subscribeToAll and
 * headPosition. A sparse index (a byte offset every 10,000 events) lets a subscription start
 * near its position.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AllSubscription, AppendResult, EventStore, RecordedEvent, SubscribeFrom } from '../../platform/event-store/event-store.js';

const EVERY = 10_000;

export class StreamedLog implements EventStore {
  private constructor(
    private readonly path: string,
    private readonly head: number,
    /** offsets[i]: byte offset of the line holding position i * EVERY + 1 (or the line before). */
    private readonly offsets: number[],
  ) {}

  static async open(dir: string): Promise<StreamedLog> {
    const path = join(dir, 'events.jsonl');
    const offsets: number[] = [];
    let head = 0;
    let offset = 0;
    for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
      const count = countEvents(line);
      while (offsets.length * EVERY < head + count) offsets.push(offset);
      head += count;
      offset += Buffer.byteLength(line) + 1;
    }
    return new StreamedLog(path, head, offsets);
  }

  headPosition(): Promise<number> {
    return Promise.resolve(this.head);
  }

  subscribeToAll(options: { from: SubscribeFrom }): AllSubscription {
    const after = options.from === 'start' ? 0 : options.from.after;
    const start = this.offsets[Math.floor(after / EVERY)] ?? this.offsets[this.offsets.length - 1] ?? 0;
    const input = createReadStream(this.path, { encoding: 'utf8', start });
    const lines = createInterface({ input, crlfDelay: Infinity });
    let closed = false;
    async function* iterate(): AsyncGenerator<RecordedEvent> {
      try {
        for await (const line of lines) {
          if (closed) return;
          for (const event of (JSON.parse(line) as { events: RecordedEvent[] }).events) if (event.position > after) yield event;
        }
      } finally {
        lines.close();
        input.destroy();
      }
    }
    const iterator = iterate();
    return {
      [Symbol.asyncIterator]: () => iterator,
      close: async () => {
        closed = true;
        await iterator.return(undefined);
      },
    };
  }

  appendToStream(): Promise<AppendResult> {
    return Promise.reject(new Error('StreamedLog is read-only'));
  }

  readStream(): Promise<RecordedEvent[]> {
    return Promise.reject(new Error('StreamedLog reads $all only'));
  }

  readLastEvent(): Promise<RecordedEvent | undefined> {
    return Promise.reject(new Error('StreamedLog reads $all only'));
  }

  close(): Promise<void> {
    return Promise.resolve(); // nothing is held open between subscriptions
  }
}

/** Events on one log line without parsing it all: count the `"position":` keys. */
function countEvents(line: string): number {
  let n = 0;
  for (let i = line.indexOf('"position":'); i >= 0; i = line.indexOf('"position":', i + 11)) n++;
  return n;
}
