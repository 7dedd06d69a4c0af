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
 * checkpoints, at most every `ttlMs` (an answer may report a position up to that much older).
 */
export function readModelPositions(documents: DocumentStore, projections: readonly { name: string; collections: readonly string[] }[], ttlMs = 200): () => Promise<Record<string, number>> {
  let cached: { at: number; positions: Promise<Record<string, number>> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > ttlMs) {
      const positions = Promise.all(projections.map(async (p): Promise<[string, number]> => [p.name, await checkpointPosition(documents, p)])).then((entries) => Object.fromEntries(entries));
      cached = { at: now, positions };
      positions.catch(() => {
        if (cached?.positions === positions) cached = undefined;
      });
    }
    return cached.positions;
  };
}
