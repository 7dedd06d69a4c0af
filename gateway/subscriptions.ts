import { createClient, type Client } from 'graphql-ws';
import { GraphQLError, type GraphQLFormattedError, Kind, print, type DocumentNode, type ExecutionResult, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import WebSocket from 'ws';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import { pushIterator, viewIterator } from '../platform/pubsub/pubsub.js';
import type { SubgraphEndpoint, Supergraph } from './compose.js';
import type { SubgraphClient } from './subgraph-client.js';
import { EntityCompleter, inlineFragments, project, type EntityFetch } from './entity-completion.js';

/** The first root field of a subscription operation, looking through fragments. */
export function rootFieldName(document: DocumentNode, operationName: string | null | undefined): string | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return undefined;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  const visit = (set: SelectionSetNode): string | undefined => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD && selection.name.value !== '__typename') return selection.name.value;
      if (selection.kind === Kind.INLINE_FRAGMENT) return visit(selection.selectionSet);
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment) return visit(fragment.selectionSet);
      }
    }
    return undefined;
  };
  return visit(operation.selectionSet);
}

interface Upstream {
  listeners: Set<ReturnType<typeof pushIterator<ExecutionResult>>>;
  stop: () => void;
  /** The last event, for a state feed's late joiners. */
  latest?: ExecutionResult;
}

/**
 * Forwards each client subscription to the subgraph that owns its root field, over graphql-ws.
 * Identical subscriptions (same subgraph, caller, document and variables) share one upstream
 * subscription; one WebSocket per subgraph carries them all (graphql-ws multiplexes). A change
 * feed (stockChanged) gives a joiner only what happens after it joined; a state feed (a field
 * in `stateFields`, whose first event is the current state) gives it the latest event first,
 * as its own upstream would have.
 */
export class SubscriptionForwarder {
  private readonly clients = new Map<string, Client>();
  private readonly upstreams = new Map<string, Upstream>();

  private readonly completer: EntityCompleter;

  constructor(
    private readonly supergraph: Pick<Supergraph, 'subscriptionOwners' | 'ownership' | 'endpoints' | 'apiSchema'>,
    private readonly deps: { logger: Logger; metrics: Metrics; identityHeader: string; subgraphs: SubgraphClient; stateFields?: ReadonlySet<string> },
  ) {
    this.completer = new EntityCompleter(supergraph.apiSchema, supergraph.ownership);
  }

  /** One connection per subgraph, shared by every caller: identity travels with each subscription. */
  private client(owner: SubgraphEndpoint): Client {
    const key = owner.url;
    let client = this.clients.get(key);
    if (!client) {
      client = createClient({
        url: owner.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        lazy: true,
        lazyCloseTimeout: 1000,
        retryAttempts: 5,
        keepAlive: 15_000,
        on: { closed: () => this.deps.logger.debug({ subgraph: owner.name }, 'upstream subscription connection closed') },
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Number of upstream subscriptions currently open (shared ones count once). */
  get upstreamCount(): number {
    return this.upstreams.size;
  }

  /**
   * @param caller who subscribes (part of the sharing key: what a subscription shows may depend on it)
   * @param identity signs the caller for subgraphs, freshly for each use (a subscription outlives any one token)
   */
  subscribe(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined, caller: string, identity: () => Promise<string>): Promise<AsyncIterableIterator<ExecutionResult>> {
    return identity().then((token) => this.open(document, variables, operationName, caller, token, identity));
  }

  private open(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined, caller: string, token: string, identity: () => Promise<string>): AsyncIterableIterator<ExecutionResult> {
    const extensions = { [this.deps.identityHeader]: token };
    const field = rootFieldName(document, operationName);
    const owner = field ? this.supergraph.subscriptionOwners.get(field) : undefined;
    const operation = inlineFragments(document, operationName);
    if (!field || !owner || !operation) throw new GraphQLError(`no subgraph serves the subscription field ${field ?? '(none)'}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    // The owner gets only what it can resolve; the rest is completed per event (see entity-completion.ts).
    const rootType = this.supergraph.apiSchema.getSubscriptionType() ?? undefined;
    const planned = this.completer.plan(operation.selectionSet, rootType, owner.name);
    const query = print({ kind: Kind.DOCUMENT, definitions: [{ ...operation, selectionSet: planned.set }] });
    const key = JSON.stringify([owner.url, caller, query, variables ?? {}, operationName ?? null]);
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      const finish = (result: ExecutionResult) => this.finishEvent(result, operation, owner.name, variables ?? {}, identity);
      upstream = this.openUpstream(key, owner, { query, variables, operationName: operationName ?? undefined, extensions }, finish);
    }
    const shared = upstream;
    const listener = pushIterator<ExecutionResult>(() => {
      shared.listeners.delete(listener);
      if (shared.listeners.size === 0) shared.stop();
    });
    shared.listeners.add(listener);
    if (shared.latest && this.deps.stateFields?.has(field)) listener.push(shared.latest);
    const { metrics } = this.deps;
    metrics.subscriptionsActive.inc({ field });
    // Not an async generator: when the client leaves, the upstream must be released at once,
    // not at the next event (a quiet feed may never have one).
    return viewIterator(
      listener,
      (result: ExecutionResult) => {
        metrics.subscriptionEvents.inc({ field });
        return result;
      },
      { onEnd: () => metrics.subscriptionsActive.dec({ field }) },
    );
  }

  /** Completes an event with fields other subgraphs own, and gives it the client's exact shape. */
  private async finishEvent(result: ExecutionResult, operation: OperationDefinitionNode, producer: string, variables: Record<string, unknown>, identity: () => Promise<string>): Promise<ExecutionResult> {
    // Errors arrive as JSON from the subgraph; graphql-ws sends GraphQLError instances.
    const upstreamErrors = ((result.errors ?? []) as readonly (GraphQLError | GraphQLFormattedError)[]).map((e) =>
      e instanceof GraphQLError ? e : new GraphQLError(e.message, { ...(e.path && { path: e.path }), ...(e.extensions && { extensions: e.extensions }) }),
    );
    if (!result.data) return { errors: upstreamErrors };
    const errors: GraphQLError[] = [];
    const schema = this.supergraph.apiSchema;
    const data = structuredClone(result.data) as Record<string, unknown>;
    const fetch: EntityFetch = async (subgraph, query, vars) => {
      const endpoint = this.supergraph.endpoints.get(subgraph);
      if (!endpoint) throw new Error(`unknown subgraph ${subgraph}`);
      const response = await this.deps.subgraphs.post(endpoint.url, JSON.stringify({ query, variables: vars }), { [this.deps.identityHeader]: await identity() }, { timeoutMs: 10_000 });
      return JSON.parse(response.body) as Awaited<ReturnType<EntityFetch>>;
    };
    try {
      await this.completer.complete([data], operation.selectionSet, schema.getSubscriptionType() ?? undefined, producer, fetch, { definitions: operation.variableDefinitions ?? [], values: variables }, errors);
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'completing a subscription event failed');
      errors.push(new GraphQLError('could not resolve every field of this event', { extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } }));
    }
    const shaped = project(schema, data, operation.selectionSet, schema.getSubscriptionType()?.name) as Record<string, unknown>;
    const allErrors = [...upstreamErrors, ...errors];
    return allErrors.length > 0 ? { data: shaped, errors: allErrors } : { data: shaped };
  }

  private openUpstream(key: string, owner: SubgraphEndpoint, payload: { query: string; variables?: Record<string, unknown>; operationName?: string; extensions: Record<string, string> }, finish: (result: ExecutionResult) => Promise<ExecutionResult>): Upstream {
    const iterator = this.client(owner).iterate(payload);
    const upstream: Upstream = {
      listeners: new Set(),
      stop: () => {
        this.upstreams.delete(key);
        void iterator.return?.();
      },
    };
    this.upstreams.set(key, upstream);
    const { logger } = this.deps;
    void (async () => {
      try {
        for await (const result of iterator) {
          const finished = await finish(result as ExecutionResult);
          upstream.latest = finished;
          for (const l of upstream.listeners) l.push(finished);
        }
      } catch (error) {
        // graphql-ws rejects with the operation's GraphQL errors (already masked by the subgraph),
        // or with a transport error, which the client only learns about as a downstream failure.
        const failure: ExecutionResult = Array.isArray(error)
          ? { errors: (error as { message: string; extensions?: Record<string, unknown> }[]).map((e) => new GraphQLError(e.message, { ...(e.extensions && { extensions: e.extensions }) })) }
          : { errors: [new GraphQLError(`the ${owner.name} service ended the subscription`, { extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } })] };
        if (!Array.isArray(error)) logger.warn({ err: error, subgraph: owner.name }, 'upstream subscription failed');
        for (const l of upstream.listeners) l.push(failure);
      } finally {
        this.upstreams.delete(key);
        for (const l of [...upstream.listeners]) l.end();
      }
    })();
    return upstream;
  }

  async close(): Promise<void> {
    for (const upstream of [...this.upstreams.values()]) upstream.stop();
    for (const client of this.clients.values()) await client.dispose();
    this.clients.clear();
  }
}
