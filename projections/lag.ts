import type { DocumentStore } from '../platform/documents/document-store.js';
import type { EventStore } from '../platform/event-store/event-store.js';

export const CHECKPOINTS = 'projection_checkpoints';

export interface Lag {
  /** The event store's head position. */
  head: number;
  /** Events written but not yet applied. */
  events: number;
  /** Age of the oldest event not yet applied (0 when caught up). */
  seconds: number;
}

/** How far a read model at `position` is behind the event store. */
export async function lagBehind(events: EventStore, position: number, now: () => number = Date.now): Promise<Lag> {
  const head = await events.headPosition();
  if (head <= position) return { head, events: 0, seconds: 0 };
  let seconds = 0;
  const next = events.subscribeToAll({ from: { after: position } });
  try {
    for await (const event of next) {
      seconds = Math.max(0, (now() - Date.parse(event.recordedAt)) / 1000);
      break;
    }
  } finally {
    await next.close();
  }
  return { head, events: head - position, seconds };
}

/** The id of a projection's checkpoint: one per physical version of its first collection. */
export async function checkpointId(documents: DocumentStore, projection: { name: string; collections: readonly string[] }): Promise<string> {
  return `${projection.name}@${await documents.physicalName(projection.collections[0]!)}`;
}

/** The position a projection's live read model has reached, as its checkpoint says (0 if none). */
export async function checkpointPosition(documents: DocumentStore, projection: { name: string; collections: readonly string[] }): Promise<number> {
  const checkpoint = await documents.collection<{ _id: string; position: number }>(CHECKPOINTS).get(await checkpointId(documents, projection));
  return checkpoint?.position ?? 0;
}

/**
 * A readiness check for a service that reads a projection's read model (possibly in another
 * process than its projector): fails, saying by how much, once the read model is further behind
 * the event store than `maxLagSeconds`.
 */
export function readModelReadiness(documents: DocumentStore, events: EventStore, projection: { name: string; collections: readonly string[] }, maxLagSeconds: number): () => Promise<void> {
  return async () => {
    const lag = await lagBehind(events, await checkpointPosition(documents, projection));
    if (lag.seconds > maxLagSeconds) throw new Error(`${lag.seconds.toFixed(1)} s (${lag.events} events) behind the event store; the limit is ${maxLagSeconds} s`);
  };
}

/**
 * The positions a service's read models have reached, for the `readModels` extension of its
 * responses: a client (or the gateway) can tell how fresh an answer is. Read from the
 * checkpoints at most every `ttlMs`, in the background: an answer never waits for the document
 * store more than `waitMs` (a store that hangs must not slow every response); it then reports
 * the last positions read, or none.
 */
export function readModelPositions(
  documents: DocumentStore,
  projections: readonly { name: string; collections: readonly string[] }[],
  options: { ttlMs?: number; waitMs?: number; onError?: (error: unknown) => void } = {},
): () => Promise<Record<string, number> | undefined> {
  const ttlMs = options.ttlMs ?? 200;
  const waitMs = options.waitMs ?? 50;
  let known: { at: number; positions: Record<string, number> } | undefined;
  let reading: Promise<Record<string, number> | undefined> | undefined;
  const read = () =>
    (reading ??= Promise.all(projections.map(async (p): Promise<[string, number]> => [p.name, await checkpointPosition(documents, p)]))
      .then((entries) => {
        known = { at: Date.now(), positions: Object.fromEntries(entries) };
        return known.positions;
      })
      .catch((error: unknown) => {
        options.onError?.(error); // the answer goes out with the last positions known (readiness reports the outage)
        return known?.positions;
      })
      .finally(() => (reading = undefined)));
  return async () => {
    if (known && Date.now() - known.at <= ttlMs) return known.positions;
    let timer: NodeJS.Timeout | undefined;
    const fallback = new Promise<Record<string, number> | undefined>((resolve) => (timer = setTimeout(() => resolve(known?.positions), waitMs)));
    try {
      return await Promise.race([read(), fallback]);
    } finally {
      clearTimeout(timer);
    }
  };
}
