import type { RecordedEvent } from '../../platform/event-store/event-store.js';
import { assertNever } from '../../platform/errors.js';
import type { PublicContract, PublicEvent } from '../../projections/relay.js';
import { ORDER_EVENT_TYPES, type Money, type OrderEvent, type OrderLine } from './events.js';

/**
 * The order service's public contract on the bus (topic `order.events.v1`), keyed by order id,
 * so one order's events stay in order for every consumer. Events that end a reservation carry
 * the order's lines, so the product service can release or sell them without asking.
 */
export const ORDER_TOPIC = 'order.events.v1';

export type OrderPublicEvent =
  | { type: 'OrderPlaced.v1'; value: { orderId: string; customerId: string; items: OrderLine[]; occurredAt: string } }
  | { type: 'OrderConfirmed.v1'; value: { orderId: string; total: Money; occurredAt: string } }
  | { type: 'OrderRejected.v1'; value: { orderId: string; reason: string; items: OrderLine[]; occurredAt: string } }
  | { type: 'OrderPaid.v1'; value: { orderId: string; amount: Money; items: OrderLine[]; occurredAt: string } }
  | { type: 'OrderPaymentFailed.v1'; value: { orderId: string; items: OrderLine[]; occurredAt: string } }
  | { type: 'OrderCancelled.v1'; value: { orderId: string; refunded: boolean; items: OrderLine[]; occurredAt: string } }
  | { type: 'OrderShipped.v1'; value: { orderId: string; occurredAt: string } };

export const orderPublicEvents: PublicContract = (event: RecordedEvent): PublicEvent | undefined => {
  if (!ORDER_EVENT_TYPES.has(event.type)) return undefined;
  const e = { type: event.type, data: event.data } as OrderEvent;
  const occurredAt = event.metadata.occurredAt;
  let published: OrderPublicEvent;
  switch (e.type) {
    case 'OrderPlaced':
      published = { type: 'OrderPlaced.v1', value: { orderId: e.data.orderId, customerId: e.data.customerId, items: e.data.items, occurredAt } };
      break;
    case 'OrderLineReserved':
      return undefined; // internal bookkeeping; the product service already knows
    case 'OrderConfirmed':
      published = { type: 'OrderConfirmed.v1', value: { orderId: e.data.orderId, total: e.data.total, occurredAt } };
      break;
    case 'OrderRejected':
      published = { type: 'OrderRejected.v1', value: { orderId: e.data.orderId, reason: e.data.reason, items: e.data.items, occurredAt } };
      break;
    case 'OrderPaid':
      published = { type: 'OrderPaid.v1', value: { orderId: e.data.orderId, amount: e.data.amount, items: e.data.items, occurredAt } };
      break;
    case 'OrderPaymentFailed':
      published = { type: 'OrderPaymentFailed.v1', value: { orderId: e.data.orderId, items: e.data.items, occurredAt } };
      break;
    case 'OrderCancelled':
      published = { type: 'OrderCancelled.v1', value: { orderId: e.data.orderId, refunded: e.data.refundId !== null, items: e.data.items, occurredAt } };
      break;
    case 'OrderShipped':
      published = { type: 'OrderShipped.v1', value: { orderId: e.data.orderId, occurredAt } };
      break;
    default:
      return assertNever(e, 'order event');
  }
  return { topic: ORDER_TOPIC, key: published.value.orderId, ...published };
};
