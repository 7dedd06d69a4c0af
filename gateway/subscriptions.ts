import { createClient, type Client } from 'graphql-ws';
import { GraphQLError, Kind, print, type DocumentNode, type ExecutionResult, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import WebSocket from 'ws';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import { pushIterator } from '../platform/pubsub/pubsub.js';
import type { SubgraphEndpoint } from './compose.js';

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
}

/**
 * Forwards each client subscription to the subgraph that owns its root field, over graphql-ws.
 * Identical subscriptions (same subgraph, caller, document and variables) share one upstream
 * subscription; one WebSocket per subgraph carries them all (graphql-ws multiplexes).
 */
export class SubscriptionForwarder {
  private readonly clients = new Map<string, Client>();
  private readonly upstreams = new Map<string, Upstream>();

  constructor(
    private readonly owners: ReadonlyMap<string, SubgraphEndpoint>,
    private readonly deps: { logger: Logger; metrics: Metrics },
  ) {}

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
   * @param extensions sent with the upstream subscription (the signed identity)
   */
  subscribe(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined, caller: string, extensions: Record<string, string>): AsyncGenerator<ExecutionResult> {
    const field = rootFieldName(document, operationName);
    const owner = field ? this.owners.get(field) : undefined;
    if (!field || !owner) throw new GraphQLError(`no subgraph serves the subscription field ${field ?? '(none)'}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    const query = print(document);
    const key = JSON.stringify([owner.url, caller, query, variables ?? {}, operationName ?? null]);
    let upstream = this.upstreams.get(key);
    if (!upstream) upstream = this.openUpstream(key, owner, { query, variables, operationName: operationName ?? undefined, extensions });
    const shared = upstream;
    const listener = pushIterator<ExecutionResult>(() => {
      shared.listeners.delete(listener);
      if (shared.listeners.size === 0) shared.stop();
    });
    shared.listeners.add(listener);
    const { metrics } = this.deps;
    metrics.subscriptionsActive.inc({ field });
    return (async function* () {
      try {
        for await (const result of listener) {
          metrics.subscriptionEvents.inc({ field });
          yield result;
        }
      } finally {
        metrics.subscriptionsActive.dec({ field });
        await listener.return?.();
      }
    })();
  }

  private openUpstream(key: string, owner: SubgraphEndpoint, payload: { query: string; variables?: Record<string, unknown>; operationName?: string; extensions: Record<string, string> }): Upstream {
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
        for await (const result of iterator) for (const l of upstream.listeners) l.push(result as ExecutionResult);
      } catch (error) {
        // graphql-ws rejects with the operation's GraphQL errors (already masked by the subgraph),
        // or with a transport error, which the client only learns about as a downstream failure.
        const failure: ExecutionResult = Array.isArray(error)
          ? { errors: error as GraphQLError[] }
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
