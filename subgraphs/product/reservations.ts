import { z } from 'zod';
import type { Bus, Consumer, DeliveredMessage } from '../../platform/bus/bus.js';
import { NotFoundError } from '../../platform/errors.js';
import { uuidV5 } from '../../platform/ids.js';
import type { Logger } from '../../platform/logging.js';
import { ORDER_TOPIC } from '../order/public-events.js';
import { PRODUCT_TOPIC, type StockReservationRejectedV1 } from './public-events.js';
import type { ProductService } from './service.js';

export const RESERVATIONS_GROUP = 'product.reservations';

const lines = z.array(z.object({ productId: z.string(), quantity: z.number().int().positive() })).min(1);
// occurredAt: when the order event happened; for OrderPlaced, when the order was placed.
const withItems = z.object({ orderId: z.string(), items: lines, occurredAt: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'not a timestamp') });

/** Which inventory command each order event asks of every product on the order. */
const ACTIONS = {
  'OrderPlaced.v1': 'ReserveStock',
  'OrderRejected.v1': 'ReleaseStock',
  'OrderPaymentFailed.v1': 'ReleaseStock',
  'OrderCancelled.v1': 'ReleaseStock',
  'OrderPaid.v1': 'SellStock',
} as const;

const REPLY_NAMESPACE = '0b6f3c7e-2d9a-4e51-8c1f-5a7e9d2b4c60';

/**
 * The product service's half of the order saga: it follows the public order events and reserves
 * (on OrderPlaced), releases (on rejection, failed payment or cancellation) or sells (on payment)
 * each line on that product's own stream. Every step is idempotent per order in the product's
 * decider, so a redelivered or duplicated message changes nothing; the outcomes reach the order
 * service as public stock events through the relay.
 *
 * An order naming a product that does not exist cannot be answered on a product stream (there is
 * none, and creating one would squat a SKU's id); that rejection is published on the bus directly.
 * It is the only write of that step, under a message id derived from (order, product), so a
 * retried step repeats the same message, which the order service ignores the second time.
 */
export function startReservationConsumer(bus: Bus, service: ProductService, logger: Logger): Promise<Consumer> {
  return bus.consume({
    groupId: RESERVATIONS_GROUP,
    topics: [ORDER_TOPIC],
    handler: async (message: DeliveredMessage) => {
      const action = ACTIONS[message.type as keyof typeof ACTIONS] as (typeof ACTIONS)[keyof typeof ACTIONS] | undefined;
      if (!action) return; // confirmations and shipments need nothing from inventory
      const parsed = withItems.safeParse(message.value);
      if (!parsed.success) throw Object.assign(new Error(`malformed ${message.type}: ${parsed.error.message}`), { retryable: false });
      const { orderId, items, occurredAt } = parsed.data;
      const causation = { messageId: message.id, ...(message.headers?.['x-correlation-id'] && { correlationId: message.headers['x-correlation-id'] }) };
      // Lines one after another: a rejected line does not stop the others (the order service
      // rejects the order at its first rejection and the release that follows frees the rest).
      for (const line of items) {
        try {
          await service.inventory(action === 'ReserveStock' ? { type: action, orderId, quantity: line.quantity, placedAt: occurredAt } : { type: action, orderId }, line.productId, causation);
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
          if (action !== 'ReserveStock') continue; // nothing was ever reserved on a product that does not exist
          logger.info({ orderId, productId: line.productId }, 'order names an unknown product; rejecting the line');
          const value: StockReservationRejectedV1 = { productId: line.productId, orderId, quantity: line.quantity, reason: 'UNKNOWN_PRODUCT', available: 0, occurredAt: new Date().toISOString() };
          await bus.publish(PRODUCT_TOPIC, [
            {
              id: uuidV5(`${orderId}\n${line.productId}`, REPLY_NAMESPACE),
              key: line.productId,
              type: 'StockReservationRejected.v1',
              value,
              headers: { 'x-correlation-id': causation.correlationId ?? message.id, 'x-causation-id': message.id },
            },
          ]);
        }
      }
    },
  });
}
