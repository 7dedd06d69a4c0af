import type { Cache } from '../../platform/cache/cache.js';
import { TaggedReadAside } from '../../platform/cache/read-aside.js';
import type { DocumentStore, Filter } from '../../platform/documents/document-store.js';
import type { Logger } from '../../platform/logging.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import { collectionTag } from '../../projections/projector.js';
import type { ProductFacts } from './decider.js';
import { candidatesOf, rankBoughtTogether, rankForUser, rankTrending, seedsOf } from './ranking.js';
import {
  AVAILABILITY_TAG,
  CO_PURCHASES,
  PRODUCT_FACTS,
  productRecsTag,
  TRENDING,
  USER_HISTORY,
  userRecsTag,
  type CoPurchaseDoc,
  type ProductFactsDoc,
  type TrendingDoc,
  type UserHistoryDoc,
} from './read-model/read-model.js';

/**
 * How long answers are kept. Bought-together and per-user answers are invalidated by the projections; trending scores move with every view, so trending answers only live briefly; the catalog fill-up
 * misses products created since (a new product changes no availability) for at most a minute.
 */
export const TTL_SECONDS = { boughtTogether: 300, forUser: 300, trending: 10, catalog: 60 } as const;

const CACHE = 'recommendations';
const READ_TAGS = [AVAILABILITY_TAG, collectionTag(CO_PURCHASES), collectionTag(PRODUCT_FACTS), collectionTag(TRENDING), collectionTag(USER_HISTORY)];

type Query = 'bought_together' | 'for_user' | 'trending' | 'catalog';

/**
 * The read side of recommendations: read models (by id wherever possible: FerretDB is quickest at
 * `_id` look-ups), ranked by ranking.ts, behind a read-aside cache whose entries the projections
 * invalidate by tag (read-model/read-model.ts lists the tags).
 */
export class RecommendationQueries {
  private readonly readAside: TaggedReadAside;

  constructor(
    private readonly documents: DocumentStore,
    cache: Cache,
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    const collections = [CO_PURCHASES, PRODUCT_FACTS, TRENDING, USER_HISTORY];
    this.readAside = new TaggedReadAside(cache, CACHE, metrics, logger, async () => (await Promise.all(collections.map((c) => documents.physicalName(c)))).join(','));
  }

  private async cached(query: Query, key: string, tags: string[], ttlSeconds: number, load: () => Promise<string[]>): Promise<string[]> {
    const started = performance.now();
    const { value, hit } = await this.readAside.get(key, tags, ttlSeconds, load);
    this.metrics.recommendationQueryDuration.observe({ query, cache: hit ? 'hit' : 'miss' }, (performance.now() - started) / 1000);
    return value;
  }

  private async facts(ids: Iterable<string>): Promise<Map<string, ProductFacts>> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return new Map();
    const docs = await this.documents.collection<ProductFactsDoc>(PRODUCT_FACTS).getMany(wanted);
    return new Map(docs.map((d) => [d._id, d]));
  }

  private async coPurchases(ids: Iterable<string>): Promise<Map<string, CoPurchaseDoc>> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return new Map();
    const docs = await this.documents.collection<CoPurchaseDoc>(CO_PURCHASES).getMany(wanted);
    return new Map(docs.map((d) => [d._id, d]));
  }

  /** The best trending product ids (available ones, best first), `category` or all; with their facts. */
  private async trendingCandidates(limit: number, category: string | null): Promise<{ ids: string[]; facts: Map<string, ProductFacts> }> {
    const filter: Filter = { available: true, score: { $gt: -1e300 }, ...(category !== null && { category }) };
    const page = await this.documents.collection<TrendingDoc>(TRENDING).find({ filter, sort: [['score', -1]], first: limit });
    // The facts read model decides availability (the trending copy may trail it by a moment).
    const facts = await this.facts(page.items.map((d) => d._id));
    return { ids: rankTrending(page.items, limit, facts), facts };
  }

  /**
   * Trending ids to fill a list up with, through the trending answers' cache (one scan of the
   * trending read model per category and `limit` every few seconds, however many lists need it),
   * with the current facts of those products (the ranking checks their availability again).
   */
  private async fill(limit: number, category: string | null): Promise<{ ids: string[]; facts: Map<string, ProductFacts> }> {
    const trending = await this.trending(Math.min(limit, 50), category);
    // A new store (or category) has too little trending yet: available products of the catalog follow, by id.
    const ids = trending.length >= limit ? trending : [...new Set([...trending, ...(await this.catalog(limit, category))])];
    return { ids, facts: await this.facts(ids) };
  }

  /**
   * Available products (`category` or all) by id: the last resort to fill a list with when there
   * are not enough interactions yet. Cached like trending answers (availability changes invalidate them).
   */
  private catalog(limit: number, category: string | null): Promise<string[]> {
    const key = `recommendations:catalog:${category === null ? '*' : encodeURIComponent(category)}:${limit}`;
    return this.cached('catalog', key, READ_TAGS, TTL_SECONDS.catalog, async () => {
      const filter: Filter = { status: 'ACTIVE', inStock: true, ...(category !== null && { category }) };
      const page = await this.documents.collection<ProductFactsDoc>(PRODUCT_FACTS).find({ filter, sort: [['_id', 1]], first: limit });
      return page.items.map((d) => d._id);
    });
  }

  /** Bought together with `productId` (see ranking.ts), filled up from trending in its category. */
  boughtTogether(productId: string, first: number): Promise<string[]> {
    return this.cached('bought_together', `recommendations:product:${productId}:${first}`, [...READ_TAGS, productRecsTag(productId)], TTL_SECONDS.boughtTogether, async () => {
      const [seed, own] = await Promise.all([this.coPurchases([productId]), this.facts([productId])]);
      const candidates = candidatesOf(seed.get(productId));
      const [neighbours, facts] = await Promise.all([this.coPurchases(candidates), this.facts(candidates)]);
      const input = { coPurchases: new Map([...seed, ...neighbours]), facts, trending: [] as string[] };
      const ranked = rankBoughtTogether(productId, first, input);
      if (ranked.length >= first) return ranked;
      // Too little purchase data: trending in the same category fills up (enough of them even if
      // the best are excluded: itself, and those already chosen).
      const trending = await this.fill(2 * first + 1, own.get(productId)?.category ?? null);
      return rankBoughtTogether(productId, first, { ...input, facts: new Map([...trending.facts, ...facts]), trending: trending.ids });
    });
  }

  /** For a user, from what they bought and viewed (see ranking.ts); trending for a new user. */
  forUser(userId: string, first: number): Promise<string[]> {
    return this.cached('for_user', `recommendations:user:${userId}:${first}`, [...READ_TAGS, userRecsTag(userId)], TTL_SECONDS.forUser, async () => {
      const history = await this.documents.collection<UserHistoryDoc>(USER_HISTORY).get(userId);
      const seeds = await this.coPurchases(seedsOf(history).map((s) => s.id));
      const candidates = [...new Set([...seeds.values()].flatMap((doc) => candidatesOf(doc)))];
      const [neighbours, facts] = await Promise.all([this.coPurchases(candidates.filter((id) => !seeds.has(id))), this.facts(candidates)]);
      const input = { coPurchases: new Map([...seeds, ...neighbours]), facts, trending: [] as string[] };
      const ranked = rankForUser(history, first, input);
      if (ranked.length >= first) return ranked;
      const bought = Object.keys(history?.bought ?? {}).length;
      const trending = await this.fill(first + bought + 1, null);
      return rankForUser(history, first, { ...input, facts: new Map([...trending.facts, ...facts]), trending: trending.ids });
    });
  }

  /** By decayed score, best first; ties by product id. */
  trending(first: number, category: string | null): Promise<string[]> {
    return this.cached('trending', `recommendations:trending:${category === null ? '*' : encodeURIComponent(category)}:${first}`, READ_TAGS, TTL_SECONDS.trending, async () => (await this.trendingCandidates(first, category)).ids);
  }
}
