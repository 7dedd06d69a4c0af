/**
 * A second (third, …) process on one event log directory, for the multi-process tests of
 * FileEventStore (`file-event-store.int.test.ts`). Not a test itself: run as
 * `node --import tsx file-event-store.child.ts <mode> <json args>`.
 *
 * - `race {dir, streams, appends, workers, total}`: prints `open`, waits for a line on stdin, then `workers`
 *   loops append `appends` events in all to the given streams, each at the expected revision
 *   read just before (a conflict is retried); prints `{"appended": [...], "conflicts": n}`, then,
 *   once the log holds `total` events, `{"all": [[position, id], …]}` as its `$all` delivers them.
 * - `flood {dir, stream}`: appends big events without end (to be killed with SIGKILL), printing
 *   `ready` after the first one.
 */
import { randomUUID } from 'node:crypto';
import { ConcurrencyError } from '../errors.js';
import type { NewEvent } from './event-store.js';
import { FileEventStore } from './file-event-store.js';

const meta = () => ({ correlationId: 'c', causationId: 'c', actor: 'test', occurredAt: new Date().toISOString(), schemaVersion: 1 });
const event = (data: unknown): NewEvent => ({ id: randomUUID(), type: 'Raced', data, metadata: meta() });

async function race(args: { dir: string; streams: string[]; appends: number; workers: number; total: number }): Promise<void> {
  const store = await FileEventStore.open(args.dir, { fsync: false });
  process.stdout.write('open\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const appended: { id: string; stream: string; revision: number; position: number }[] = [];
  let conflicts = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: args.workers }, async () => {
      for (let n = next++; n < args.appends; n = next++) {
        const stream = args.streams[n % args.streams.length]!;
        for (;;) {
          const last = await store.readLastEvent(stream);
          const e = event({ pid: process.pid, n });
          try {
            const result = await store.appendToStream(stream, [e], { expectedRevision: last ? last.revision : 'no_stream' });
            appended.push({ id: e.id, stream, revision: result.nextRevision, position: result.position });
            break;
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
            conflicts++;
          }
        }
      }
    }),
  );
  process.stdout.write(JSON.stringify({ appended, conflicts }) + '\n');
  const all: [number, string][] = [];
  const subscription = store.subscribeToAll({ from: 'start' });
  for await (const recorded of subscription) {
    all.push([recorded.position, recorded.id]);
    if (all.length === args.total) break;
  }
  process.stdout.write(JSON.stringify({ all }) + '\n');
  await store.close();
}

async function flood(args: { dir: string; stream: string }): Promise<void> {
  const store = await FileEventStore.open(args.dir, { fsync: false });
  const text = 'x'.repeat(256 * 1024); // a write of this size takes long enough to be cut by a kill
  await store.appendToStream(args.stream, [event({ text })], { expectedRevision: 'any' });
  process.stdout.write('ready\n');
  for (;;) await Promise.all(Array.from({ length: 8 }, () => store.appendToStream(args.stream, [event({ text })], { expectedRevision: 'any' })));
}

const [mode, json] = process.argv.slice(2);
const run = mode === 'race' ? race(JSON.parse(json!) as Parameters<typeof race>[0]) : mode === 'flood' ? flood(JSON.parse(json!) as Parameters<typeof flood>[0]) : Promise.reject(new Error(`unknown mode ${mode}`));
run.then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
