import { z } from 'zod';
import type { Bus, Consumer, DeliveredMessage } from '../../platform/bus/bus.js';
import { PRODUCT_TOPIC } from '../product/public-events.js';
import type { OrderService } from './service.js';

export const REPLIES_GROUP = 'order.reservation-replies';

const money = z.object({ amount: z.number().int(), currency: z.string() });
const reserved = z.object({ orderId: z.string(), productId: z.string(), quantity: z.number().int(), unitPrice: money, sellerId: z.string() });
const rejected = z.object({ orderId: z.string(), productId: z.string(), quantity: z.number().int(), reason: z.enum(['INSUFFICIENT_STOCK', 'DISCONTINUED', 'UNKNOWN_PRODUCT']), available: z.number().int() });

function parse<T>(schema: z.ZodType<T>, message: DeliveredMessage): T {
  const parsed = schema.safeParse(message.value);
  if (!parsed.success) throw Object.assign(new Error(`malformed ${message.type}: ${parsed.error.message}`), { retryable: false });
  return parsed.data;
}

function rejectionReason(r: z.infer<typeof rejected>): string {
  switch (r.reason) {
    case 'INSUFFICIENT_STOCK':
      return `insufficient stock for product ${r.productId}: ${r.quantity} requested, ${r.available} available`;
    case 'DISCONTINUED':
      return `product ${r.productId} is discontinued`;
    case 'UNKNOWN_PRODUCT':
      return `product ${r.productId} does not exist`;
  }
}

/**
 * The order service's half of the saga: it follows the product service's public stock events
 * and confirms (every line reserved) or rejects (a line refused) the order. The order decider
 * ignores a reply it has already recorded, so duplicates change nothing.
 */
export function startReservationReplies(bus: Bus, service: OrderService): Promise<Consumer> {
  return bus.consume({
    groupId: REPLIES_GROUP,
    topics: [PRODUCT_TOPIC],
    handler: async (message) => {
      const causation = { messageId: message.id, ...(message.headers?.['x-correlation-id'] && { correlationId: message.headers['x-correlation-id'] }) };
      switch (message.type) {
        case 'StockReserved.v1':
          return service.recordReservation(parse(reserved, message), causation);
        case 'StockReservationRejected.v1': {
          const reply = parse(rejected, message);
          return service.recordRejection({ orderId: reply.orderId, productId: reply.productId, reason: rejectionReason(reply) }, causation);
        }
        default:
          return; // catalog changes, releases and sales need nothing from orders
      }
    },
  });
}
