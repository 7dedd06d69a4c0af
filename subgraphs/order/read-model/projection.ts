import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import type { Projection } from '../../../projections/projection.js';
import { orderDecider } from '../decider.js';
import { ORDER_EVENT_TYPES, type OrderEvent } from '../events.js';
import { ORDER_STATUS_CHANNEL, ORDERS, type OrderDoc, type OrderStatusNotification } from './read-model.js';

/** Applies one order event to the order's document (pure): the decider's own evolve, stored. */
export function evolveOrderDoc(doc: OrderDoc | undefined, event: OrderEvent): OrderDoc | undefined {
  const { _position: _ignored, ...state } = doc ?? { status: 'none' as const };
  const next = orderDecider.evolve(state, event);
  return next.status === 'none' ? undefined : { ...next, _id: next.orderId };
}

/**
 * The orders projection: order events -> one document per order (guarded by event position),
 * and a live notification whenever an order's status changes.
 */
export const ordersProjection: Projection = {
  name: 'orders',
  version: 1,
  collections: [ORDERS],
  indexes: {
    [ORDERS]: [
      { keys: [['customerId', 1], ['createdAt', -1]] },
      // Expiry: PENDING by age, CONFIRMED (unpaid) by confirmation time.
      { keys: [['status', 1], ['createdAt', 1]] },
      { keys: [['status', 1], ['updatedAt', 1]] },
    ],
  },
  handles: (event) => ORDER_EVENT_TYPES.has(event.type),
  documents: (event) => [{ collection: ORDERS, id: (event.data as OrderEvent['data']).orderId }],
  async apply(event: RecordedEvent, target) {
    const orderEvent = { type: event.type, data: event.data } as OrderEvent;
    const collection = target.collection<OrderDoc>(ORDERS);
    const before = await collection.get(orderEvent.data.orderId);
    if (before && (before._position ?? -1) >= event.position) return { changed: false };
    const after = evolveOrderDoc(before, orderEvent);
    if (!after || !(await collection.upsertIfNewer(after, event.position))) return { changed: false };
    if (before?.status === after.status) return { changed: true };
    const message: OrderStatusNotification = { order: { ...after, _position: event.position }, at: event.metadata.occurredAt, position: event.position };
    return { changed: true, notifications: [{ channel: ORDER_STATUS_CHANNEL, message }] };
  },
};
