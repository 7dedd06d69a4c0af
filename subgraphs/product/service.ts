import { correlationIdOrNew } from '../../platform/correlation.js';
import type { Metrics } from '../../platform/metrics/metrics.js';
import type { ServicePorts } from '../../platform/ports.js';
import { handleCommand } from '../../platform/eventsourcing/command-handler.js';
import { StreamStates } from '../../platform/eventsourcing/stream-states.js';
import { ForbiddenError, NotFoundError, TooManyRowsError } from '../../platform/errors.js';
import { unauthenticated } from '../../platform/graphql/errors.js';
import { isUuid } from '../../platform/ids.js';
import { GraphQLError } from 'graphql';
import { liveFeed, startCursor } from '../../platform/graphql/live-feed.js';
import { assertResumable, decodeCursor, type FeedEnd } from '../../platform/subscriptions/cursor.js';
import { DEFAULT_RESUME, type ResumeOptions } from '../../platform/subscriptions/resume.js';
import { stockChangesBetween } from './catalog/stock-changes.js';
import { CatalogQueries } from './catalog/queries.js';
import { STOCK_CHANNEL, type ProductDoc, type StockNotification } from './catalog/read-model.js';
import { productDecider, productIdForSku, type Actor, type CreateProduct, type InventoryCommand, type ProductCommand, type ProductState, type UpdateProduct } from './decider.js';
import { productStream, type ProductEvent } from './events.js';
import { countRows, importProducts, type ImportCounts, type ImportRejection } from './import/import.js';
import { productSnapshots } from './snapshot.js';
import { AnalyticsService } from './analytics/service.js';

const MAX_WATCHED_PRODUCTS = 100;

/**
 * Rows one importProducts mutation takes. The gateway's MAX_BODY_BYTES (100 kB by default) binds
 * first for long rows; bigger files go through `npm run import`, which streams them.
 */
export const MAX_IMPORT_ROWS = 1000;

export interface ImportResult extends ImportCounts {
  /** In line order. */
  rejections: ImportRejection[];
}

export { productIdForSku };

export interface ProductServiceDeps extends ServicePorts {
  clock: () => Date;
  /** How far back a stockChanged subscriber may resume from (defaults: DEFAULT_RESUME). */
  resume?: Partial<ResumeOptions>;
  /**
   * How a command finds a product's state without reading its whole stream: folded states kept in
   * process (per product, revision-checked) and snapshots every `snapshotEvery` events.
   * `enabled: false` reads and folds the whole stream on every command (a baseline for benchmarks).
   */
  streamStates?: { enabled?: boolean; snapshotEvery?: number; maxCachedProducts?: number };
}

type CommandInput<C> = C extends unknown ? Omit<C, 'productId' | 'by' | 'at'> : never;

/**
 * The product slice's application service: commands go through the decider to the event store;
 * queries read the catalog read model. A mutation answers with the product as the projection
 * will show it (folded from the stream), so the writer sees its own write at once.
 */
export class ProductService {
  readonly queries: CatalogQueries;
  /** Seller analytics (analytics/): sales and views by day in the seller's time zone. */
  readonly analytics: AnalyticsService;
  private readonly states: StreamStates<ProductState>;

  constructor(private readonly deps: ProductServiceDeps) {
    this.queries = new CatalogQueries(deps.documents, deps.cache, deps.metrics, deps.logger);
    this.analytics = new AnalyticsService({ ...deps, newestProductOf: async (sellerId) => (await this.queries.list({ first: 1, filter: { sellerId }, sort: 'NEWEST' })).items[0] });
    const options = deps.streamStates ?? {};
    this.states = new StreamStates(productSnapshots(options.snapshotEvery), { enabled: options.enabled ?? true, maxStreams: options.maxCachedProducts ?? 1000 });
  }

  get metrics(): Metrics {
    return this.deps.metrics;
  }

  /**
   * Stock changes (of the given products, or all), as the projector publishes them. With `after`
   * (the cursor of the last change a client saw), first every change after it, read from the
   * event log, then the live ones, without a gap or a duplicate at the seam (see liveFeed).
   */
  async stockChanges(productIds: readonly string[] | null, after: string | null = null): Promise<AsyncIterableIterator<StockNotification | FeedEnd>> {
    if (productIds && productIds.length > MAX_WATCHED_PRODUCTS) {
      throw new GraphQLError(`watch at most ${MAX_WATCHED_PRODUCTS} products per subscription`, { extensions: { code: 'BAD_USER_INPUT', field: ['productIds'] } });
    }
    const cursor = after === null ? undefined : decodeCursor(after);
    const wanted = productIds ? new Set(productIds) : null;
    const { metrics, pubsub, clock, events } = this.deps;
    const resume = { ...DEFAULT_RESUME, ...this.deps.resume };
    // Listen before reading the log's head: whatever the projector publishes from now on is
    // either live (after the head) or in the catch-up (at or before it).
    const subscription = pubsub.subscribe<StockNotification>(STOCK_CHANNEL);
    try {
      await subscription.ready;
      const horizon = await events.headPosition();
      const now = clock();
      let catchUp: StockNotification[] = [];
      if (cursor) {
        assertResumable(cursor, { head: horizon, nowMs: now.getTime(), retentionMs: resume.retentionSeconds * 1000 });
        catchUp = await stockChangesBetween(events, { after: cursor.position, horizon, maxScanned: resume.maxScannedEvents, wanted: (id) => !wanted || wanted.has(id) });
      }
      return liveFeed({
        field: 'stockChanged',
        subscription,
        metrics,
        clock,
        wanted: (n) => !wanted || wanted.has(n.product._id),
        catchUp,
        horizon: cursor ? horizon : -1,
        startCursor: after ?? startCursor(horizon, now),
        interruptions: pubsub,
      });
    } catch (error) {
      await subscription.return?.();
      throw error;
    }
  }

  private async execute(productId: string, command: CommandInput<ProductCommand>, actor: Actor | undefined, correlationId: string): Promise<ProductDoc> {
    if (!actor) throw unauthenticated('sign in as a seller first');
    if (command.type !== 'CreateProduct' && !isUuid(productId)) throw new NotFoundError(`product ${productId} does not exist`, ['id']);
    const now = this.deps.clock();
    const full = { ...command, productId, by: actor, at: now.toISOString() };
    const result = await handleCommand(this.deps.events, productDecider, productStream(productId), full, { actor: actor.userId, correlationId, now }, { states: this.states });
    const doc = productDoc(result.state);
    if (!doc) throw new NotFoundError(`product ${productId} does not exist`, ['id']);
    return doc;
  }

  /**
   * The inventory side of the order saga (reserve, release, sell units for an order), as the
   * reservation consumer asks. Returns what was appended: nothing when the order was already
   * handled (a redelivery). Throws NotFoundError when no product has this id.
   */
  async inventory(command: CommandInput<InventoryCommand> & { orderId: string }, productId: string, causation: { messageId: string; correlationId?: string }): Promise<ProductEvent[]> {
    if (!isUuid(productId)) throw new NotFoundError(`product ${productId} does not exist`, ['productId']);
    const now = this.deps.clock();
    const full: InventoryCommand = { ...command, productId, at: now.toISOString() };
    const context = { actor: 'saga:inventory', correlationId: causation.correlationId ?? causation.messageId, causationId: causation.messageId, now };
    return (await handleCommand(this.deps.events, productDecider, productStream(productId), full, context, { states: this.states })).events;
  }

  create(input: Omit<CreateProduct, 'type' | 'productId' | 'by' | 'at'>, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<ProductDoc> {
    return this.execute(productIdForSku(input.sku), { type: 'CreateProduct', ...input }, actor, correlationId);
  }

  update(productId: string, changes: UpdateProduct['changes'], expectedVersion: number | null | undefined, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<ProductDoc> {
    return this.execute(productId, { type: 'UpdateProduct', changes, expectedVersion }, actor, correlationId);
  }

  restock(productId: string, quantity: number, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<ProductDoc> {
    return this.execute(productId, { type: 'RestockProduct', quantity }, actor, correlationId);
  }

  /**
   * The importProducts mutation: the CSV's products, owned by the caller (a SELLER or ADMIN).
   * More than MAX_IMPORT_ROWS rows is TooManyRowsError, before anything is imported.
   */
  async importCsv(csv: string, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<ImportResult> {
    if (!actor) throw unauthenticated('sign in as a seller first');
    if (actor.role !== 'SELLER' && actor.role !== 'ADMIN') throw new ForbiddenError('only sellers may import products');
    const rows = await countRows([csv]);
    if (rows > MAX_IMPORT_ROWS) {
      throw new TooManyRowsError(MAX_IMPORT_ROWS, `the CSV has ${rows} rows; importProducts takes at most ${MAX_IMPORT_ROWS} (import bigger files with \`npm run import\`)`, ['csv']);
    }
    const rejections: ImportRejection[] = [];
    const counts = await importProducts(this.deps.events, [csv], { seller: actor, clock: this.deps.clock, correlationId, onRejected: (r) => rejections.push(r) });
    return { ...counts, rejections: rejections.sort((a, b) => a.line - b.line) };
  }

  discontinue(productId: string, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<ProductDoc> {
    return this.execute(productId, { type: 'DiscontinueProduct' }, actor, correlationId);
  }
}

/** The product's catalog document as the projection will build it from the same events (evolveDoc). */
export function productDoc(state: ProductState): ProductDoc | undefined {
  if (state.status === 'none') return undefined;
  return {
    _id: state.productId,
    sku: state.sku,
    name: state.name,
    nameKey: state.name.toLowerCase(),
    description: state.description,
    category: state.category,
    price: state.price,
    stock: state.stock,
    status: state.status === 'discontinued' ? 'DISCONTINUED' : 'ACTIVE',
    sellerId: state.sellerId,
    version: state.version,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
  };
}
