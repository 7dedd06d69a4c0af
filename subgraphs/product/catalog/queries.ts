import { createHash } from 'node:crypto';
import { badUserInput, pageSize } from '../../../platform/graphql/errors.js';
import type { Cache } from '../../../platform/cache/cache.js';
import { TaggedReadAside } from '../../../platform/cache/read-aside.js';
import type { DocumentStore, Filter, Sort } from '../../../platform/documents/document-store.js';
import type { Logger } from '../../../platform/logging.js';
import type { Metrics } from '../../../platform/metrics/metrics.js';
import { collectionTag } from '../../../projections/projector.js';
import { CATALOG, LIST_TAG, productTag, type ProductDoc, type ProductPage } from './read-model.js';

export interface ProductFilterArgs {
  category?: string | null;
  sellerId?: string | null;
  inStock?: boolean | null;
  minPrice?: number | null;
  maxPrice?: number | null;
  search?: string | null;
}

export type ProductSortArg = 'NEWEST' | 'PRICE_ASC' | 'PRICE_DESC' | 'NAME';

export interface ListArgs {
  first?: number | null;
  after?: string | null;
  filter?: ProductFilterArgs | null;
  sort?: ProductSortArg | null;
}

const TTL_SECONDS = 60;

const SORTS: Record<ProductSortArg, Sort> = {
  NEWEST: [['createdAt', -1]],
  PRICE_ASC: [['price.amount', 1]],
  PRICE_DESC: [['price.amount', -1]],
  NAME: [['nameKey', 1]],
};


function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function toFilter(args: ProductFilterArgs | null | undefined): Filter {
  const filter: Filter = {};
  if (!args) return filter;
  if (args.category != null) filter.category = args.category;
  if (args.sellerId != null) filter.sellerId = args.sellerId;
  if (args.inStock === true) filter.stock = { $gt: 0 };
  if (args.inStock === false) filter.stock = 0;
  if (args.minPrice != null && args.maxPrice != null && args.minPrice > args.maxPrice) {
    throw badUserInput('minPrice must not be greater than maxPrice', ['filter', 'minPrice']);
  }
  if (args.minPrice != null || args.maxPrice != null) {
    filter['price.amount'] = { ...(args.minPrice != null && { $gte: args.minPrice }), ...(args.maxPrice != null && { $lte: args.maxPrice }) };
  }
  if (args.search != null) {
    const search = args.search.trim();
    if (search.length > 100) throw badUserInput('search must be at most 100 characters', ['filter', 'search']);
    if (search.length > 0) filter.name = { $regex: escapeRegex(search), $options: 'i' };
  }
  return filter;
}

/**
 * Read side of the catalog: the read model behind a read-aside cache. Entries are tagged with
 * the product (or "every list") and the collection, so the projector's invalidations and a
 * rebuild's switch-over make them stale without a race (see the Cache port).
 */
export class CatalogQueries {
  private readonly readAside: TaggedReadAside;

  constructor(
    private readonly documents: DocumentStore,
    cache: Cache,
    metrics: Metrics,
    logger: Logger,
  ) {
    this.readAside = new TaggedReadAside(cache, CATALOG, metrics, logger, () => documents.physicalName(CATALOG));
  }

  private get collection() {
    return this.documents.collection<ProductDoc>(CATALOG);
  }

  private async cached<T>(key: string, tags: string[], load: () => Promise<T>): Promise<T> {
    return (await this.readAside.get(key, tags, TTL_SECONDS, load)).value;
  }

  async product(id: string): Promise<ProductDoc | null> {
    return this.cached(`product:${id}`, [productTag(id), collectionTag(CATALOG)], async () => (await this.collection.get(id)) ?? null);
  }

  /** Batch look-up (for `_entities`), in the order asked; null for unknown ids. */
  async products(ids: readonly string[]): Promise<(ProductDoc | null)[]> {
    return Promise.all(ids.map((id) => this.product(id)));
  }

  async list(args: ListArgs): Promise<ProductPage> {
    const first = pageSize(args.first);
    const filter = toFilter(args.filter);
    const sort = SORTS[args.sort ?? 'NEWEST'];
    const key = createHash('sha1').update(JSON.stringify([first, args.after ?? null, filter, sort])).digest('base64url');
    const tags = [LIST_TAG, collectionTag(CATALOG)];
    const page = await this.cached(`products:list:${key}`, tags, async () => {
      try {
        return await this.collection.find({ filter, sort, first, ...(args.after != null && { after: args.after }) });
      } catch (error) {
        if (error instanceof Error && 'code' in error && error.code === 'INVALID_INPUT') throw badUserInput(error.message, ['after']);
        throw error;
      }
    });
    const countKey = createHash('sha1').update(JSON.stringify(filter)).digest('base64url');
    return { ...page, totalCount: () => this.cached(`products:count:${countKey}`, tags, () => this.collection.count(filter)) };
  }
}
