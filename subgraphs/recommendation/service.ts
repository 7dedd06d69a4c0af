import { correlationIdOrNew } from '../../platform/correlation.js';
import { handleCommand, loadState, type CommandContext } from '../../platform/eventsourcing/command-handler.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../platform/errors.js';
import { unauthenticated } from '../../platform/graphql/errors.js';
import { isUuid, uuidV5 } from '../../platform/ids.js';
import type { ServicePorts } from '../../platform/ports.js';
import type { Identity } from '../../platform/auth/tokens.js';
import { productFactsDecider, purchaseDecider, viewDecider, type PurchaseCommand, type RecordProductFacts } from './decider.js';
import { productFactsStream, purchaseStream, viewStream } from './events.js';
import { RecommendationQueries } from './queries.js';

export type Actor = Identity;

export interface RecommendationServiceDeps extends ServicePorts {
  clock: () => Date;
}

/** Who caused a step that arrived over the bus. */
export interface Causation {
  messageId: string;
  correlationId?: string;
}

/** `first` of every recommendation list. */
export const MAX_RECOMMENDATIONS = 50;

export function listSize(first: number | null | undefined, fallback: number): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > MAX_RECOMMENDATIONS) throw new ValidationError(`first must be between 1 and ${MAX_RECOMMENDATIONS}`, ['first']);
  return size;
}

/** Namespace of view stream ids: one stream per (user, product). */
const VIEW_NAMESPACE = 'a4d0c6e2-73b1-4c8e-9f25-1e6b8d3a7c54';

export const viewIdFor = (userId: string, productId: string) => uuidV5(`${userId}\n${productId}`, VIEW_NAMESPACE);

/**
 * The recommendation slice's application service. Writes are commands on its own streams
 * (views from the API; purchases and product facts from the consumers of other services' public
 * events); reads go through RecommendationQueries over the projected read models.
 */
export class RecommendationService {
  readonly queries: RecommendationQueries;

  constructor(private readonly deps: RecommendationServiceDeps) {
    this.queries = new RecommendationQueries(deps.documents, deps.cache, deps.metrics, deps.logger);
  }

  get metrics() {
    return this.deps.metrics;
  }

  private consumerContext(causation: Causation): Omit<CommandContext, 'now'> {
    return { actor: 'consumer:recommendation', correlationId: causation.correlationId ?? causation.messageId, causationId: causation.messageId };
  }

  private count(kind: string, recorded: boolean): void {
    this.deps.metrics.recommendationInteractions.inc({ kind, recorded: String(recorded) });
  }

  /**
   * A signed-in user viewed a product. Counted (appended) at most once per user, product and hour;
   * a view within the hour is accepted and changes nothing. An unknown product is NOT_FOUND.
   */
  async recordView(productId: string, actor: Actor | undefined, correlationId: string = correlationIdOrNew()): Promise<boolean> {
    if (!actor) throw unauthenticated('sign in to record product views');
    if (!isUuid(productId)) throw new NotFoundError(`product ${productId} does not exist`, ['productId']);
    const facts = await loadState(this.deps.events, productFactsDecider, productFactsStream(productId));
    if (facts === null) throw new NotFoundError(`product ${productId} does not exist`, ['productId']);
    const now = this.deps.clock();
    const { events } = await handleCommand(this.deps.events, viewDecider, viewStream(viewIdFor(actor.userId, productId)), { type: 'RecordView', userId: actor.userId, productId, at: now.toISOString() }, { actor: actor.userId, correlationId, now });
    this.count(events.length > 0 ? 'view' : 'view_flood', events.length > 0);
    return true;
  }

  /** From order.events.v1 (placements, payments, cancellations). Returns whether an event was recorded. */
  async purchase(command: PurchaseCommand, causation: Causation): Promise<boolean> {
    if (!isUuid(command.orderId)) return false; // not an order of this deployment
    const now = this.deps.clock();
    const { events } = await handleCommand(this.deps.events, purchaseDecider, purchaseStream(command.orderId), command, { ...this.consumerContext(causation), now });
    const kind = command.type === 'NotePlacement' ? 'placement' : command.type === 'RecordPurchase' ? 'purchase' : 'purchase_withdrawn';
    this.count(kind, events.length > 0);
    return events.length > 0;
  }

  /** From product.events.v1. Returns whether an event was recorded. */
  async productFacts(command: Omit<RecordProductFacts, 'type' | 'at'>, causation: Causation): Promise<boolean> {
    if (!isUuid(command.productId)) return false;
    const now = this.deps.clock();
    const full: RecordProductFacts = { type: 'RecordProductFacts', ...command, at: now.toISOString() };
    const { events } = await handleCommand(this.deps.events, productFactsDecider, productFactsStream(command.productId), full, { ...this.consumerContext(causation), now });
    this.count('product_facts', events.length > 0);
    return events.length > 0;
  }

  // ------------------------------------------------------------------------------ queries

  boughtTogether(productId: string, first: number | null | undefined): Promise<string[]> {
    const size = listSize(first, 5);
    if (!isUuid(productId)) return this.queries.trending(size, null);
    return this.queries.boughtTogether(productId, size);
  }

  /** For the user themself or an admin (FORBIDDEN otherwise; UNAUTHENTICATED when anonymous). */
  forUser(userId: string, first: number | null | undefined, actor: Actor | undefined): Promise<string[]> {
    if (!actor) throw unauthenticated('sign in to see recommendations');
    const size = listSize(first, 10);
    if (actor.userId !== userId && actor.role !== 'ADMIN') throw new ForbiddenError('only the user themself, or an admin, may see their recommendations');
    return this.queries.forUser(userId, size);
  }

  trending(first: number | null | undefined, category: string | null | undefined): Promise<string[]> {
    const size = listSize(first, 10);
    if (category != null && category.length > 200) throw new ValidationError('category must be at most 200 characters', ['category']);
    return this.queries.trending(size, category ?? null);
  }
}
