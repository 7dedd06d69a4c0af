import type { Identity } from '../../../platform/auth/tokens.js';
import type { Collection } from '../../../platform/documents/document-store.js';
import { handleCommand, type CommandContext } from '../../../platform/eventsourcing/command-handler.js';
import { ForbiddenError } from '../../../platform/errors.js';
import { unauthenticated } from '../../../platform/graphql/errors.js';
import { isUuid, uuidV5 } from '../../../platform/ids.js';
import type { ServicePorts } from '../../../platform/ports.js';
import { validateTimeZone } from '../../../platform/time-zones.js';
import type { ProductDoc } from '../catalog/read-model.js';
import type { Money } from '../events.js';
import { dayRange, localDate, SLOT_MS, type DayRange } from './days.js';
import { timeZoneDecider, viewNoteDecider } from './decider.js';
import { analyticsViewStream, sellerZoneStream } from './events.js';
import { ANALYTICS_PRODUCT_DAYS, ANALYTICS_SELLER_DAYS, ANALYTICS_TIME_ZONES, type DayDoc, type Revenue, type SlotFigures, type TimeZoneDoc } from './read-model.js';

/** Who caused a step that arrived over the bus. */
export interface Causation {
  messageId: string;
  correlationId?: string;
}

export interface AnalyticsServiceDeps extends Pick<ServicePorts, 'events' | 'documents' | 'metrics' | 'logger'> {
  clock: () => Date;
  /** The seller's newest product, for the currency of a summary without sales. */
  newestProductOf: (sellerId: string) => Promise<ProductDoc | undefined>;
}

export interface DayFigures {
  date: string;
  unitsSold: number;
  revenue: Money;
  orders: number;
}

export interface SalesSummary extends Omit<DayFigures, 'date'> {
  from: string;
  to: string;
  timeZone: string;
  /** Revenue in currencies other than `revenue`'s (a price moved to another currency): never added up with it. */
  otherRevenue: Money[];
  days: DayFigures[];
}

export interface ProductAnalytics extends SalesSummary {
  views: number;
  conversionRate: number | null;
  days: (DayFigures & { views: number })[];
}

/** Namespace of analytics view stream ids: one stream per (user, product). */
const VIEW_NAMESPACE = '5c3b8f1e-9a27-4d6e-b0c4-7e2f1a9d8b36';
const DAY_MS = 24 * 60 * 60 * 1000;
/** When a seller has neither sales in the range nor products. */
const FALLBACK_CURRENCY = 'EUR';

/** One slot's figures, at its start (epoch ms). */
type Slot = SlotFigures & { slot: number };

/**
 * Seller analytics in the product slice: notes views and time zones from the bus as the slice's
 * own events, and answers from the analytics read model (projection.ts), summing 15-minute UTC
 * slots by the seller's local day at query time (days.ts). Readable by the seller or an admin.
 */
export class AnalyticsService {
  constructor(private readonly deps: AnalyticsServiceDeps) {}

  private context(causation: Causation): CommandContext {
    return { actor: 'consumer:product-analytics', correlationId: causation.correlationId ?? causation.messageId, causationId: causation.messageId, now: this.deps.clock() };
  }

  /** A view the recommendation service counted (recommendation.events.v1). Returns whether it was noted. */
  async noteView(view: { userId: string; productId: string; viewedAt: string }, causation: Causation): Promise<boolean> {
    if (!isUuid(view.productId)) return false; // names no product of this deployment
    const stream = analyticsViewStream(uuidV5(`${view.userId}\n${view.productId}`, VIEW_NAMESPACE));
    const { events } = await handleCommand(this.deps.events, viewNoteDecider, stream, { type: 'NoteView', ...view }, this.context(causation));
    return events.length > 0;
  }

  /** A user's time zone (user.events.v1). Returns whether it was noted. */
  async noteTimeZone(userId: string, timeZone: string, sourcePosition: number | null, causation: Causation): Promise<boolean> {
    let zone: string;
    try {
      zone = validateTimeZone(timeZone);
    } catch {
      // The user service validated it; a zone this runtime does not know must not stop the consumer.
      this.deps.logger.warn({ userId, timeZone }, 'unknown time zone in user.events.v1; analytics keep the previous one');
      return false;
    }
    const now = this.deps.clock();
    const { events } = await handleCommand(this.deps.events, timeZoneDecider, sellerZoneStream(userId), { type: 'NoteTimeZone', userId, timeZone: zone, sourcePosition, at: now.toISOString() }, this.context(causation));
    return events.length > 0;
  }

  /** The seller's own sales (or, for an admin, any seller's). */
  async salesSummary(sellerId: string, from: string, to: string, actor: Identity | undefined): Promise<SalesSummary> {
    if (!actor) throw unauthenticated('sign in to see sales');
    if (actor.role !== 'ADMIN' && (actor.userId !== sellerId || actor.role !== 'SELLER')) throw new ForbiddenError('only the seller, or an admin, may see their sales');
    return this.timed('sales_summary', async () => {
      const range = dayRange(from, to);
      const timeZone = await this.timeZoneOf(sellerId);
      const slots = await this.slots(this.deps.documents.collection<DayDoc>(ANALYTICS_SELLER_DAYS), sellerId, range);
      const currency = reportingCurrency(slots, (await this.deps.newestProductOf(sellerId))?.price.currency);
      return summarise(slots, range, timeZone, currency, from, to);
    });
  }

  /** A product's figures, for its seller or an admin. */
  async productAnalytics(product: ProductDoc, from: string, to: string, actor: Identity | undefined): Promise<ProductAnalytics> {
    if (!actor) throw unauthenticated('sign in to see product analytics');
    if (actor.role !== 'ADMIN' && actor.userId !== product.sellerId) throw new ForbiddenError("only the product's seller, or an admin, may see its analytics");
    return this.timed('product', async () => {
      const range = dayRange(from, to);
      const timeZone = await this.timeZoneOf(product.sellerId);
      const slots = await this.slots(this.deps.documents.collection<DayDoc>(ANALYTICS_PRODUCT_DAYS), product._id, range);
      const summary = summarise(slots, range, timeZone, product.price.currency, from, to);
      const views = new Map<string, number>();
      for (const s of slots) {
        const date = localDate(s.slot, timeZone);
        views.set(date, (views.get(date) ?? 0) + s.views);
      }
      const days = summary.days.map((d) => ({ ...d, views: views.get(d.date) ?? 0 }));
      const total = days.reduce((n, d) => n + d.views, 0);
      return { ...summary, days, views: total, conversionRate: total === 0 ? null : summary.orders / total };
    });
  }

  private async timed<T>(query: 'sales_summary' | 'product', run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.deps.metrics.analyticsQueryDuration.observe({ query }, (performance.now() - started) / 1000);
    }
  }

  private async timeZoneOf(userId: string): Promise<string> {
    return (await this.deps.documents.collection<TimeZoneDoc>(ANALYTICS_TIME_ZONES).get(userId))?.timeZone ?? 'UTC';
  }

  /** An owner's slots around the range: its day documents, looked up by id (at most 368). */
  private async slots(docs: Collection<DayDoc>, ownerId: string, range: DayRange): Promise<Slot[]> {
    const ids: string[] = [];
    for (let day = range.fromMs; day < range.toMs; day += DAY_MS) ids.push(`${ownerId}:${new Date(day).toISOString().slice(0, 10)}`);
    const slots: Slot[] = [];
    for (const doc of await docs.getMany(ids)) {
      const start = Date.parse(`${doc.day}T00:00:00Z`);
      for (const [index, figures] of Object.entries(doc.slots)) slots.push({ ...figures, slot: start + Number(index) * SLOT_MS });
    }
    return slots;
  }
}

/** The currency `revenue` is given in: the newest product's, else the first one sold in, else EUR. */
function reportingCurrency(slots: readonly Slot[], productCurrency: string | undefined): string {
  if (productCurrency) return productCurrency;
  for (const s of slots) for (const [currency, amount] of Object.entries(s.revenue)) if (amount !== 0) return currency;
  return FALLBACK_CURRENCY;
}

function summarise(slots: readonly Slot[], range: DayRange, timeZone: string, currency: string, from: string, to: string): SalesSummary {
  const byDay = new Map<string, { unitsSold: number; orders: number; revenue: Revenue }>(range.dates.map((d) => [d, { unitsSold: 0, orders: 0, revenue: {} }]));
  for (const s of slots) {
    const day = byDay.get(localDate(s.slot, timeZone));
    if (!day) continue; // one of the extra days around the range
    day.unitsSold += s.unitsSold;
    day.orders += s.orders;
    for (const [c, amount] of Object.entries(s.revenue)) day.revenue[c] = (day.revenue[c] ?? 0) + amount;
  }
  const days = [...byDay].map(([date, d]) => ({ date, unitsSold: d.unitsSold, orders: d.orders, revenue: { amount: d.revenue[currency] ?? 0, currency } }));
  const others: Revenue = {};
  for (const d of byDay.values()) for (const [c, amount] of Object.entries(d.revenue)) if (c !== currency) others[c] = (others[c] ?? 0) + amount;
  return {
    from,
    to,
    timeZone,
    unitsSold: days.reduce((n, d) => n + d.unitsSold, 0),
    orders: days.reduce((n, d) => n + d.orders, 0),
    revenue: { amount: days.reduce((n, d) => n + d.revenue.amount, 0), currency },
    otherRevenue: Object.entries(others)
      .filter(([, amount]) => amount !== 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, amount]) => ({ amount, currency: c })),
    days,
  };
}
