import type { Decider } from '../../platform/eventsourcing/decider.js';
import { assertNever } from '../../platform/errors.js';
import type { OrderPlacementNoted, ProductFactsRecorded, ProductViewed, PurchaseRecorded, PurchaseWithdrawn } from './events.js';

/** One user's views of one product count at most once per this many milliseconds (the view-flood rule). */
export const VIEW_COUNT_INTERVAL_MS = 60 * 60 * 1000;

// ------------------------------------------------------------------------------------ views

export interface RecordView {
  type: 'RecordView';
  userId: string;
  productId: string;
  at: string;
}

export interface ViewState {
  /** When this user's last counted view of this product happened. */
  lastCountedAt: string | null;
}

/**
 * A user's views of one product. A view counts (is recorded) only when the last counted one is at
 * least an hour old: a bot reloading a page cannot push a product up, and the stream stays short
 * (at most 24 events a day per user and product).
 */
export const viewDecider: Decider<RecordView, ProductViewed, ViewState> = {
  initialState: () => ({ lastCountedAt: null }),
  decide(command, state) {
    if (state.lastCountedAt !== null && Date.parse(command.at) - Date.parse(state.lastCountedAt) < VIEW_COUNT_INTERVAL_MS) return [];
    return [{ type: 'ProductViewed', data: { userId: command.userId, productId: command.productId, viewedAt: command.at } }];
  },
  evolve: (_state, event) => ({ lastCountedAt: event.data.viewedAt }),
};

// -------------------------------------------------------------------------------- purchases

export type PurchaseCommand =
  | { type: 'NotePlacement'; orderId: string; customerId: string; productIds: readonly string[]; at: string }
  | { type: 'RecordPurchase'; orderId: string; productIds: readonly string[]; at: string }
  | { type: 'WithdrawPurchase'; orderId: string; at: string };

export type PurchaseEvent = OrderPlacementNoted | PurchaseRecorded | PurchaseWithdrawn;

export interface PurchaseState {
  customerId: string | null;
  noted: boolean;
  status: 'none' | 'recorded' | 'withdrawn';
  productIds: string[];
  paidAt: string | null;
}

/** Distinct product ids in a stable order: an order counts once per product, whatever the quantities. */
export const distinctProducts = (ids: readonly string[]): string[] => [...new Set(ids)].sort();

/**
 * What the recommendation service knows of one order, from order.events.v1. Idempotent by its
 * state: a placement noted twice, a purchase recorded twice or withdrawn twice decides nothing,
 * so a redelivered message appends nothing.
 */
export const purchaseDecider: Decider<PurchaseCommand, PurchaseEvent, PurchaseState> = {
  initialState: () => ({ customerId: null, noted: false, status: 'none', productIds: [], paidAt: null }),
  decide(command, state) {
    switch (command.type) {
      case 'NotePlacement':
        if (state.noted || state.status !== 'none') return [];
        return [{ type: 'OrderPlacementNoted', data: { orderId: command.orderId, customerId: command.customerId, productIds: distinctProducts(command.productIds), placedAt: command.at } }];
      case 'RecordPurchase':
        if (state.status !== 'none') return [];
        return [{ type: 'PurchaseRecorded', data: { orderId: command.orderId, customerId: state.customerId, productIds: distinctProducts(command.productIds), paidAt: command.at } }];
      case 'WithdrawPurchase':
        if (state.status !== 'recorded') return []; // never paid (nothing to withdraw), or already withdrawn
        return [{ type: 'PurchaseWithdrawn', data: { orderId: command.orderId, customerId: state.customerId, productIds: state.productIds, paidAt: state.paidAt!, withdrawnAt: command.at } }];
      default:
        return assertNever(command, 'purchase command');
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'OrderPlacementNoted':
        return { ...state, noted: true, customerId: event.data.customerId, productIds: event.data.productIds };
      case 'PurchaseRecorded':
        return { ...state, status: 'recorded', customerId: event.data.customerId, productIds: event.data.productIds, paidAt: event.data.paidAt };
      case 'PurchaseWithdrawn':
        return { ...state, status: 'withdrawn' };
      default:
        return assertNever(event, 'purchase event');
    }
  },
};

// ---------------------------------------------------------------------------- product facts

export interface ProductFacts {
  category: string;
  status: 'ACTIVE' | 'DISCONTINUED';
  inStock: boolean;
}

export interface RecordProductFacts {
  type: 'RecordProductFacts';
  productId: string;
  /** The facts this message states; a listing states all of them. */
  facts: Partial<ProductFacts>;
  /** Whether the message lists the product (the first thing known of it). */
  listing: boolean;
  /** Position of the product event in the product service's log, when the message says. */
  sourcePosition: number | null;
  at: string;
}

export type ProductFactsState = (ProductFacts & { sourcePosition: number | null }) | null;

/**
 * A product's facts as the recommendation service needs them. A message older than the last one
 * recorded (by source position), or one that changes nothing recommendations care about (most
 * stock movements), decides nothing: redeliveries append nothing.
 */
export const productFactsDecider: Decider<RecordProductFacts, ProductFactsRecorded, ProductFactsState> = {
  initialState: () => null,
  decide(command, state) {
    if (state === null && !command.listing) return []; // nothing known of it yet: a later listing will say everything
    if (state && command.sourcePosition !== null && state.sourcePosition !== null && command.sourcePosition <= state.sourcePosition) return [];
    if (state?.status === 'DISCONTINUED') return []; // final: the product service never sells it again
    const base: ProductFacts = state ?? { category: '', status: 'ACTIVE', inStock: false };
    const next: ProductFacts = {
      category: command.facts.category ?? base.category,
      status: command.facts.status ?? base.status,
      inStock: command.facts.inStock ?? base.inStock,
    };
    if (state && next.category === state.category && next.status === state.status && next.inStock === state.inStock) return [];
    return [{ type: 'ProductFactsRecorded', data: { productId: command.productId, ...next, sourcePosition: command.sourcePosition, recordedAt: command.at } }];
  },
  evolve: (_state, event) => ({ category: event.data.category, status: event.data.status, inStock: event.data.inStock, sourcePosition: event.data.sourcePosition }),
};

/** Whether a product may be recommended. */
export const isAvailable = (facts: ProductFacts | null | undefined): boolean => !!facts && facts.status === 'ACTIVE' && facts.inStock;
