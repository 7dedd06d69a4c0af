import type { SnapshotPolicy } from '../../platform/eventsourcing/stream-states.js';
import { rememberedReservations, type ProductState, type Reservation, type ReservationLog } from './decider.js';

/** A product's state as its snapshot holds it: the reservation log as a bounded array. */
type ProductSnapshot =
  | { status: 'none' }
  | (Omit<Extract<ProductState, { productId: string }>, 'reservations'> & {
      /** Newest first: every open reservation, and finished ones the decider still remembers. */
      reservations: { orderId: string; reservation: Reservation }[];
    });

/**
 * Margin under the last event's time when deciding what a snapshot may forget: a later command
 * (on another instance, whose clock may be a little behind) must still see what it would see
 * folding every event.
 */
const CLOCK_MARGIN_MS = 24 * 3600 * 1000;

/** Snapshot events: never a product event, so the catalog projection and the relay pass over them. */
export const PRODUCT_SNAPSHOT_TYPE = 'ProductSnapshot';

/**
 * Snapshots of product streams, in `snapshot-product-<id>` (its own category: nothing that reads
 * product streams or `$ce-product` sees them). Every `every` events; the reservations a snapshot
 * keeps are bounded by RESERVATION_MEMORY_MS, so a snapshot's size does not grow with the stream.
 */
export function productSnapshots(every = 500): SnapshotPolicy<ProductState> {
  return {
    streamFor: (streamName) => `snapshot-${streamName}`,
    type: PRODUCT_SNAPSHOT_TYPE,
    version: 1,
    every,
    toSnapshot(state): ProductSnapshot {
      if (state.status === 'none') return state;
      const forgetBefore = new Date(Date.parse(state.updatedAt) - CLOCK_MARGIN_MS).toISOString();
      return { ...state, reservations: rememberedReservations(state, forgetBefore) };
    },
    fromSnapshot(data): ProductState {
      const snapshot = data as ProductSnapshot;
      if (snapshot.status === 'none') return snapshot;
      let log: ReservationLog | null = null;
      for (let i = snapshot.reservations.length - 1; i >= 0; i--) {
        const { orderId, reservation } = snapshot.reservations[i]!;
        log = { orderId, reservation, previous: log };
      }
      return { ...snapshot, reservations: log };
    },
  };
}
