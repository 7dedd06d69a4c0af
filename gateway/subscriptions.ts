import { createClient, type Client } from 'graphql-ws';
import { GraphQLError, type GraphQLFormattedError, Kind, print, visit, type FieldNode, type DocumentNode, type ExecutionResult, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import WebSocket from 'ws';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import { Subscriber, positionOf } from './subscriber.js';
import { randomUUID } from 'node:crypto';
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

interface UpstreamListener {
  event(result: ExecutionResult): void;
  /** The upstream ended; `last` is its failure, if it failed. */
  end(last?: ExecutionResult): void;
}

interface Upstream {
  listeners: Set<UpstreamListener>;
  stop: () => void;
  /** The last event, for a state feed's late joiners. */
  latest?: ExecutionResult;
}

type Payload = { query: string; variables?: Record<string, unknown>; operationName?: string; extensions: Record<string, string> };

/** Public feeds by default: what they show does not depend on who asks, so every caller shares them. */
export const PUBLIC_SUBSCRIPTIONS: readonly string[] = ['stockChanged'];

/**
 * Forwards each client subscription to the subgraph that owns its root field, over graphql-ws.
 * Identical subscriptions share one upstream subscription; one WebSocket per subgraph carries
 * them all (graphql-ws multiplexes). What "identical" means follows authorisation: a public feed
 * (`publicFields`, e.g. stockChanged) is one upstream per operation and variables for every
 * caller, subscribed and completed as an anonymous caller; any other feed is shared only by
 * subscriptions of the same caller. A change feed gives a joiner only what happens after it
 * joined; a state feed (a field in `stateFields`, whose first event is the current state) gives it
 * the latest event first, as its own upstream would have.
 *
 * Every event carries its position in the event log (extensions.cursor). A subscription with
 * `after` needs its own catch-up: it gets a private upstream with its cursor; for a public feed it
 * also joins the shared upstream at once, holding what that sends, and moves over to it as soon as
 * the catch-up has delivered the first event the shared one holds (then the private upstream
 * closes): the client gets every event once, in log order. Each subscriber has a bounded buffer
 * (`maxBuffered`); overflowing it ends the subscription with SUBSCRIBER_TOO_SLOW and the cursor
 * of the last event the client took.
 */
export class SubscriptionForwarder {
  private readonly clients = new Map<string, Client>();
  /** Subscriptions to subgraphs, by subgraph, sharing caller ('*' for a public feed), query and variables. */
  private readonly upstreams = new Map<string, Upstream>();
  /** Callers' views of them (each completes events with its caller's identity). */
  private readonly views = new Map<string, Upstream>();

  private readonly completer: EntityCompleter;
  private readonly publicFields: ReadonlySet<string>;

  constructor(
    private readonly supergraph: Pick<Supergraph, 'subscriptionOwners' | 'ownership' | 'endpoints' | 'apiSchema'>,
    private readonly deps: {
      logger: Logger;
      metrics: Metrics;
      identityHeader: string;
      subgraphs: SubgraphClient;
      stateFields?: ReadonlySet<string>;
      publicFields?: ReadonlySet<string>;
      /** Events held for a subscriber that has not taken them (default 500). */
      maxBuffered?: number;
    },
  ) {
    this.completer = new EntityCompleter(supergraph.apiSchema, supergraph.ownership);
    this.publicFields = deps.publicFields ?? new Set(PUBLIC_SUBSCRIPTIONS);
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
   * @param publicIdentity signs an anonymous caller: public feeds are subscribed and completed as one
   * @param onEnd runs once when the subscription ends, however it ends (the client left, its upstream ended, it overflowed)
   */
  subscribe(
    document: DocumentNode,
    variables: Record<string, unknown> | undefined,
    operationName: string | null | undefined,
    caller: string,
    identity: () => Promise<string>,
    publicIdentity?: () => Promise<string>,
    onEnd?: () => void,
  ): Promise<Subscriber> {
    const field = rootFieldName(document, operationName);
    const isPublic = field !== undefined && this.publicFields.has(field) && publicIdentity !== undefined;
    const sign = isPublic ? publicIdentity : identity;
    return sign().then((token) => this.open(document, variables ?? {}, operationName, caller, token, identity, isPublic, onEnd));
  }

  /**
   * @param token signs the upstream subscription: the caller's, or an anonymous one for a public feed
   * @param identity the caller's, for completing each event with what other subgraphs own (as this caller may see it)
   */
  private open(document: DocumentNode, variables: Record<string, unknown>, operationName: string | null | undefined, caller: string, token: string, identity: () => Promise<string>, isPublic: boolean, onEnd?: () => void): Subscriber {
    const extensions = { [this.deps.identityHeader]: token };
    const field = rootFieldName(document, operationName);
    const owner = field ? this.supergraph.subscriptionOwners.get(field) : undefined;
    const operation = inlineFragments(document, operationName);
    if (!field || !owner || !operation) throw new GraphQLError(`no subgraph serves the subscription field ${field ?? '(none)'}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    const after = afterArgument(operation, field, variables);
    const resumable = this.supergraph.apiSchema.getSubscriptionType()?.getFields()[field]?.args.some((a) => a.name === 'after') ?? false;
    const { metrics } = this.deps;
    const cleanups: (() => void)[] = [() => metrics.subscriptionsActive.dec({ field }), ...(onEnd ? [onEnd] : [])];
    // Bound once: the fan-out counts every event of every subscriber.
    const delivered = metrics.subscriptionEvents.labels({ field });
    const subscriber = new Subscriber({
      maxBuffered: this.deps.maxBuffered ?? 500,
      after: after ?? null,
      onOverflow: () => metrics.subscriptionOverflows.inc({ field, where: 'gateway' }),
      onDeliver: () => delivered.inc(),
      onClose: () => {
        for (const cleanup of cleanups.splice(0)) cleanup();
      },
    });
    const attach = (upstream: Upstream, listener: UpstreamListener) => {
      upstream.listeners.add(listener);
      const detach = () => {
        if (!upstream.listeners.delete(listener)) return;
        if (upstream.listeners.size === 0) upstream.stop();
      };
      cleanups.push(detach);
      return detach;
    };
    /**
     * The caller's view of an upstream: the upstream subscription is shared by every caller for a
     * public feed (by the same caller's subscriptions otherwise); each event is completed once per
     * caller sharing it, with that caller's identity, in order.
     */
    const upstreamFor = (op: OperationDefinitionNode, vars: Record<string, unknown>, shared: boolean): Upstream => {
      // The owner gets only what it can resolve; the rest is completed per event (see entity-completion.ts).
      const rootType = this.supergraph.apiSchema.getSubscriptionType() ?? undefined;
      const planned = this.completer.plan(op.selectionSet, rootType, owner.name);
      const plannedOp: OperationDefinitionNode = { ...op, selectionSet: planned.set };
      let query = print({ kind: Kind.DOCUMENT, definitions: [plannedOp] });
      const rawKey = shared ? JSON.stringify([owner.url, isPublic ? '*' : caller, query, vars, operationName ?? null]) : `private:${randomUUID()}`;
      const viewKey = JSON.stringify([rawKey, caller, print(op)]);
      const existing = this.views.get(viewKey);
      if (existing) return existing;
      let upstreamVars = vars;
      if (resumable) {
        // The upstream resumes too: graphql-ws sends the same payload again when it reconnects to
        // the subgraph, and the payload's after always holds the last cursor it received.
        const live = withoutAfter(plannedOp, field, vars);
        query = print({ kind: Kind.DOCUMENT, definitions: [withAfterVariable(live.operation, field, RESUME_VARIABLE)] });
        upstreamVars = { ...live.variables, [RESUME_VARIABLE]: afterArgument(op, field, vars) ?? null };
      }
      const raw = this.upstreams.get(rawKey) ?? this.openUpstream(rawKey, owner, { query, variables: upstreamVars, operationName: operationName ?? undefined, extensions }, shared, resumable);
      const finish = (result: ExecutionResult) => this.finishEvent(result, op, owner.name, vars, identity);
      return this.openView(viewKey, raw, finish);
    };
    const direct: UpstreamListener = { event: (r) => subscriber.push(r), end: (last) => subscriber.end(last) };

    if (after === undefined) {
      const upstream = upstreamFor(operation, variables, true);
      attach(upstream, direct);
      if (upstream.latest && this.deps.stateFields?.has(field)) subscriber.push(upstream.latest);
    } else if (!isPublic) {
      // A resume needs its own catch-up; a per-caller feed stays on its own upstream.
      attach(upstreamFor(operation, variables, false), direct);
    } else {
      // Catch up privately while holding what the shared live feed sends, then move over to it.
      const live = withoutAfter(operation, field, variables);
      let switched = false;
      let pending: ExecutionResult[] = [];
      const trySwitch = () => {
        if (switched || pending.length === 0) return;
        const first = positionOf(pending[0]!);
        if (!first || subscriber.position < first.position) return;
        switched = true;
        detachPrivate();
        for (const r of pending) subscriber.push(r);
        pending = [];
      };
      attach(upstreamFor(live.operation, live.variables, true), {
        event: (r) => {
          if (switched) return subscriber.push(r);
          pending.push(r);
          if (pending.length > (this.deps.maxBuffered ?? 500)) return subscriber.overflow();
          trySwitch();
        },
        end: (last) => subscriber.end(last),
      });
      // Shared events arrive asynchronously, so this is set before trySwitch can run.
      const detachPrivate = attach(upstreamFor(operation, variables, false), {
        event: (r) => {
          if (switched) return;
          subscriber.push(r);
          trySwitch();
        },
        // It ends by itself only after an error event (CURSOR_EXPIRED, SUBSCRIBER_TOO_SLOW).
        end: (last) => {
          if (!switched) subscriber.end(last);
        },
      });
    }
    metrics.subscriptionsActive.inc({ field });
    // The subscriber is the client's iterator itself (no wrapping layer: each costs a promise per
    // event per subscriber in the fan-out). Its return() releases the upstream at once, even while
    // a next() waits: a quiet feed may never have another event.
    return subscriber;
  }

  /** Completes an event with fields other subgraphs own, and gives it the client's exact shape. */
  private async finishEvent(result: ExecutionResult, operation: OperationDefinitionNode, producer: string, variables: Record<string, unknown>, identity: () => Promise<string>): Promise<ExecutionResult> {
    // Errors arrive as JSON from the subgraph; graphql-ws sends GraphQLError instances.
    const upstreamErrors = ((result.errors ?? []) as readonly (GraphQLError | GraphQLFormattedError)[]).map((e) =>
      e instanceof GraphQLError ? e : new GraphQLError(e.message, { ...(e.path && { path: e.path }), ...(e.extensions && { extensions: e.extensions }) }),
    );
    // The event's position in the log travels with it (extensions.cursor), for resuming.
    const cursor = result.extensions?.cursor;
    const extensions = typeof cursor === 'string' || cursor === null ? { extensions: { cursor } } : {};
    if (!result.data) return { errors: upstreamErrors, ...extensions };
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
    return allErrors.length > 0 ? { data: shaped, errors: allErrors, ...extensions } : { data: shaped, ...extensions };
  }

  /** A caller's view of a raw upstream: its events completed for that caller, in order, to every subscriber of the view. */
  private openView(key: string, raw: Upstream, finish: (result: ExecutionResult) => Promise<ExecutionResult>): Upstream {
    let chain = Promise.resolve();
    const inOrder = (step: () => Promise<void> | void) => {
      chain = chain.then(step).catch((error: unknown) => this.deps.logger.error({ err: error }, 'a subscription event could not be delivered'));
    };
    const listener: UpstreamListener = {
      event: (result) =>
        inOrder(async () => {
          const finished = await finish(result);
          view.latest = finished;
          for (const l of [...view.listeners]) l.event(finished);
        }),
      end: (last) =>
        inOrder(() => {
          if (this.views.get(key) === view) this.views.delete(key);
          for (const l of [...view.listeners]) l.end(last);
        }),
    };
    const view: Upstream = {
      listeners: new Set(),
      stop: () => {
        if (this.views.get(key) === view) this.views.delete(key);
        if (!raw.listeners.delete(listener)) return;
        if (raw.listeners.size === 0) raw.stop();
      },
    };
    raw.listeners.add(listener);
    this.views.set(key, view);
    return view;
  }

  private openUpstream(key: string, owner: SubgraphEndpoint, payload: Payload, shared: boolean, resumable: boolean): Upstream {
    const iterator = this.client(owner).iterate(payload);
    const kind = shared ? 'shared' : 'private';
    let open = true;
    const closed = () => {
      if (!open) return;
      open = false;
      if (this.upstreams.get(key) === upstream) this.upstreams.delete(key);
      this.deps.metrics.subscriptionUpstreams.dec({ kind });
    };
    const upstream: Upstream = {
      listeners: new Set(),
      stop: () => {
        closed();
        void iterator.return?.();
      },
    };
    this.upstreams.set(key, upstream);
    this.deps.metrics.subscriptionUpstreams.inc({ kind });
    const { logger } = this.deps;
    void (async () => {
      let failure: ExecutionResult | undefined;
      try {
        for await (const result of iterator) {
          const cursor = (result as ExecutionResult).extensions?.cursor;
          if (resumable && typeof cursor === 'string' && payload.variables && !(result as ExecutionResult).errors) payload.variables[RESUME_VARIABLE] = cursor;
          for (const l of [...upstream.listeners]) l.event(result as ExecutionResult);
        }
      } catch (error) {
        // graphql-ws rejects with the operation's GraphQL errors (already masked by the subgraph),
        // or with a transport error, which the client only learns about as a downstream failure.
        failure = Array.isArray(error)
          ? { errors: (error as { message: string; extensions?: Record<string, unknown> }[]).map((e) => new GraphQLError(e.message, { ...(e.extensions && { extensions: e.extensions }) })) }
          : endedResult(owner.name);
        if (!Array.isArray(error)) logger.warn({ err: error, subgraph: owner.name }, 'upstream subscription failed');
      } finally {
        closed();
        for (const l of [...upstream.listeners]) l.end(failure);
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

/** What a subscriber gets when its upstream went away: a coded error; it resumes with its last cursor. */
function endedResult(subgraph: string): ExecutionResult {
  return { errors: [new GraphQLError(`the ${subgraph} service ended the subscription: subscribe again with after set to the last cursor you received`, { extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } })] };
}

/** The root field's node (looking into inline fragments). */
function rootField(operation: OperationDefinitionNode, field: string): FieldNode | undefined {
  const visitSet = (set: SelectionSetNode): FieldNode | undefined => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD && s.name.value === field) return s;
      if (s.kind === Kind.INLINE_FRAGMENT) {
        const found = visitSet(s.selectionSet);
        if (found) return found;
      }
    }
    return undefined;
  };
  return visitSet(operation.selectionSet);
}

/** The value of the root field's `after` argument (undefined when absent or null). */
export function afterArgument(operation: OperationDefinitionNode, field: string, variables: Record<string, unknown>): string | undefined {
  const argument = rootField(operation, field)?.arguments?.find((a) => a.name.value === 'after');
  if (!argument) return undefined;
  const value = argument.value.kind === Kind.VARIABLE ? variables[argument.value.name.value] : argument.value.kind === Kind.STRING ? argument.value.value : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The same operation without the root field's `after` (and its variable, when nothing else uses it): the live feed it joins. */
export function withoutAfter(operation: OperationDefinitionNode, field: string, variables: Record<string, unknown>): { operation: OperationDefinitionNode; variables: Record<string, unknown> } {
  const target = rootField(operation, field);
  const argument = target?.arguments?.find((a) => a.name.value === 'after');
  if (!target || !argument) return { operation, variables };
  const stripped = visit(operation, {
    Field: (node) => (node === target ? { ...node, arguments: node.arguments?.filter((a) => a !== argument) } : undefined),
  });
  if (argument.value.kind !== Kind.VARIABLE) return { operation: stripped, variables };
  const name = argument.value.name.value;
  let used = false;
  visit(stripped.selectionSet, { Variable: (node) => void (node.name.value === name && (used = true)) });
  if (used) return { operation: stripped, variables };
  const { [name]: _dropped, ...rest } = variables;
  return { operation: { ...stripped, variableDefinitions: stripped.variableDefinitions?.filter((d) => d.variable.name.value !== name) }, variables: rest };
}

/** The variable an upstream subscription's `after` is bound to (the gateway's own, never a client's). */
const RESUME_VARIABLE = 'gatewayResumeAfter';

/** The operation with the root field's `after` bound to the variable `name` (a String). */
export function withAfterVariable(operation: OperationDefinitionNode, field: string, name: string): OperationDefinitionNode {
  const target = rootField(operation, field);
  if (!target) return operation;
  const variable = { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: name } } as const;
  const bound = visit(operation, {
    Field: (node) => (node === target ? { ...node, arguments: [...(node.arguments ?? []), { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'after' }, value: variable }] } : undefined),
  });
  return { ...bound, variableDefinitions: [...(bound.variableDefinitions ?? []), { kind: Kind.VARIABLE_DEFINITION, variable, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'String' } } }] };
}
