import type { DomainEvent } from '../../platform/eventsourcing/decider.js';

export interface Money {
  amount: number; // minor units
  currency: string;
}

export const orderStream = (orderId: string) => `order-${orderId}`;

/** A line as placed: which product, how many. */
export interface OrderLine {
  productId: string;
  quantity: number;
}

/** Placed by a customer: PENDING while the product service reserves each line. */
export type OrderPlaced = DomainEvent<'OrderPlaced', { orderId: string; customerId: string; items: OrderLine[]; idempotencyKey: string | null; placedAt: string }>;

/** One line's units are held, at the price of that moment. */
export type OrderLineReserved = DomainEvent<'OrderLineReserved', { orderId: string; productId: string; unitPrice: Money; sellerId: string; reservedAt: string }>;

/** Every line is reserved: the order awaits payment. */
export type OrderConfirmed = DomainEvent<'OrderConfirmed', { orderId: string; total: Money; confirmedAt: string }>;

/** A line could not be reserved; `items` lets the product service release the others. */
export type OrderRejected = DomainEvent<'OrderRejected', { orderId: string; reason: string; productId: string | null; items: OrderLine[]; rejectedAt: string }>;

export type OrderPaid = DomainEvent<'OrderPaid', { orderId: string; chargeId: string; amount: Money; idempotencyKey: string | null; items: OrderLine[]; paidAt: string }>;

export type OrderPaymentFailed = DomainEvent<'OrderPaymentFailed', { orderId: string; reason: string; items: OrderLine[]; failedAt: string }>;

/** Cancelled by the customer (or an admin), or expired unpaid (`reason` says so). */
export type OrderCancelled = DomainEvent<'OrderCancelled', { orderId: string; cancelledBy: string; refundId: string | null; items: OrderLine[]; cancelledAt: string; reason?: string }>;

export type OrderShipped = DomainEvent<'OrderShipped', { orderId: string; shippedBy: string; shippedAt: string }>;

export type OrderEvent = OrderPlaced | OrderLineReserved | OrderConfirmed | OrderRejected | OrderPaid | OrderPaymentFailed | OrderCancelled | OrderShipped;

export const ORDER_EVENT_TYPES: ReadonlySet<string> = new Set<OrderEvent['type']>([
  'OrderPlaced',
  'OrderLineReserved',
  'OrderConfirmed',
  'OrderRejected',
  'OrderPaid',
  'OrderPaymentFailed',
  'OrderCancelled',
  'OrderShipped',
]);
