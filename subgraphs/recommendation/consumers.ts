import { z } from 'zod';
import type { Bus, Consumer, DeliveredMessage } from '../../platform/bus/bus.js';
import { isUuid } from '../../platform/ids.js';
import { ORDER_TOPIC } from '../order/public-events.js';
import { PRODUCT_TOPIC } from '../product/public-events.js';
import type { ProductFacts } from './decider.js';
import type { Causation, RecommendationService } from './service.js';

/**
 * The recommendation service's consumers of other services' public events. Neither calls
 * another service: what it needs arrives on the bus and is recorded as its own events. Both are
 * idempotent by decision state (the deciders decide nothing for a message already recorded), so
 * a redelivered or duplicated message appends nothing.
 */
export const PURCHASES_GROUP = 'recommendation.purchases';
export const PRODUCT_FACTS_GROUP = 'recommendation.product-facts';

const line = z.object({ productId: z.string(), quantity: z.number().int() });
const placed = z.object({ orderId: z.string(), customerId: z.string(), items: z.array(line), occurredAt: z.string().optional() });
const paid = z.object({ orderId: z.string(), items: z.array(line).min(1), occurredAt: z.string().optional() });
const cancelled = z.object({ orderId: z.string(), refunded: z.boolean(), occurredAt: z.string().optional() });

const listed = z.object({ productId: z.string(), category: z.string(), stock: z.number().int() });
const detailsChanged = z.object({ productId: z.string(), category: z.string().optional() });
const stockLevel = z.object({ productId: z.string(), stock: z.number().int() });
const discontinued = z.object({ productId: z.string() });

function parse<T>(schema: z.ZodType<T>, message: DeliveredMessage): T {
  const parsed = schema.safeParse(message.value);
  if (!parsed.success) throw Object.assign(new Error(`malformed ${message.type}: ${parsed.error.message}`), { retryable: false });
  return parsed.data;
}

/** Product ids as read models key them (UUIDs: they become field names of co-purchase documents); anything else names no product. */
const productIdsOf = (items: readonly { productId: string }[]) => items.map((i) => i.productId).filter(isUuid);

function causationOf(message: DeliveredMessage): Causation {
  return { messageId: message.id, ...(message.headers?.['x-correlation-id'] && { correlationId: message.headers['x-correlation-id'] }) };
}

/** When the message says when it happened (the relay's header, or the event's own field); else now. */
function occurredAt(message: DeliveredMessage, value: { occurredAt?: string | undefined }, clock: () => Date): string {
  return value.occurredAt ?? message.headers?.['x-occurred-at'] ?? clock().toISOString();
}

/** Purchases from order.events.v1: noted when placed (who the customer is), recorded when paid, withdrawn when a paid order is cancelled. */
export function startPurchaseConsumer(bus: Bus, service: RecommendationService, clock: () => Date = () => new Date()): Promise<Consumer> {
  return bus.consume({
    groupId: PURCHASES_GROUP,
    topics: [ORDER_TOPIC],
    handler: async (message) => {
      const causation = causationOf(message);
      switch (message.type) {
        case 'OrderPlaced.v1': {
          const v = parse(placed, message);
          await service.purchase({ type: 'NotePlacement', orderId: v.orderId, customerId: v.customerId, productIds: productIdsOf(v.items), at: occurredAt(message, v, clock) }, causation);
          return;
        }
        case 'OrderPaid.v1': {
          const v = parse(paid, message);
          await service.purchase({ type: 'RecordPurchase', orderId: v.orderId, productIds: productIdsOf(v.items), at: occurredAt(message, v, clock) }, causation);
          return;
        }
        case 'OrderCancelled.v1': {
          const v = parse(cancelled, message);
          // Only a paid order's cancellation withdraws a purchase; the decider ignores the others.
          await service.purchase({ type: 'WithdrawPurchase', orderId: v.orderId, at: occurredAt(message, v, clock) }, causation);
          return;
        }
        default:
          return; // confirmations, rejections, failed payments and shipments change no purchase
      }
    },
  });
}

/** What a product message says about the facts recommendations need; undefined when nothing. */
function factsOf(message: DeliveredMessage): { productId: string; facts: Partial<ProductFacts>; listing: boolean } | undefined {
  switch (message.type) {
    case 'ProductListed.v1': {
      const v = parse(listed, message);
      return { productId: v.productId, facts: { category: v.category, status: 'ACTIVE', inStock: v.stock > 0 }, listing: true };
    }
    case 'ProductDetailsChanged.v1': {
      const v = parse(detailsChanged, message);
      return v.category === undefined ? undefined : { productId: v.productId, facts: { category: v.category }, listing: false };
    }
    case 'StockLevelChanged.v1':
    case 'StockReserved.v1':
    case 'StockReleased.v1': {
      const v = parse(stockLevel, message);
      return { productId: v.productId, facts: { inStock: v.stock > 0 }, listing: false };
    }
    case 'ProductDiscontinued.v1':
      return { productId: parse(discontinued, message).productId, facts: { status: 'DISCONTINUED', inStock: false }, listing: false };
    default:
      return undefined; // sales and rejected reservations change no fact
  }
}

/** Product facts (category, discontinued, stock > 0) from product.events.v1. */
export function startProductFactsConsumer(bus: Bus, service: RecommendationService): Promise<Consumer> {
  return bus.consume({
    groupId: PRODUCT_FACTS_GROUP,
    topics: [PRODUCT_TOPIC],
    handler: async (message) => {
      const facts = factsOf(message);
      if (!facts) return;
      const position = Number(message.headers?.['x-position']);
      await service.productFacts({ ...facts, sourcePosition: Number.isFinite(position) && message.headers?.['x-position'] ? position : null }, causationOf(message));
    },
  });
}
