import type { DomainEvent } from '../../platform/eventsourcing/decider.js';

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

export type ProductEvent = ProductCreated | ProductUpdated | ProductRestocked | ProductDiscontinued;

export const PRODUCT_EVENT_TYPES: ReadonlySet<string> = new Set<ProductEvent['type']>(['ProductCreated', 'ProductUpdated', 'ProductRestocked', 'ProductDiscontinued']);
