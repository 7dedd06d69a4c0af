import type { RecordedEvent } from '../../../platform/event-store/event-store.js';
import { fieldTag } from '../../../platform/cache/response-tags.js';
import { assertNever } from '../../../platform/errors.js';
import type { ApplyResult, Projection } from '../../../projections/projection.js';
import { isAvailable } from '../decider.js';
import type { ProductFactsRecorded, ProductViewed, PurchaseRecorded, PurchaseWithdrawn } from '../events.js';
import { DEFAULT_HALF_LIFE_HOURS, logAdd, logContribution, logSubtract, PURCHASE_WEIGHT, VIEW_WEIGHT } from '../ranking.js';
import {
  AVAILABILITY_TAG,
  CO_PURCHASES,
  PRODUCT_FACTS,
  productRecsTag,
  TRENDING,
  USER_HISTORY,
  userRecsTag,
  VIEWED_KEPT,
  type CoPurchaseDoc,
  type ProductFactsDoc,
  type TrendingDoc,
  type UserHistoryDoc,
} from './read-model.js';
import type { Collection, Doc } from '../../../platform/documents/document-store.js';

type PurchaseChange = PurchaseRecorded | PurchaseWithdrawn;

/** The field whose answers the gateway may keep (gateway/response-cache-policy.ts): what changes them is announced to it. */
const RECOMMENDATIONS_FIELD = 'Product.recommendations';

const UNCHANGED: ApplyResult = { changed: false };

/**
 * Reads a document, lets `change` derive the next one (a new object: a projection never changes
 * what it read, which the projector may remember for later batches) and writes it guarded by the
 * event's position. Returns the document before and after, or undefined when the event was
 * already applied to it (a redelivery, a replay).
 */
async function update<T extends Doc>(docs: Collection<T>, id: string, position: number, change: (before: Readonly<T> | undefined) => T | undefined): Promise<{ before: T | undefined; after: T } | undefined> {
  const before = await docs.get(id);
  if (before && (before._position ?? -1) >= position) return undefined;
  const after = change(before);
  if (!after || !(await docs.upsertIfNewer(after, position))) return undefined;
  return { before, after };
}

/** Product facts: category, status and stock > 0 of every product product.events.v1 listed. */
export const productFactsProjection: Projection = {
  name: 'recommendation-product-facts',
  version: 1,
  collections: [PRODUCT_FACTS],
  feedsGateway: true,
  handles: (event) => event.type === 'ProductFactsRecorded',
  documents: (event) => [{ collection: PRODUCT_FACTS, id: (event.data as ProductFactsRecorded['data']).productId }],
  async apply(event: RecordedEvent, target) {
    const data = event.data as ProductFactsRecorded['data'];
    const written = await update(target.collection<ProductFactsDoc>(PRODUCT_FACTS), data.productId, event.position, () => ({ _id: data.productId, category: data.category, status: data.status, inStock: data.inStock }));
    if (!written) return UNCHANGED;
    const { before, after } = written;
    // A product discontinued, sold out, back in stock or moved to another category changes which
    // answers may contain it: every cached answer goes (see the README on caching).
    const relevant = before !== undefined && (isAvailable(before) !== isAvailable(after) || before.category !== after.category);
    return { changed: true, ...(relevant && { invalidateTags: [AVAILABILITY_TAG], responseTags: [fieldTag(RECOMMENDATIONS_FIELD)] }) };
  },
};

function purchaseData(event: RecordedEvent): PurchaseChange['data'] {
  return event.data as PurchaseChange['data'];
}

/** Co-purchase pairs: per product, its paid orders and how often each other product was in them. */
export const coPurchasesProjection: Projection = {
  name: 'recommendation-co-purchases',
  version: 1,
  collections: [CO_PURCHASES],
  feedsGateway: true,
  handles: (event) => event.type === 'PurchaseRecorded' || event.type === 'PurchaseWithdrawn',
  documents: (event) => purchaseData(event).productIds.map((id) => ({ collection: CO_PURCHASES, id })),
  async apply(event: RecordedEvent, target) {
    const { productIds } = purchaseData(event);
    const delta = event.type === 'PurchaseRecorded' ? 1 : -1;
    let changed = false;
    const docs = target.collection<CoPurchaseDoc>(CO_PURCHASES);
    for (const id of productIds) {
      const written = await update(docs, id, event.position, (doc) => {
        const together = { ...doc?.with };
        for (const other of productIds) {
          if (other === id) continue;
          const n = (together[other] ?? 0) + delta;
          if (n > 0) together[other] = n;
          else delete together[other];
        }
        return { _id: id, orders: Math.max(0, (doc?.orders ?? 0) + delta), with: together };
      });
      changed ||= written !== undefined;
    }
    if (!changed) return UNCHANGED;
    return { changed, invalidateTags: productIds.map(productRecsTag), responseTags: [...productIds.map((id) => fieldTag(RECOMMENDATIONS_FIELD, id)), fieldTag(RECOMMENDATIONS_FIELD, '*')] };
  },
};

/** Each user's history: products bought (paid orders each) and viewed (most recent first, distinct). */
export const userHistoryProjection: Projection = {
  name: 'recommendation-user-history',
  version: 1,
  collections: [USER_HISTORY],
  handles: (event) => event.type === 'ProductViewed' || ((event.type === 'PurchaseRecorded' || event.type === 'PurchaseWithdrawn') && purchaseData(event).customerId !== null),
  documents: (event) => [{ collection: USER_HISTORY, id: event.type === 'ProductViewed' ? (event.data as ProductViewed['data']).userId : purchaseData(event).customerId! }],
  async apply(event: RecordedEvent, target) {
    let userId: string;
    let written;
    if (event.type === 'ProductViewed') {
      const view = event.data as ProductViewed['data'];
      userId = view.userId;
      written = await update(target.collection<UserHistoryDoc>(USER_HISTORY), userId, event.position, (doc) => ({
        _id: userId,
        bought: { ...doc?.bought },
        viewed: [{ productId: view.productId, at: view.viewedAt }, ...(doc?.viewed ?? []).filter((v) => v.productId !== view.productId)].slice(0, VIEWED_KEPT),
      }));
    } else {
      const purchase = purchaseData(event);
      userId = purchase.customerId!;
      const delta = event.type === 'PurchaseRecorded' ? 1 : -1;
      written = await update(target.collection<UserHistoryDoc>(USER_HISTORY), userId, event.position, (doc) => {
        const bought = { ...doc?.bought };
        for (const id of purchase.productIds) {
          const n = (bought[id] ?? 0) + delta;
          if (n > 0) bought[id] = n;
          else delete bought[id];
        }
        return { _id: userId, bought, viewed: [...(doc?.viewed ?? [])] };
      });
    }
    return written ? { changed: true, invalidateTags: [userRecsTag(userId)] } : UNCHANGED;
  },
};

/**
 * Trending scores per product with time decay (`halfLifeHours`; changing it needs a rebuild of
 * this read model: `npm run replay -- recommendation-trending`), with the product's category and
 * availability for the query's filter. Score changes invalidate nothing (answers live 10 s, see
 * the README); availability and category changes invalidate every answer.
 */
export function trendingProjection(halfLifeHours: number = DEFAULT_HALF_LIFE_HOURS): Projection {
  const ids = (event: RecordedEvent): string[] => {
    switch (event.type) {
      case 'ProductFactsRecorded':
        return [(event.data as ProductFactsRecorded['data']).productId];
      case 'ProductViewed':
        return [(event.data as ProductViewed['data']).productId];
      default:
        return purchaseData(event).productIds;
    }
  };
  const TYPES = new Set(['ProductFactsRecorded', 'ProductViewed', 'PurchaseRecorded', 'PurchaseWithdrawn']);
  return {
    name: 'recommendation-trending',
    version: 1,
    collections: [TRENDING],
    indexes: {
      [TRENDING]: [
        { keys: [['available', 1], ['score', -1]] },
        { keys: [['available', 1], ['category', 1], ['score', -1]] },
      ],
    },
    handles: (event) => TYPES.has(event.type),
    documents: (event) => ids(event).map((id) => ({ collection: TRENDING, id })),
    async apply(event: RecordedEvent, target) {
      const type = event.type as (ProductFactsRecorded | ProductViewed | PurchaseChange)['type'];
      let changed = false;
      let availability = false;
      const docs = target.collection<TrendingDoc>(TRENDING);
      for (const id of ids(event)) {
        const written = await update(docs, id, event.position, (doc) => {
          const next: TrendingDoc = { _id: id, category: doc?.category ?? null, available: doc?.available ?? false, score: doc?.score ?? null };
          switch (type) {
            case 'ProductFactsRecorded': {
              const facts = event.data as ProductFactsRecorded['data'];
              next.category = facts.category;
              next.available = isAvailable(facts);
              return next;
            }
            case 'ProductViewed':
              next.score = logAdd(next.score, logContribution(VIEW_WEIGHT, (event.data as ProductViewed['data']).viewedAt, halfLifeHours));
              return next;
            case 'PurchaseRecorded':
              next.score = logAdd(next.score, logContribution(PURCHASE_WEIGHT, purchaseData(event).paidAt, halfLifeHours));
              return next;
            case 'PurchaseWithdrawn':
              next.score = logSubtract(next.score, logContribution(PURCHASE_WEIGHT, purchaseData(event).paidAt, halfLifeHours));
              return next;
            default:
              return assertNever(type, 'trending event');
          }
        });
        if (!written) continue;
        changed = true;
        const { before, after } = written;
        if (before && (before.available !== after.available || before.category !== after.category)) availability = true;
      }
      if (!changed) return UNCHANGED;
      return availability ? { changed, invalidateTags: [AVAILABILITY_TAG] } : { changed };
    },
  };
}

/** Every recommendation read model (the trending one with the configured half-life). */
export function recommendationProjections(halfLifeHours: number = DEFAULT_HALF_LIFE_HOURS): Projection[] {
  return [productFactsProjection, coPurchasesProjection, userHistoryProjection, trendingProjection(halfLifeHours)];
}
