import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { cursorExpired } from './cursor.js';

/**
 * The events of the log after `after` up to `horizon` (inclusive) that `keep` selects, in
 * position order: what a resuming subscriber missed. At most `maxScanned` events are read; a
 * client further behind gets CURSOR_EXPIRED (it refetches state instead of replaying the log).
 */
export async function scanLog(events: EventStore, options: { after: number; horizon: number; maxScanned: number; keep: (event: RecordedEvent) => boolean }): Promise<RecordedEvent[]> {
  const kept: RecordedEvent[] = [];
  if (options.horizon <= options.after) return kept;
  const subscription = events.subscribeToAll({ from: { after: options.after } });
  let scanned = 0;
  try {
    for await (const event of subscription) {
      if (event.position > options.horizon) break;
      if (++scanned > options.maxScanned) throw cursorExpired(`the cursor is more than ${options.maxScanned} events behind the log: refetch the current state, then subscribe without after`);
      if (options.keep(event)) kept.push(event);
      if (event.position === options.horizon) break;
    }
  } finally {
    await subscription.close();
  }
  return kept;
}
