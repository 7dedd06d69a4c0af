import type { Decider } from '../../../platform/eventsourcing/decider.js';
import type { ProductViewNoted, SellerTimeZoneNoted } from './events.js';

export interface NoteView {
  type: 'NoteView';
  productId: string;
  userId: string;
  viewedAt: string;
}

/**
 * One user's views of one product. A view is noted only when it is later than the last one noted:
 * the recommendation service counts at most one per hour, each with its own time, so a redelivered
 * (or older, replayed) message decides nothing.
 */
export const viewNoteDecider: Decider<NoteView, ProductViewNoted, { lastViewedAt: string | null }> = {
  initialState: () => ({ lastViewedAt: null }),
  decide(command, state) {
    if (state.lastViewedAt !== null && Date.parse(command.viewedAt) <= Date.parse(state.lastViewedAt)) return [];
    return [{ type: 'ProductViewNoted', data: { productId: command.productId, userId: command.userId, viewedAt: command.viewedAt } }];
  },
  evolve: (_state, event) => ({ lastViewedAt: event.data.viewedAt }),
};

export interface NoteTimeZone {
  type: 'NoteTimeZone';
  userId: string;
  timeZone: string;
  sourcePosition: number | null;
  at: string;
}

/**
 * A user's time zone, UTC until told otherwise. A message no newer than the last one noted (by
 * source position: a redelivery of the registration after a later change must not bring back its
 * zone), or naming the same zone again, decides nothing.
 */
export const timeZoneDecider: Decider<NoteTimeZone, SellerTimeZoneNoted, { timeZone: string; sourcePosition: number | null }> = {
  initialState: () => ({ timeZone: 'UTC', sourcePosition: null }),
  decide(command, state) {
    if (command.sourcePosition !== null && state.sourcePosition !== null && command.sourcePosition <= state.sourcePosition) return [];
    if (command.timeZone === state.timeZone) return [];
    return [{ type: 'SellerTimeZoneNoted', data: { userId: command.userId, timeZone: command.timeZone, sourcePosition: command.sourcePosition, notedAt: command.at } }];
  },
  evolve: (_state, event) => ({ timeZone: event.data.timeZone, sourcePosition: event.data.sourcePosition }),
};
