import type { Identity } from '../../platform/auth/tokens.js';
import type { Decider } from '../../platform/eventsourcing/decider.js';
import { assertNever, ForbiddenError, IllegalStateError, NotFoundError, ValidationError, AlreadyExistsError } from '../../platform/errors.js';
import { isUuid } from '../../platform/ids.js';
import type { Money, OrderEvent, OrderLine } from './events.js';

export type Actor = Identity;

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'PAID' | 'PAYMENT_FAILED' | 'CANCELLED' | 'SHIPPED';

export interface OrderItemState {
  productId: string;
  quantity: number;
  /** Known once the line is reserved (the price at that moment). */
  unitPrice: Money | null;
  sellerId: string | null;
}

/** An order as its events describe it; plain JSON, so the read model stores it as it is. */
export interface PlacedOrder {
  orderId: string;
  customerId: string;
  items: OrderItemState[];
  total: Money | null;
  status: OrderStatus;
  statusReason: string | null;
  idempotencyKey: string | null;
  chargeId: string | null;
  paymentKey: string | null;
  createdAt: string;
  updatedAt: string;
  /** Revision of the order's stream. */
  version: number;
}

export type OrderState = { status: 'none' } | PlacedOrder;

interface Base {
  orderId: string;
  at: string;
}
export type PlaceOrder = Base & { type: 'PlaceOrder'; by: Actor; items: readonly OrderLine[]; idempotencyKey: string | null };
export type RecordReservation = Base & { type: 'RecordReservation'; productId: string; unitPrice: Money; sellerId: string };
export type RecordRejection = Base & { type: 'RecordRejection'; productId: string | null; reason: string };
export type RecordPayment = Base & { type: 'RecordPayment'; by: Actor; chargeId: string; amount: Money; idempotencyKey: string | null };
export type RecordPaymentFailure = Base & { type: 'RecordPaymentFailure'; by: Actor; reason: string };
export type CancelOrder = Base & { type: 'CancelOrder'; by: Actor; refundId: string | null };
export type ShipOrder = Base & { type: 'ShipOrder'; by: Actor };
/**
 * Releases the stock of an order the saga or the customer left hanging: still PENDING since
 * before `pendingSince` (the reservation never completed), or CONFIRMED and unpaid since before
 * `confirmedSince`. Decided on the stream's own timestamps, so a stale read model cannot expire
 * an order that moved on.
 */
export type ExpireOrder = Base & { type: 'ExpireOrder'; pendingSince: string; confirmedSince: string };

/** The provider holds a charge for this order that was never recorded (a crash after charging). */
export type ReconcilePayment = Base & { type: 'ReconcilePayment'; chargeId: string; amount: Money };

export type OrderCommand = PlaceOrder | RecordReservation | RecordRejection | RecordPayment | RecordPaymentFailure | CancelOrder | ShipOrder | ExpireOrder | ReconcilePayment;

/** Who the saga's own decisions are recorded as. */
export const SYSTEM_ACTOR = 'system';

/** Lines per order; more is a mistake (or an attack), not a basket. */
export const MAX_LINES = 50;
export const MAX_LINE_QUANTITY = 10_000;

const itemsField = (...path: (string | number)[]) => ['input', 'items', ...path.map(String)];

/**
 * Validates and normalises the lines of a new order. The same product on two lines is merged
 * into one line (quantities added, first position kept): a basket that lists a product twice
 * means "this many in all", and one line per product keeps reservations one per product.
 */
export function normaliseLines(items: readonly OrderLine[]): OrderLine[] {
  if (items.length === 0) throw new ValidationError('an order needs at least one item', itemsField());
  if (items.length > MAX_LINES) throw new ValidationError(`an order may have at most ${MAX_LINES} lines`, itemsField());
  const merged = new Map<string, OrderLine>();
  items.forEach((item, i) => {
    if (!isUuid(item.productId)) throw new NotFoundError(`product ${item.productId} does not exist`, itemsField(i, 'productId'));
    if (!Number.isInteger(item.quantity) || item.quantity <= 0) throw new ValidationError('quantity must be a whole number greater than zero', itemsField(i, 'quantity'));
    const productId = item.productId.toLowerCase();
    const line = merged.get(productId);
    const quantity = (line?.quantity ?? 0) + item.quantity;
    if (quantity > MAX_LINE_QUANTITY) throw new ValidationError(`at most ${MAX_LINE_QUANTITY} units of one product per order`, itemsField(i, 'quantity'));
    merged.set(productId, { productId, quantity });
  });
  return [...merged.values()];
}

/**
 * A PAID order is cancelled only with its refund: the canceller decided on an older state (say
 * CONFIRMED, no refund needed) and the payment was recorded meanwhile. It re-reads and refunds.
 */
export class RefundRequiredError extends IllegalStateError {
  constructor(orderId: string) {
    super(`order ${orderId} was paid meanwhile; it is cancelled only with its refund`, ['id']);
  }
}

export function requireOrder(state: OrderState, orderId: string): PlacedOrder {
  if (state.status === 'none') throw new NotFoundError(`order ${orderId} does not exist`, ['id']);
  return state;
}

/** Customers see (and act on) only their own orders; admins see every order. */
export function canSee(order: PlacedOrder, by: Actor): boolean {
  return by.role === 'ADMIN' || by.userId === order.customerId;
}

function requireOwner(order: PlacedOrder, by: Actor, what: string): void {
  if (by.userId !== order.customerId && !(by.role === 'ADMIN' && what === 'cancel')) throw new ForbiddenError(`only the customer who placed this order may ${what} it`);
}

const lines = (order: PlacedOrder): OrderLine[] => order.items.map(({ productId, quantity }) => ({ productId, quantity }));

export type PaymentStep = { action: 'charge'; amount: Money } | { action: 'already-paid' };

/**
 * What paying needs before the provider is called: the owner, a CONFIRMED order. A PAID order
 * paid again with the same idempotency key answers as before; with another key it is refused.
 */
export function paymentStep(state: OrderState, orderId: string, by: Actor, idempotencyKey: string | null): PaymentStep {
  const order = requireOrder(state, orderId);
  requireOwner(order, by, 'pay');
  switch (order.status) {
    case 'CONFIRMED':
      return { action: 'charge', amount: order.total! };
    case 'PAID':
      if (idempotencyKey !== null && idempotencyKey === order.paymentKey) return { action: 'already-paid' };
      throw new IllegalStateError('the order is already paid', ['id']);
    case 'PENDING':
      throw new IllegalStateError('the order is still being confirmed; pay once it is CONFIRMED', ['id']);
    case 'REJECTED':
    case 'PAYMENT_FAILED':
    case 'CANCELLED':
    case 'SHIPPED':
      throw new IllegalStateError(`a ${order.status} order cannot be paid`, ['id']);
    default:
      return assertNever(order.status, 'order status');
  }
}

export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  const { orderId, at } = command;
  switch (command.type) {
    case 'PlaceOrder': {
      if (command.by.role !== 'CUSTOMER') throw new ForbiddenError('only customers place orders');
      const items = normaliseLines(command.items);
      if (state.status !== 'none') {
        // The same idempotency key again: the order it placed, unless the request differs.
        const same = state.customerId === command.by.userId && JSON.stringify(lines(state)) === JSON.stringify(items);
        if (!same) throw new AlreadyExistsError('this idempotency key was already used for a different order', ['input', 'idempotencyKey']);
        return [];
      }
      return [{ type: 'OrderPlaced', data: { orderId, customerId: command.by.userId, items, idempotencyKey: command.idempotencyKey, placedAt: at } }];
    }
    case 'RecordReservation': {
      if (state.status !== 'PENDING') return []; // a duplicate, or the order ended meanwhile (its stock is released by the saga)
      const line = state.items.find((i) => i.productId === command.productId);
      if (!line || line.unitPrice) return [];
      const reserved: OrderEvent = { type: 'OrderLineReserved', data: { orderId, productId: command.productId, unitPrice: command.unitPrice, sellerId: command.sellerId, reservedAt: at } };
      const priced = state.items.map((i) => (i.productId === command.productId ? { ...i, unitPrice: command.unitPrice } : i));
      if (priced.some((i) => !i.unitPrice)) return [reserved];
      const currencies = [...new Set(priced.map((i) => i.unitPrice!.currency))];
      if (currencies.length > 1) {
        return [reserved, { type: 'OrderRejected', data: { orderId, reason: `items are priced in different currencies (${currencies.join(', ')})`, productId: null, items: lines(state), rejectedAt: at } }];
      }
      const amount = priced.reduce((sum, i) => sum + i.unitPrice!.amount * i.quantity, 0);
      return [reserved, { type: 'OrderConfirmed', data: { orderId, total: { amount, currency: currencies[0]! }, confirmedAt: at } }];
    }
    case 'RecordRejection':
      if (state.status !== 'PENDING') return [];
      return [{ type: 'OrderRejected', data: { orderId, reason: command.reason, productId: command.productId, items: lines(state), rejectedAt: at } }];
    case 'RecordPayment': {
      const order = requireOrder(state, orderId);
      if (order.status === 'PAID' && order.chargeId === command.chargeId) return [];
      paymentStep(state, orderId, command.by, command.idempotencyKey);
      return [{ type: 'OrderPaid', data: { orderId, chargeId: command.chargeId, amount: command.amount, idempotencyKey: command.idempotencyKey, items: lines(order), paidAt: at } }];
    }
    case 'RecordPaymentFailure': {
      const order = requireOrder(state, orderId);
      if (order.status === 'PAYMENT_FAILED') return [];
      paymentStep(state, orderId, command.by, null);
      return [{ type: 'OrderPaymentFailed', data: { orderId, reason: command.reason, items: lines(order), failedAt: at } }];
    }
    case 'CancelOrder': {
      const order = requireOrder(state, orderId);
      requireOwner(order, command.by, 'cancel');
      switch (order.status) {
        case 'CANCELLED':
          return [];
        case 'PENDING':
        case 'CONFIRMED':
        case 'PAID':
          if (order.status === 'PAID' && !command.refundId) throw new RefundRequiredError(orderId);
          return [{ type: 'OrderCancelled', data: { orderId, cancelledBy: command.by.userId, refundId: command.refundId, items: lines(order), cancelledAt: at } }];
        case 'REJECTED':
        case 'PAYMENT_FAILED':
        case 'SHIPPED':
          throw new IllegalStateError(`a ${order.status} order cannot be cancelled`, ['id']);
        default:
          return assertNever(order.status, 'order status');
      }
    }
    case 'ShipOrder': {
      const order = requireOrder(state, orderId);
      const sellsEveryItem = order.items.every((i) => i.sellerId === command.by.userId);
      if (command.by.role !== 'ADMIN' && !(command.by.role === 'SELLER' && sellsEveryItem)) throw new ForbiddenError('only an admin or the seller of every item may ship an order');
      if (order.status === 'SHIPPED') return [];
      if (order.status !== 'PAID') throw new IllegalStateError(`a ${order.status} order cannot be shipped; it must be PAID`, ['id']);
      return [{ type: 'OrderShipped', data: { orderId, shippedBy: command.by.userId, shippedAt: at } }];
    }
    case 'ReconcilePayment':
      if (state.status !== 'CONFIRMED') return [];
      return [{ type: 'OrderPaid', data: { orderId, chargeId: command.chargeId, amount: command.amount, idempotencyKey: null, items: lines(state), paidAt: at } }];
    case 'ExpireOrder': {
      if (state.status === 'PENDING' && state.createdAt < command.pendingSince) {
        return [{ type: 'OrderRejected', data: { orderId, reason: 'stock reservation did not complete in time', productId: null, items: lines(state), rejectedAt: at } }];
      }
      if (state.status === 'CONFIRMED' && state.updatedAt < command.confirmedSince) {
        return [{ type: 'OrderCancelled', data: { orderId, cancelledBy: SYSTEM_ACTOR, refundId: null, items: lines(state), cancelledAt: at, reason: 'payment not received in time' } }];
      }
      return [];
    }
    default:
      return assertNever(command, 'order command');
  }
}

export function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderPlaced') {
    const d = event.data;
    return {
      orderId: d.orderId,
      customerId: d.customerId,
      items: d.items.map((i) => ({ ...i, unitPrice: null, sellerId: null })),
      total: null,
      status: 'PENDING',
      statusReason: null,
      idempotencyKey: d.idempotencyKey,
      chargeId: null,
      paymentKey: null,
      createdAt: d.placedAt,
      updatedAt: d.placedAt,
      version: 0,
    };
  }
  if (state.status === 'none') return state;
  const next = { ...state, version: state.version + 1 };
  switch (event.type) {
    case 'OrderLineReserved': {
      const d = event.data;
      return { ...next, items: state.items.map((i) => (i.productId === d.productId ? { ...i, unitPrice: d.unitPrice, sellerId: d.sellerId } : i)), updatedAt: d.reservedAt };
    }
    case 'OrderConfirmed':
      return { ...next, status: 'CONFIRMED', total: event.data.total, updatedAt: event.data.confirmedAt };
    case 'OrderRejected':
      return { ...next, status: 'REJECTED', statusReason: event.data.reason, updatedAt: event.data.rejectedAt };
    case 'OrderPaid':
      return { ...next, status: 'PAID', chargeId: event.data.chargeId, paymentKey: event.data.idempotencyKey, updatedAt: event.data.paidAt };
    case 'OrderPaymentFailed':
      return { ...next, status: 'PAYMENT_FAILED', statusReason: event.data.reason, updatedAt: event.data.failedAt };
    case 'OrderCancelled':
      return { ...next, status: 'CANCELLED', statusReason: event.data.reason ?? (event.data.refundId ? 'cancelled and refunded' : 'cancelled'), updatedAt: event.data.cancelledAt };
    case 'OrderShipped':
      return { ...next, status: 'SHIPPED', updatedAt: event.data.shippedAt };
    default:
      return assertNever(event, 'order event');
  }
}

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  decide,
  evolve,
  initialState: () => ({ status: 'none' }),
};
