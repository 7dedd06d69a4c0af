import { assertNever, ForbiddenError, IllegalStateError, NotFoundError, ValidationError, AlreadyExistsError, ConcurrencyError } from '../../platform/errors.js';
import type { Identity } from '../../platform/auth/tokens.js';
import type { Decider } from '../../platform/eventsourcing/decider.js';
import { uuidV5 } from '../../platform/ids.js';
import type { InventoryEvent, Money, ProductEvent } from './events.js';

/** Who is acting, as the gateway verified it. */
export type Actor = Identity;

interface CommandBase {
  productId: string;
  by: Actor;
  /** When it happens, set by the caller (the decider reads no clock). */
  at: string;
}

export type CreateProduct = CommandBase & {
  type: 'CreateProduct';
  sku: string;
  name: string;
  description?: string | null;
  category: string;
  price: Money;
  initialStock: number;
};

export type UpdateProduct = CommandBase & {
  type: 'UpdateProduct';
  changes: { name?: string | null; description?: string | null; category?: string | null; price?: Money | null };
  expectedVersion?: number | null;
};

export type RestockProduct = CommandBase & { type: 'RestockProduct'; quantity: number };
export type DiscontinueProduct = CommandBase & { type: 'DiscontinueProduct' };

/** Inventory commands come from the order saga (trusted, over the bus), not from a user. */
interface InventoryCommandBase {
  productId: string;
  orderId: string;
  at: string;
}
export type ReserveStock = InventoryCommandBase & {
  type: 'ReserveStock';
  quantity: number;
  /** When the order was placed (its OrderPlaced event): an order older than the memory is not reserved for. */
  placedAt: string;
};
export type ReleaseStock = InventoryCommandBase & { type: 'ReleaseStock' };
export type SellStock = InventoryCommandBase & { type: 'SellStock' };
export type InventoryCommand = ReserveStock | ReleaseStock | SellStock;

export type ProductCommand = CreateProduct | UpdateProduct | RestockProduct | DiscontinueProduct | InventoryCommand;

/** What this product did for one order. */
export interface Reservation {
  quantity: number;
  state: 'reserved' | 'sold' | 'released' | 'rejected';
  /** When it came to this state (the event's own time). */
  at: string;
}

/**
 * A ReserveStock for an order placed longer ago than this is stale: the product decides nothing
 * (the order service expired such an order long before; nothing waits for the answer).
 */
export const STALE_ORDER_MS = 30 * 24 * 3600 * 1000;

/**
 * How long a product remembers what it did for an order once that is finished (sold, released or
 * rejected); open reservations are remembered until they finish. Within it every inventory command
 * is idempotent per order; after it the state forgets the order, so the state (and its snapshots)
 * stays bounded however long the stream grows. A day longer than STALE_ORDER_MS: an order is
 * forgotten only once it was placed before the stale horizon (even with the two services' clocks a
 * little apart), so a very late redelivery of its OrderPlaced can never reserve a second time.
 * A paid order cancelled more than this after its sale gets no units back into stock (see
 * docs/stream-cost.md).
 */
export const RESERVATION_MEMORY_MS = STALE_ORDER_MS + 24 * 3600 * 1000;

/**
 * Every order's latest reservation outcome, newest first, as a persistent list: `evolve` adds an
 * entry in O(1) without copying (folding a hot product's long stream stays linear) and earlier
 * states stay valid. A command looks its order up once. Entries that the decider no longer looks
 * at (finished longer than RESERVATION_MEMORY_MS ago) are dropped when the state is snapshotted.
 */
export interface ReservationLog {
  orderId: string;
  reservation: Reservation;
  previous: ReservationLog | null;
}

export function reservationFor(state: ProductState, orderId: string): Reservation | undefined {
  if (state.status === 'none' || !state.reservations) return undefined;
  return lookup(state.reservations, orderId);
}

/**
 * Each order's latest reservation in the log from a given entry down, memoised per entry so that
 * a command on a hot product looks its order up in O(1) however many orders the product
 * remembers (a scan of a best seller's month of orders took about 0.1 ms per command). A state is
 * usually looked up once and then evolved, so the index of the entry below a new one is taken
 * over and extended by the newer entries (usually one); a state looked up for the first time is
 * scanned (a cold start decides once, and building an index costs more than one scan), and indexed
 * when a state evolved from it is looked up in turn. An older state looked up again after its
 * index was taken over is scanned or rebuilds its own. The memo is not part of the state: deciding
 * is the same with or without it.
 */
const indexes = new WeakMap<ReservationLog, Map<string, Reservation>>();
const scanned = new WeakSet<ReservationLog>();

function lookup(head: ReservationLog, orderId: string): Reservation | undefined {
  const newer: ReservationLog[] = [];
  let entry: ReservationLog | null = head;
  for (; entry && !indexes.has(entry) && !scanned.has(entry); entry = entry.previous) newer.push(entry);
  if (!entry) {
    // Nothing below was ever looked up: this was a scan of the whole log.
    scanned.add(head);
    return newer.find((e) => e.orderId === orderId)?.reservation;
  }
  let index = indexes.get(entry);
  if (index) {
    indexes.delete(entry); // taken over: that state scans or rebuilds if it is looked up again
  } else {
    index = new Map<string, Reservation>(); // below was scanned once already: index the whole log
    newer.length = 0;
    for (let all: ReservationLog | null = head; all; all = all.previous) newer.push(all);
  }
  for (let i = newer.length - 1; i >= 0; i--) index.set(newer[i]!.orderId, newer[i]!.reservation); // oldest first: the newest wins
  indexes.set(head, index);
  return index.get(orderId);
}

/** Whether the product still remembers a reservation at time `now`: open ones always, finished ones for RESERVATION_MEMORY_MS. */
export function isRemembered(reservation: Reservation, now: string): boolean {
  return reservation.state === 'reserved' || Date.parse(reservation.at) >= Date.parse(now) - RESERVATION_MEMORY_MS;
}

/** The reservation of an order as the decider sees it at `now` (undefined once forgotten). */
function rememberedReservation(state: ProductState, orderId: string, now: string): Reservation | undefined {
  const reservation = reservationFor(state, orderId);
  return reservation && isRemembered(reservation, now) ? reservation : undefined;
}

/**
 * The latest reservation of every order the decider will still look at from `now` on (newest first):
 * what a snapshot keeps. `now` must not be later than any later command's time; the snapshot takes
 * the state's last event time less a day, so clocks of several instances a little apart are safe.
 */
export function rememberedReservations(state: ProductState, now: string): { orderId: string; reservation: Reservation }[] {
  const kept: { orderId: string; reservation: Reservation }[] = [];
  for (const [orderId, reservation] of reservationsOf(state)) if (isRemembered(reservation, now)) kept.push({ orderId, reservation });
  return kept;
}

/** Each order's current reservation outcome. */
export function reservationsOf(state: ProductState): Map<string, Reservation> {
  const all = new Map<string, Reservation>();
  if (state.status === 'none') return all;
  for (let entry = state.reservations; entry; entry = entry.previous) if (!all.has(entry.orderId)) all.set(entry.orderId, entry.reservation);
  return all;
}

export type ProductState =
  | { status: 'none' }
  | {
      status: 'active' | 'discontinued';
      productId: string;
      sellerId: string;
      name: string;
      description: string | null;
      category: string;
      price: Money;
      stock: number;
      /** Per order id; remembered after release too, so a redelivered request changes nothing. */
      reservations: ReservationLog | null;
      /** Revision of the stream: the number of events applied minus one. */
      version: number;
      sku: string;
      createdAt: string;
      /** Time of the last event (its own time field). */
      updatedAt: string;
    };

export const MAX_STOCK = 1_000_000_000; // GraphQL Int is 32-bit; stay well inside it
const MAX_AMOUNT = 1_000_000_000;
const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const input = (...path: string[]) => ['input', ...path];

function requireText(value: string | null | undefined, field: string[], what: string, max: number): string {
  const text = (value ?? '').trim();
  if (text.length === 0) throw new ValidationError(`${what} must not be empty`, field);
  if (text.length > max) throw new ValidationError(`${what} must be at most ${max} characters`, field);
  return text;
}

function optionalText(value: string | null | undefined, field: string[], max: number): string | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text.length > max) throw new ValidationError(`description must be at most ${max} characters`, field);
  return text.length === 0 ? null : text;
}

function requireMoney(price: Money, field: string[]): Money {
  if (!Number.isInteger(price.amount)) throw new ValidationError('price must be a whole number of minor units (cents)', [...field, 'amount']);
  if (price.amount <= 0) throw new ValidationError('price must be greater than zero', [...field, 'amount']);
  if (price.amount > MAX_AMOUNT) throw new ValidationError(`price must be at most ${MAX_AMOUNT} minor units`, [...field, 'amount']);
  const currency = price.currency.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw new ValidationError('currency must be an ISO 4217 code such as EUR', [...field, 'currency']);
  return { amount: price.amount, currency };
}

function requireQuantity(value: number, field: string[], what: string, min: number): number {
  if (!Number.isInteger(value)) throw new ValidationError(`${what} must be a whole number`, field);
  if (value < min) throw new ValidationError(`${what} must be ${min === 0 ? 'zero or more' : 'greater than zero'}`, field);
  if (value > MAX_STOCK) throw new ValidationError(`${what} must be at most ${MAX_STOCK}`, field);
  return value;
}

function requireOwner(state: Extract<ProductState, { productId: string }>, by: Actor): void {
  if (by.role !== 'ADMIN' && by.userId !== state.sellerId) throw new ForbiddenError('only the seller of this product may change it');
}

function requireExisting(state: ProductState, productId: string): Extract<ProductState, { productId: string }> {
  if (state.status === 'none') throw new NotFoundError(`product ${productId} does not exist`, ['id']);
  return state;
}

export function normaliseSku(sku: string): string {
  return sku.trim().toUpperCase();
}

/** Namespace for product ids derived from SKUs (UUIDv5): one SKU, one stream, so a duplicate is a conflict. */
const PRODUCT_ID_NAMESPACE = '2f0b7a34-5c1e-4f4e-9a55-7b9d3c1e8a10';

export function productIdForSku(sku: string): string {
  return uuidV5(normaliseSku(sku), PRODUCT_ID_NAMESPACE);
}

export function decide(command: ProductCommand, state: ProductState): ProductEvent[] {
  switch (command.type) {
    case 'CreateProduct': {
      if (command.by.role !== 'SELLER' && command.by.role !== 'ADMIN') throw new ForbiddenError('only sellers may create products');
      const sku = command.sku.trim();
      if (sku.length === 0) throw new ValidationError('SKU must not be empty', input('sku'));
      if (!SKU.test(sku)) throw new ValidationError('SKU may use letters, digits, ".", "_" and "-" (at most 64)', input('sku'));
      const event: ProductEvent = {
        type: 'ProductCreated',
        data: {
          productId: command.productId,
          sku: normaliseSku(sku),
          name: requireText(command.name, input('name'), 'name', 200),
          description: optionalText(command.description, input('description'), 5000),
          category: requireText(command.category, input('category'), 'category', 100),
          price: requireMoney(command.price, input('price')),
          initialStock: requireQuantity(command.initialStock, input('initialStock'), 'initial stock', 0),
          sellerId: command.by.userId,
          createdAt: command.at,
        },
      };
      if (state.status !== 'none') throw new AlreadyExistsError(`a product with SKU ${event.data.sku} already exists`, input('sku'));
      return [event];
    }
    case 'UpdateProduct': {
      const current = requireExisting(state, command.productId);
      requireOwner(current, command.by);
      if (command.expectedVersion !== undefined && command.expectedVersion !== null && command.expectedVersion !== current.version) {
        throw new ConcurrencyError(`product-${command.productId}`, `version ${command.expectedVersion}`, `version ${current.version}`, ['expectedVersion']);
      }
      if (current.status === 'discontinued') throw new IllegalStateError('a discontinued product cannot be changed', ['id']);
      const { name, description, category, price } = command.changes;
      if (name === undefined && description === undefined && category === undefined && price === undefined) {
        throw new ValidationError('nothing to update', ['input']);
      }
      const changes: Extract<ProductEvent, { type: 'ProductUpdated' }>['data']['changes'] = {};
      if (name !== undefined) {
        const value = requireText(name, input('name'), 'name', 200);
        if (value !== current.name) changes.name = value;
      }
      if (description !== undefined) {
        const value = optionalText(description, input('description'), 5000);
        if (value !== current.description) changes.description = value;
      }
      if (category !== undefined) {
        const value = requireText(category, input('category'), 'category', 100);
        if (value !== current.category) changes.category = value;
      }
      if (price !== undefined) {
        if (price === null) throw new ValidationError('price cannot be removed', input('price'));
        const value = requireMoney(price, input('price'));
        if (value.amount !== current.price.amount || value.currency !== current.price.currency) changes.price = value;
      }
      if (Object.keys(changes).length === 0) return []; // same values again: nothing happened
      return [{ type: 'ProductUpdated', data: { productId: command.productId, changes, updatedAt: command.at } }];
    }
    case 'RestockProduct': {
      const current = requireExisting(state, command.productId);
      requireOwner(current, command.by);
      const quantity = requireQuantity(command.quantity, ['quantity'], 'quantity', 1);
      if (current.status === 'discontinued') throw new IllegalStateError('a discontinued product cannot be restocked', ['id']);
      if (current.stock + quantity > MAX_STOCK) throw new ValidationError(`stock would exceed ${MAX_STOCK}`, ['quantity']);
      return [{ type: 'ProductRestocked', data: { productId: command.productId, quantity, stock: current.stock + quantity, restockedAt: command.at } }];
    }
    case 'DiscontinueProduct': {
      const current = requireExisting(state, command.productId);
      requireOwner(current, command.by);
      if (current.status === 'discontinued') return []; // idempotent
      return [{ type: 'ProductDiscontinued', data: { productId: command.productId, stockWithdrawn: current.stock, discontinuedAt: command.at } }];
    }
    case 'ReserveStock':
    case 'ReleaseStock':
    case 'SellStock':
      return decideInventory(command, requireExisting(state, command.productId));
    default:
      return assertNever(command, 'product command');
  }
}

/**
 * The inventory side of the order saga. Each outcome is recorded against the order id, so every
 * command is idempotent: a second request for an order already handled decides nothing.
 */
function decideInventory(command: InventoryCommand, state: Extract<ProductState, { productId: string }>): ProductEvent[] {
  const { productId, orderId, at } = command;
  const existing = rememberedReservation(state, orderId, at);
  switch (command.type) {
    case 'ReserveStock': {
      if (existing) return [];
      // Placed before the memory: this product may have reserved for it and forgotten (a very late
      // redelivery). Reserving again could hold units for an order that ended long ago, which
      // nothing would release; the order itself expired long since, so nothing waits for an answer.
      if (Date.parse(command.placedAt) < Date.parse(at) - STALE_ORDER_MS) return [];
      const quantity = requireQuantity(command.quantity, ['quantity'], 'quantity', 1);
      if (state.status === 'discontinued') {
        return [{ type: 'StockReservationRejected', data: { productId, orderId, quantity, reason: 'DISCONTINUED', available: 0, rejectedAt: at } }];
      }
      if (state.stock < quantity) {
        return [{ type: 'StockReservationRejected', data: { productId, orderId, quantity, reason: 'INSUFFICIENT_STOCK', available: state.stock, rejectedAt: at } }];
      }
      return [{ type: 'StockReserved', data: { productId, orderId, quantity, unitPrice: state.price, sellerId: state.sellerId, stock: state.stock - quantity, reservedAt: at } }];
    }
    case 'ReleaseStock': {
      // Reserved or sold units come back (a paid order cancelled before shipping); a discontinued
      // product sells nothing more, so its units do not return to the sellable stock.
      if (!existing || (existing.state !== 'reserved' && existing.state !== 'sold')) return [];
      const stock = state.status === 'discontinued' ? state.stock : Math.min(MAX_STOCK, state.stock + existing.quantity);
      return [{ type: 'StockReleased', data: { productId, orderId, quantity: existing.quantity, stock, releasedAt: at } }];
    }
    case 'SellStock':
      if (existing?.state !== 'reserved') return [];
      return [{ type: 'StockSold', data: { productId, orderId, quantity: existing.quantity, soldAt: at } }];
    default:
      return assertNever(command, 'inventory command');
  }
}

export function evolve(state: ProductState, event: ProductEvent): ProductState {
  switch (event.type) {
    case 'ProductCreated': {
      const d = event.data;
      return {
        status: 'active',
        productId: d.productId,
        sellerId: d.sellerId,
        name: d.name,
        description: d.description,
        category: d.category,
        price: d.price,
        stock: d.initialStock,
        reservations: null,
        version: 0,
        sku: d.sku,
        createdAt: d.createdAt,
        updatedAt: d.createdAt,
      };
    }
    case 'ProductUpdated': {
      if (state.status === 'none') return state;
      const c = event.data.changes;
      return {
        ...state,
        name: c.name ?? state.name,
        description: c.description !== undefined ? c.description : state.description,
        category: c.category ?? state.category,
        price: c.price ?? state.price,
        version: state.version + 1,
        updatedAt: event.data.updatedAt,
      };
    }
    case 'ProductRestocked':
      return state.status === 'none' ? state : { ...state, stock: event.data.stock, version: state.version + 1, updatedAt: event.data.restockedAt };
    case 'ProductDiscontinued':
      return state.status === 'none' ? state : { ...state, status: 'discontinued', stock: 0, version: state.version + 1, updatedAt: event.data.discontinuedAt };
    case 'StockReserved':
    case 'StockReservationRejected':
    case 'StockReleased':
    case 'StockSold': {
      if (state.status === 'none') return state;
      const d = event.data;
      const at = inventoryEventTime(event);
      const next: Reservation =
        event.type === 'StockReserved'
          ? { quantity: d.quantity, state: 'reserved', at }
          : event.type === 'StockReservationRejected'
            ? { quantity: d.quantity, state: 'rejected', at }
            : { quantity: d.quantity, state: event.type === 'StockReleased' ? 'released' : 'sold', at };
      const stock = event.type === 'StockReserved' || event.type === 'StockReleased' ? event.data.stock : state.stock;
      return { ...state, stock, reservations: { orderId: d.orderId, reservation: next, previous: state.reservations }, version: state.version + 1, updatedAt: at };
    }
    default:
      return assertNever(event, 'product event');
  }
}

function inventoryEventTime(event: InventoryEvent): string {
  switch (event.type) {
    case 'StockReserved':
      return event.data.reservedAt;
    case 'StockReservationRejected':
      return event.data.rejectedAt;
    case 'StockReleased':
      return event.data.releasedAt;
    case 'StockSold':
      return event.data.soldAt;
    default:
      return assertNever(event, 'inventory event');
  }
}

export const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = {
  decide,
  evolve,
  initialState: () => ({ status: 'none' }),
};
