import type { Doc, Page } from '../../../platform/documents/document-store.js';
import type { Money } from '../events.js';

/** The product catalog read model: one document per product, as the queries need it. */
export const CATALOG = 'product_catalog';

export interface ProductDoc extends Doc {
  sku: string;
  name: string;
  /** Lower-cased name, for case-insensitive NAME sort. */
  nameKey: string;
  description: string | null;
  category: string;
  price: Money;
  stock: number;
  status: 'ACTIVE' | 'DISCONTINUED';
  sellerId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface UserRef {
  id: string;
}

export type StockChangeReason = 'CREATED' | 'RESTOCKED' | 'RESERVED' | 'RELEASED' | 'SOLD' | 'DISCONTINUED';

/** What the projector publishes on every stock change; carries the product as it now is. */
export interface StockNotification {
  product: ProductDoc;
  previousStock: number;
  stock: number;
  reason: StockChangeReason;
  at: string;
  position: number;
}

export const STOCK_CHANNEL = 'product.stock-changed';

export type ProductPage = Page<ProductDoc> & { totalCount: () => Promise<number> };

/** Cache tags: one per product, one for every list query. */
export const productTag = (id: string) => `product:${id}`;
export const LIST_TAG = 'products:list';
