import { z } from 'zod';
import type { Bus, Consumer, DeliveredMessage } from '../../platform/bus/bus.js';
import { ORDER_TOPIC } from '../order/public-events.js';
import { PRODUCT_TOPIC } from '../product/public-events.js';
import { USER_TOPIC } from '../user/public-events.js';
import type { NotificationKind } from './channels/channel.js';
import type { Causation, NotificationService } from './service.js';

/**
 * The notification service's consumers of other services' public events. None calls another
 * service: what a notification needs (an order's customer, a product's seller, a user's address)
 * arrives on the bus and is recorded as the notification service's own facts first. Each is
 * idempotent: facts by decision state, notifications by their id (derived from the message id,
 * kind and recipient), so a redelivered or duplicated message notifies once.
 */
export const ORDER_NOTIFICATIONS_GROUP = 'notification.orders';
export const PRODUCT_NOTIFICATIONS_GROUP = 'notification.products';
export const RECIPIENTS_GROUP = 'notification.recipients';

const money = z.object({ amount: z.number(), currency: z.string() });
const line = z.object({ productId: z.string(), quantity: z.number().int() });
const placed = z.object({ orderId: z.string(), customerId: z.string(), occurredAt: z.string().optional() });
const confirmed = z.object({ orderId: z.string(), total: money.optional(), occurredAt: z.string().optional() });
const rejected = z.object({ orderId: z.string(), reason: z.string(), occurredAt: z.string().optional() });
const paid = z.object({ orderId: z.string(), amount: money.optional(), items: z.array(line).optional(), occurredAt: z.string().optional() });
const plain = z.object({ orderId: z.string(), occurredAt: z.string().optional() });
const cancelled = z.object({ orderId: z.string(), refunded: z.boolean(), occurredAt: z.string().optional() });

const listed = z.object({ productId: z.string(), name: z.string(), sellerId: z.string() });
const detailsChanged = z.object({ productId: z.string(), name: z.string().optional() });
const reserved = z.object({ productId: z.string(), sellerId: z.string(), quantity: z.number().int(), stock: z.number().int(), occurredAt: z.string().optional() });
const sold = z.object({ productId: z.string(), orderId: z.string(), quantity: z.number().int(), occurredAt: z.string().optional() });

const registered = z.object({ userId: z.string(), email: z.string(), name: z.string(), role: z.string() });
const profileUpdated = z.object({ userId: z.string(), name: z.string() });

function parse<T>(schema: z.ZodType<T>, message: DeliveredMessage): T {
  const parsed = schema.safeParse(message.value);
  if (!parsed.success) throw Object.assign(new Error(`malformed ${message.type}: ${parsed.error.message}`), { retryable: false });
  return parsed.data;
}

function causationOf(message: DeliveredMessage): Causation {
  return { messageId: message.id, ...(message.headers?.['x-correlation-id'] && { correlationId: message.headers['x-correlation-id'] }) };
}

function occurredAt(message: DeliveredMessage, value: { occurredAt?: string | undefined }, clock: () => Date): string {
  return value.occurredAt ?? message.headers?.['x-occurred-at'] ?? clock().toISOString();
}

/** Which customer notification an order message causes, with its facts. */
function customerNotification(message: DeliveredMessage): { orderId: string; kind: NotificationKind; data: Record<string, unknown>; value: { occurredAt?: string | undefined } } | undefined {
  switch (message.type) {
    case 'OrderConfirmed.v1': {
      const v = parse(confirmed, message);
      return { orderId: v.orderId, kind: 'ORDER_CONFIRMED', data: v.total ? { total: v.total } : {}, value: v };
    }
    case 'OrderRejected.v1': {
      const v = parse(rejected, message);
      return { orderId: v.orderId, kind: 'ORDER_REJECTED', data: { reason: v.reason }, value: v };
    }
    case 'OrderPaid.v1': {
      const v = parse(paid, message);
      return { orderId: v.orderId, kind: 'ORDER_PAID', data: v.amount ? { amount: v.amount } : {}, value: v };
    }
    case 'OrderPaymentFailed.v1': {
      const v = parse(plain, message);
      return { orderId: v.orderId, kind: 'PAYMENT_FAILED', data: {}, value: v };
    }
    case 'OrderCancelled.v1': {
      const v = parse(cancelled, message);
      return { orderId: v.orderId, kind: 'ORDER_CANCELLED', data: { refunded: v.refunded }, value: v };
    }
    case 'OrderShipped.v1': {
      const v = parse(plain, message);
      return { orderId: v.orderId, kind: 'ORDER_SHIPPED', data: {}, value: v };
    }
    default:
      return undefined;
  }
}

/** Customers' notifications from order.events.v1 (the customer from OrderPlaced.v1, first on the order's partition). */
export function startOrderNotificationConsumer(bus: Bus, service: NotificationService, clock: () => Date = () => new Date()): Promise<Consumer> {
  return bus.consume({
    groupId: ORDER_NOTIFICATIONS_GROUP,
    topics: [ORDER_TOPIC],
    handler: async (message) => {
      const causation = causationOf(message);
      if (message.type === 'OrderPlaced.v1') {
        const v = parse(placed, message);
        await service.noteOrderCustomer(v.orderId, v.customerId, causation);
        return;
      }
      const n = customerNotification(message);
      if (n) await service.notifyCustomer(n.orderId, n.kind, n.data, occurredAt(message, n.value, clock), causation);
    },
  });
}

/** Sellers' notifications from product.events.v1: units sold, stock low, sold out (the seller from ProductListed.v1 or StockReserved.v1). */
export function startProductNotificationConsumer(bus: Bus, service: NotificationService, clock: () => Date = () => new Date()): Promise<Consumer> {
  return bus.consume({
    groupId: PRODUCT_NOTIFICATIONS_GROUP,
    topics: [PRODUCT_TOPIC],
    handler: async (message) => {
      const causation = causationOf(message);
      switch (message.type) {
        case 'ProductListed.v1': {
          const v = parse(listed, message);
          await service.productFact({ type: 'NoteProduct', productId: v.productId, sellerId: v.sellerId, name: v.name }, causation);
          return;
        }
        case 'ProductDetailsChanged.v1': {
          const v = parse(detailsChanged, message);
          if (v.name !== undefined) await service.productFact({ type: 'RenameProduct', productId: v.productId, name: v.name }, causation);
          return;
        }
        case 'StockReserved.v1': {
          const v = parse(reserved, message);
          await service.stockTaken(v.productId, v.sellerId, v.stock, v.quantity, occurredAt(message, v, clock), causation);
          return;
        }
        case 'StockSold.v1': {
          const v = parse(sold, message);
          await service.unitSold(v.productId, v.orderId, v.quantity, occurredAt(message, v, clock), causation);
          return;
        }
        default:
          return; // restocks, releases, rejections and discontinuations notify nobody
      }
    },
  });
}

/** Recipients' addresses and names from user.events.v1. */
export function startRecipientConsumer(bus: Bus, service: NotificationService): Promise<Consumer> {
  return bus.consume({
    groupId: RECIPIENTS_GROUP,
    topics: [USER_TOPIC],
    handler: async (message) => {
      const causation = causationOf(message);
      if (message.type === 'UserRegistered.v1') {
        const v = parse(registered, message);
        await service.recipientFact({ type: 'NoteRecipient', userId: v.userId, email: v.email, name: v.name, role: v.role }, causation);
      } else if (message.type === 'ProfileUpdated.v1') {
        const v = parse(profileUpdated, message);
        await service.recipientFact({ type: 'RenameRecipient', userId: v.userId, name: v.name }, causation);
      }
    },
  });
}
