import type { Identity } from '../../../platform/auth/tokens.js';
import type { Collection, Doc, Filter } from '../../../platform/documents/document-store.js';
import { handleCommand, type CommandContext } from '../../../platform/eventsourcing/command-handler.js';
import { ForbiddenError } from '../../../platform/errors.js';
import { unauthenticated } from '../../../platform/graphql/errors.js';
import { isUuid, uuidV5 } from '../../../platform/ids.js';
import type { ServicePorts } from '../../../platform/ports.js';
import { validateTimeZone } from '../../../platform/time-zones.js';
import type { ProductDoc } from '../catalog/read-model.js';
import type { Money } from '../events.js';
import { dayRange, localDate, type DayRange } from './days.js';
import { timeZoneDecider, viewNoteDecider } from './decider.js';
import { analyticsViewStream, sellerZoneStream } from './events.js';
import { ANALYTICS_PRODUCT_SLOTS, ANALYTICS_SELLER_SLOTS, ANALYTICS_TIME_ZONES, type Figures, type ProductSlotDoc, type Revenue, type SellerSlotDoc, type TimeZoneDoc } from './read-model.js';

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
const PAGE = 500;
/** When a seller has neither sales in the range nor products. */
const FALLBACK_CURRENCY = 'EUR';

type SlotDoc = Doc & Figures & { slot: number; views?: number };

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
      const slots = await this.slots(this.deps.documents.collection<SellerSlotDoc>(ANALYTICS_SELLER_SLOTS), { sellerId }, range);
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
      const slots = await this.slots(this.deps.documents.collection<ProductSlotDoc>(ANALYTICS_PRODUCT_SLOTS), { productId: product._id }, range);
      const summary = summarise(slots, range, timeZone, product.price.currency, from, to);
      const views = new Map<string, number>();
      for (const s of slots) views.set(localDate(s.slot, timeZone), (views.get(localDate(s.slot, timeZone)) ?? 0) + (s.views ?? 0));
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

  /** The slot documents of an owner around the range (at most 368 days of 96 slots, usually far fewer: slots are sparse). */
  private async slots<T extends SlotDoc>(docs: Collection<T>, owner: Filter, range: DayRange): Promise<T[]> {
    const filter: Filter = { ...owner, slot: { $gte: range.fromMs, $lt: range.toMs } };
    const all: T[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await docs.find({ filter, sort: [['slot', 1]], first: PAGE, ...(after !== undefined && { after }) });
      all.push(...page.items);
      if (!page.hasNextPage) return all;
      after = page.endCursor;
    }
  }
}

/** The currency `revenue` is given in: the newest product's, else the first one sold in, else EUR. */
function reportingCurrency(slots: readonly SlotDoc[], productCurrency: string | undefined): string {
  if (productCurrency) return productCurrency;
  for (const s of slots) for (const [currency, amount] of Object.entries(s.revenue)) if (amount !== 0) return currency;
  return FALLBACK_CURRENCY;
}

function summarise(slots: readonly SlotDoc[], range: DayRange, timeZone: string, currency: string, from: string, to: string): SalesSummary {
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
