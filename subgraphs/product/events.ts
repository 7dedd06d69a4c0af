import type { DomainEvent } from '../../platform/eventsourcing/decider.js';
import type { EventSchemas } from '../../platform/eventsourcing/upcasting.js';

export interface Money {
  amount: number; // minor units
  currency: string;
}

export const productStream = (productId: string) => `product-${productId}`;

export type ProductCreated = DomainEvent<
  'ProductCreated',
  {
    productId: string;
    sku: string;
    name: string;
    description: string | null;
    category: string;
    price: Money;
    initialStock: number;
    sellerId: string;
    createdAt: string;
  }
>;

export type ProductUpdated = DomainEvent<
  'ProductUpdated',
  {
    productId: string;
    changes: { name?: string; description?: string | null; category?: string; price?: Money };
    updatedAt: string;
  }
>;

export type ProductRestocked = DomainEvent<'ProductRestocked', { productId: string; quantity: number; stock: number; restockedAt: string }>;

export type ProductDiscontinued = DomainEvent<'ProductDiscontinued', { productId: string; stockWithdrawn: number; discontinuedAt: string }>;

// Inventory: units held for orders. Every one names its order, which makes them idempotent per
// order: a product's stream knows what it did for each order, so a redelivered request is a no-op.

/** `quantity` units leave the sellable stock for `orderId`, at `unitPrice` (the price at that moment). */
export type StockReserved = DomainEvent<'StockReserved', { productId: string; orderId: string; quantity: number; unitPrice: Money; sellerId: string; stock: number; reservedAt: string }>;

export type ReservationRejectionReason = 'INSUFFICIENT_STOCK' | 'DISCONTINUED' | 'UNKNOWN_PRODUCT';

/** The order could not have its units: nothing was taken. */
export type StockReservationRejected = DomainEvent<
  'StockReservationRejected',
  { productId: string; orderId: string; quantity: number; reason: ReservationRejectionReason; available: number; rejectedAt: string }
>;

/** Units reserved (or sold) for an order that was rejected, cancelled or not paid come back. */
export type StockReleased = DomainEvent<'StockReleased', { productId: string; orderId: string; quantity: number; stock: number; releasedAt: string }>;

/** The order was paid: its reserved units are sold (stock already excludes them). */
export type StockSold = DomainEvent<'StockSold', { productId: string; orderId: string; quantity: number; soldAt: string }>;

export type InventoryEvent = StockReserved | StockReservationRejected | StockReleased | StockSold;

export type ProductEvent = ProductCreated | ProductUpdated | ProductRestocked | ProductDiscontinued | InventoryEvent;

export const PRODUCT_EVENT_TYPES: ReadonlySet<string> = new Set<ProductEvent['type']>([
  'ProductCreated',
  'ProductUpdated',
  'ProductRestocked',
  'ProductDiscontinued',
  'StockReserved',
  'StockReservationRejected',
  'StockReleased',
  'StockSold',
]);

/**
 * Schema versions of the product events that changed shape (platform/eventsourcing/upcasting.ts):
 * ProductCreated is at version 2. Version 1 had no `description` (a product got one only by a
 * later ProductUpdated); version 2 always has it, null when there is none.
 */
export const PRODUCT_EVENT_SCHEMAS: EventSchemas = {
  ProductCreated: { version: 2, upcasters: { 1: (data) => ({ ...data, description: data.description ?? null }) } },
};
