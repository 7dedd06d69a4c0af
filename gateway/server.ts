import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault, ApolloServerPluginLandingPageProductionDefault } from '@apollo/server/plugin/landingPage/default';
import { GraphQLError, Kind, OperationTypeNode, validate, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { CallerSigner, IDENTITY_HEADER, type CallerContext } from '../platform/auth/internal-identity.js';
import type { AuthKeys } from '../platform/auth/secrets.js';
import { formatError } from '../platform/graphql/errors.js';
import { boundedDocumentStore } from '../platform/graphql/service.js';
import { closeServer, createServiceServer, executeApollo, HttpError, listen, readRequestBody } from '../platform/graphql/http.js';
import { SingleSubgraphRouter, type Route } from './fast-path.js';
import { SubgraphClient } from './subgraph-client.js';
import { SubgraphDataSource } from './subgraph-data-source.js';
import { metricsPlugin } from '../platform/graphql/metrics-plugin.js';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { RateLimiter } from '../platform/ratelimit/rate-limiter.js';
import { authenticate, clientAddress, cors, graphQLRequest, rateLimit, sendGraphQLError, type GraphQLHttpRequest } from './http-guards.js';
import { enforceLimits, measureOperation, OperationGuard, type DocumentLimits } from './limits.js';
import { guardSlowSockets, TrackedWebSocket } from './slow-sockets.js';
import { loadSupergraph, type SubgraphEndpoint } from './compose.js';
import { SubscriptionForwarder } from './subscriptions.js';
import type { DirectSink } from './subscriber.js';
import { staticFiles } from './static-files.js';
import { SubscriptionAdmission, type ConnectionSubscriptions } from './subscription-admission.js';
import { DEFAULT_SUBSCRIPTION_LIMITS, type SubscriptionLimits } from '../platform/subscriptions/limits.js';
import type { PubSub } from '../platform/pubsub/pubsub.js';
import { etagOf, ResponseCache, type ResponseCacheOptions, type Ticket } from './response-cache.js';
import { policyReadModels, RESPONSE_CACHE_POLICY, ResponseCachePlanner, type CachePlan, type ResponseCachePolicy } from './response-cache-policy.js';
import { formatPosition, READ_AFTER_POSITION_HEADER, READ_MODEL_BEHIND, readAfterPosition } from '../platform/read-your-writes.js';

export interface GatewayContext {
  caller: CallerContext;
  /** The caller, signed for the subgraphs (the only identity they accept). */
  internalToken: string;
  /** Positions of the read models the subgraphs answered from, for `extensions.readModels`. */
  readModels?: Record<string, number>;
  /** The OperationGuard measured this request's operation with its variables (it need not be measured again). */
  admitted?: boolean;
  /** Set when the answer may be kept by the response cache: taken before any subgraph was asked. */
  cacheTicket?: Ticket;
  /** The client's `x-read-after-position` (checked), forwarded to every subgraph fetch. */
  readAfterPosition?: string;
  /** The highest position the request's mutations appended, for `extensions.position`. */
  position?: string;
}

export interface GatewayLimits extends DocumentLimits {
  requestsPerMinute: number;
  maxBodyBytes: number;
  /** A WebSocket that completes no send for wsSendTimeoutMs (or holds more than wsMaxBufferedBytes unsent while stalled) is closed. */
  wsMaxBufferedBytes: number;
  wsSendTimeoutMs: number;
}

export interface GatewayOptions {
  subgraphs: readonly SubgraphEndpoint[];
  logger: Logger;
  metrics: Metrics;
  auth: AuthKeys;
  limits: GatewayLimits;
  limiter: RateLimiter;
  corsOrigins: readonly string[];
  /** Identical reads in flight share one subgraph request (default true). */
  coalesceReads?: boolean;
  /**
   * The response cache (gateway/response-cache.ts), fed by the projector's invalidations and
   * heartbeats on this pub/sub (the projector's own: in-process in the embedded launcher, Redis
   * otherwise; on any other, the cache never serves). Absent: off.
   */
  responseCache?: { pubsub: PubSub; policy?: ResponseCachePolicy } & ResponseCacheOptions;
  production?: boolean;
  compositionTimeoutMs?: number;
  /**
   * Subscription fields whose first event is the current state rather than a change (see
   * SubscriptionForwarder): a caller joining a shared upstream is sent its latest event.
   */
  stateSubscriptions?: readonly string[];
  /** A directory of built storefront files (storefront/build.ts) served at `/`; absent: none. */
  storefront?: string;
  /** Bounds on subscriptions (defaults: DEFAULT_SUBSCRIPTION_LIMITS; README, Subscriptions). */
  subscriptions?: Partial<SubscriptionLimits>;
}

/** In the contract, `orderStatusChanged` starts with the order as it is. */
export const STATE_SUBSCRIPTIONS: readonly string[] = ['orderStatusChanged'];

/** A subscription's context: the caller's, its connection's count of subscriptions, and where its events go. */
type SocketContext = GatewayContext & { connection: ConnectionSubscriptions; socket: WebSocket; messageId: string };

/** Unsent bytes on a socket below which a subscription's events are sent straight to it (Subscriber.sendDirectly). */
const DIRECT_SEND_MAX_BUFFERED_BYTES = 64 * 1024;

function directSink(socket: WebSocket): DirectSink {
  return {
    ready: () => socket.readyState === socket.OPEN && socket.bufferedAmount < DIRECT_SEND_MAX_BUFFERED_BYTES,
    send: (text) => socket.send(text),
  };
}

export interface RunningGateway {
  url: string;
  port: number;
  server: Server;
  forwarder: SubscriptionForwarder;
  /** Bounds on subscriptions, and how many are open. */
  admission: SubscriptionAdmission;
  /** The response cache, when on. */
  responseCache: ResponseCache | undefined;
  close(): Promise<void>;
}

/** What a cacheable request needs to use the cache: its key, its plan, and its ticket once it fetches. */
interface CacheUse {
  key: string;
  plan: CachePlan;
  variables: Record<string, unknown>;
  ticket: Ticket;
  /** Cache-Control of the answer: shared caches may keep an anonymous answer, but must revalidate it. */
  cacheControl: string;
  /** The client's If-None-Match, for a GET (the only method a 304 answers). */
  ifNoneMatch: string | undefined;
  /** Called once the answer is sent (or failed): identical requests waiting for it look again. */
  release(): void;
}

/**
 * Builds and starts the gateway: composes the supergraph from the subgraphs' SDL (a composition
 * error stops start-up), serves queries and mutations through @apollo/gateway, and subscriptions
 * over graphql-ws on the same path by forwarding them to the subgraph that owns them.
 */
export async function startGateway(options: GatewayOptions, listenOn: { port: number; host: string }): Promise<RunningGateway> {
  const { logger, metrics } = options;
  const supergraph = await loadSupergraph(options.subgraphs, { timeoutMs: options.compositionTimeoutMs });
  // @apollo/gateway otherwise starts "data collection": OTLP metrics to Apollo plus cloud
  // metadata probes (AWS, GCP, Azure link-local addresses). The gateway never phones home.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  // Subgraph requests of both paths (planned and single-subgraph) go over one keep-alive client,
  // which lets identical reads in flight share one request.
  const subgraphNames = new Map(options.subgraphs.map((s) => [s.url, s.name]));
  const subgraphs = new SubgraphClient(
    () => metrics.subgraphFetchesCoalesced.inc(),
    (url, outcome, seconds) => metrics.subgraphFetchDuration.observe({ subgraph: subgraphNames.get(url) ?? 'other', outcome }, seconds),
  );
  const coalesce = options.coalesceReads ?? true;
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph.supergraphSdl,
    // Query plans are cached per distinct operation; clients choose the operations.
    experimental_approximateQueryPlanStoreMiB: 8,
    logger,
    // Only the gateway's own signed identity reaches a subgraph, never a client's header.
    buildService: ({ url }) => new SubgraphDataSource(url!, subgraphs, coalesce),
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    documentStore: boundedDocumentStore(),
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false, // the launcher owns shutdown order
    introspection: !options.production,
    // No "Did you mean …?" in production: with introspection off, suggestions would leak field names.
    hideSchemaDetailsFromClientErrors: options.production ?? false,
    formatError: formatError(logger, metrics),
    plugins: [
      metricsPlugin<GatewayContext>(metrics),
      {
        requestDidStart: () =>
          Promise.resolve({
            // The guard admitted the document before Apollo saw it; this catches documents Apollo
            // resolved by itself (automatic persisted queries) and their variables.
            didResolveOperation: ({ document, operationName, request, contextValue }) => {
              if (!contextValue.admitted) enforceLimits(measureOperation(supergraph.apiSchema, document, operationName, request.variables ?? {}), options.limits);
              return Promise.resolve();
            },
            willSendResponse: ({ response, contextValue }) => {
              if (response.body.kind !== 'single') return Promise.resolve();
              const result = response.body.singleResult;
              if (contextValue.readModels) result.extensions = { ...result.extensions, readModels: contextValue.readModels };
              // Read-your-writes: the last position the mutations appended (the highest over the subgraphs written to)...
              if (contextValue.position !== undefined) result.extensions = { ...result.extensions, position: contextValue.position };
              // ...and a query whose read models did not reach the position asked for is a 503 to ask again, as on the fast path.
              if (result.errors?.some((e) => e.extensions?.code === READ_MODEL_BEHIND)) {
                response.http.status = 503;
                response.http.headers.set('retry-after', '1');
              }
              return Promise.resolve();
            },
          }),
      },
      options.production ? ApolloServerPluginLandingPageProductionDefault({ footer: false }) : ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false }),
    ],
  });
  await apollo.start();
  let responseCache: ResponseCache | undefined;
  let planner: ResponseCachePlanner | undefined;
  if (options.responseCache) {
    const { pubsub, policy, ...cacheOptions } = options.responseCache;
    responseCache = new ResponseCache({ pubsub, metrics, logger }, { readModels: policyReadModels(policy ?? RESPONSE_CACHE_POLICY), ...cacheOptions });
    await responseCache.start();
    planner = new ResponseCachePlanner(supergraph.apiSchema, supergraph.ownership, policy);
  }
  const bodyLimitBytes = options.limits.maxBodyBytes;
  const signer = new CallerSigner(options.auth.internalSecret);
  const callerContext = async (caller: CallerContext): Promise<GatewayContext> => ({ caller, internalToken: await signer.sign(caller) });
  const subscriptionLimits = { ...DEFAULT_SUBSCRIPTION_LIMITS, ...options.subscriptions };
  const forwarder = new SubscriptionForwarder(supergraph, { logger, metrics, identityHeader: IDENTITY_HEADER, subgraphs, stateFields: new Set(options.stateSubscriptions ?? STATE_SUBSCRIPTIONS), maxBuffered: subscriptionLimits.bufferEvents });
  const admission = new SubscriptionAdmission(subscriptionLimits, metrics);
  /** Public feeds are subscribed and completed as nobody in particular (they show the same to everyone). */
  const publicIdentity = () => signer.sign({ identity: undefined, clientAddress: undefined });
  const fastPath = new SingleSubgraphRouter(supergraph);
  const guard = new OperationGuard(supergraph.apiSchema, options.limits);
  /** An invalid token counts against the client's address, so forged tokens are rate-limited too. */
  const identify = async (authorization: unknown, address: string) => {
    try {
      return await authenticate(authorization, options.auth.tokens);
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) await rateLimit(options.limiter, `address:${address}`, options.limits.requestsPerMinute);
      throw error;
    }
  };
  const knownOperations = new Set<string>();
  /** The operation label of request metrics: its name, for the first 200 names seen. */
  const operationLabel = (name: string | undefined) =>
    !name ? 'anonymous' : knownOperations.has(name) || (knownOperations.size < 200 && /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) && knownOperations.add(name)) ? name : 'other';
  /** Sends a single-subgraph operation (admitted by the guard) straight to its subgraph and relays the answer as it is. */
  const forward = async (route: Route, request: { query?: unknown; operationName?: unknown; variables?: unknown }, context: GatewayContext, accept: string | undefined, res: ServerResponse, cache: CacheUse | undefined) => {
    const variables = request.variables && typeof request.variables === 'object' ? (request.variables as Record<string, unknown>) : {};
    const name = route.operation.name?.value;
    const end = metrics.graphqlRequestDuration.startTimer({ operation: operationLabel(name), type: route.operation.operation });
    try {
      const response = await subgraphs.post(
        route.subgraph.url,
        JSON.stringify({ query: request.query, variables, ...(name && { operationName: request.operationName }) }),
        { [IDENTITY_HEADER]: context.internalToken, ...(accept && { accept }), ...(context.readAfterPosition !== undefined && { [READ_AFTER_POSITION_HEADER]: context.readAfterPosition }) },
        { read: route.operation.operation === OperationTypeNode.QUERY, coalesce, ...(cache && { generation: cache.ticket.epoch }) },
      );
      const contentType = response.contentType ?? 'application/json; charset=utf-8';
      const seen = cache && response.status === 200 ? keep(res, cache, contentType, response.body) : undefined;
      if (seen?.notModified) {
        res.writeHead(304, seen.headers);
        res.end();
        return;
      }
      // READ_MODEL_BEHIND (read-your-writes) is the 503 a subgraph's GraphQL endpoint answers: asking again is worth it.
      res.writeHead(response.status, { 'content-type': contentType, ...(response.status === 503 && { 'retry-after': '1' }), ...seen?.headers });
      res.end(seen?.body ?? response.body);
    } finally {
      end();
    }
  };
  /** Offers a complete answer to the cache; says which headers and body it gets, and whether a 304 answers it instead. */
  const keep = (res: ServerResponse, cache: CacheUse, contentType: string, body: string): { headers: Record<string, string>; body: string; notModified: boolean } | undefined => {
    const seen = responseCache?.store(cache.ticket, cache.key, contentType, body, (data) => cache.plan.tagsFor(cache.variables, data), cache.plan.maxAgeMs);
    const etag = seen?.etag ?? etagOf(body);
    if (!etag) return undefined;
    return { headers: cacheHeaders(res, etag, cache.cacheControl, 'MISS'), body: seen?.body ?? body, notModified: matches(cache.ifNoneMatch, etag) };
  };
  /** Answers being fetched to fill the cache, by key: an identical request waits for the fill rather than fetch too. */
  const filling = new Map<string, Promise<void>>();
  /**
   * The cache's part for a request: undefined unless the cache serves and the request is a GET or
   * POST of a query the policy covers (no extensions, such as persisted queries). Answers a hit
   * (or a 304) itself and returns 'answered'. A miss while an identical request is fetching waits
   * for that answer and looks again (it is kept only if nothing it holds changed meanwhile).
   */
  const useCache = async (req: IncomingMessage, res: ServerResponse, request: GraphQLHttpRequest | undefined, anonymous: boolean, readAfter: number | undefined): Promise<CacheUse | 'answered' | undefined> => {
    if (!responseCache?.serving || !planner || !request || request.extensions !== undefined || typeof request.query !== 'string') return undefined;
    if (req.method !== 'POST' && !(req.method === 'GET' && passesCsrfCheck(req))) return undefined;
    // Anything malformed goes on to Apollo, which refuses it (a cached answer must not hide that).
    const variables = wellFormedVariables(req, request);
    if (!variables || (request.operationName !== undefined && request.operationName !== null && typeof request.operationName !== 'string')) return undefined;
    const operationName = typeof request.operationName === 'string' && request.operationName !== '' ? request.operationName : undefined;
    const plan = planner.plan(request.query, operationName);
    if (!plan) return undefined;
    const key = `${req.headers.accept ?? ''}\n${operationName ?? ''}\n${JSON.stringify(variables)}\n${request.query}`;
    const cacheControl = anonymous ? 'public, no-cache' : 'private, no-cache';
    const ifNoneMatch = req.method === 'GET' ? req.headers['if-none-match'] : undefined;
    const end = metrics.graphqlRequestDuration.startTimer({ operation: operationLabel(plan.name), type: OperationTypeNode.QUERY });
    // A client asking for a fresh answer (Cache-Control: no-cache) gets one, which the cache then keeps.
    if (!/\bno-(cache|store)\b/i.test(`${req.headers['cache-control'] ?? ''} ${req.headers.pragma ?? ''}`)) {
      const fill = filling.get(key);
      // Read-your-writes: an answer kept from before the position is not served (it is fetched, waiting for it, and kept).
      let hit = responseCache.get(key, { countMiss: !fill, atLeast: readAfter });
      if (!hit && fill) {
        await fill;
        hit = responseCache.get(key, { atLeast: readAfter });
      }
      if (hit) {
        end();
        const headers = cacheHeaders(res, hit.etag, cacheControl, 'HIT');
        if (matches(ifNoneMatch, hit.etag)) {
          res.writeHead(304, headers);
          res.end();
        } else {
          res.writeHead(200, { 'content-type': hit.contentType, ...headers });
          res.end(hit.body);
        }
        return 'answered';
      }
    }
    let release: () => void = () => undefined;
    if (!filling.has(key)) {
      let done!: () => void;
      filling.set(key, new Promise<void>((resolve) => (done = resolve)));
      release = () => {
        filling.delete(key);
        done();
      };
    }
    return { key, plan, variables, ticket: responseCache.begin(), cacheControl, ifNoneMatch, release };
  };
  const httpServer = createServiceServer({
    logger,
    registry: metrics.registry,
    ...(options.storefront && { fallback: staticFiles(options.storefront) }),
    // Ready when every subgraph answers its liveness probe (the gateway cannot serve without them).
    readiness: Object.fromEntries(
      options.subgraphs.map((s) => [
        `subgraph:${s.name}`,
        async () => {
          const response = await fetch(new URL('/health/live', s.url), { signal: AbortSignal.timeout(2000) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
        },
      ]),
    ),
    graphql: async (req, res) => {
      if (cors(req, res, options.corsOrigins)) return;
      const address = clientAddress(req);
      const identity = await identify(req.headers.authorization, address);
      await rateLimit(options.limiter, identity ? `user:${identity.userId}` : `address:${address}`, options.limits.requestsPerMinute);
      const body = await readRequestBody(req, bodyLimitBytes);
      const request = graphQLRequest(req, body);
      // Every limit is enforced here, in time linear in the document, before anything expands,
      // validates or plans it (Apollo included).
      let admitted = false;
      if (request && typeof request.query === 'string' && (request.operationName === undefined || request.operationName === null || typeof request.operationName === 'string')) {
        try {
          const variables = request.variables && typeof request.variables === 'object' ? (request.variables as Record<string, unknown>) : {};
          const { operation } = guard.admit(request.query, request.operationName, variables);
          admitted = true;
          if (operation.operation === OperationTypeNode.SUBSCRIPTION) {
            throw new GraphQLError('subscriptions are served over graphql-ws (a WebSocket to this same URL); HTTP serves queries and mutations', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
          }
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          sendGraphQLError(res, error, metrics);
          return;
        }
      }
      let readAfter: number | undefined;
      try {
        readAfter = readAfterPosition(req.headers[READ_AFTER_POSITION_HEADER]);
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        sendGraphQLError(res, error, metrics);
        return;
      }
      const cache = await useCache(req, res, request, identity === undefined, readAfter);
      if (cache === 'answered') {
        metrics.gatewayRoutes.inc({ path: 'cache' });
        return;
      }
      try {
        const context = await callerContext({ identity, clientAddress: address });
        context.admitted = admitted;
        if (readAfter !== undefined) context.readAfterPosition = formatPosition(readAfter);
        const route = req.method === 'POST' && request && !request.extensions ? fastPath.route(request.query, request.operationName) : undefined;
        metrics.gatewayRoutes.inc({ path: request && route ? 'fast' : 'planned' });
        if (request && route) {
          // The client's Accept goes along: the subgraph answers in the media type it asked for.
          await forward(route, request, context, req.headers.accept, res, cache);
          return;
        }
        if (cache) context.cacheTicket = cache.ticket;
        await executeApollo(apollo, req, res, () => Promise.resolve(context), {
          bodyLimitBytes,
          body,
          ...(cache && { complete: (answer) => (answer.status === 200 ? keep(res, cache, answer.contentType ?? 'application/json; charset=utf-8', answer.body) : undefined) }),
        });
      } finally {
        cache?.release();
      }
    },
  });
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: bodyLimitBytes, WebSocket: TrackedWebSocket });
  const slowSockets = guardSlowSockets(wss, {
    maxBufferedBytes: options.limits.wsMaxBufferedBytes,
    sendTimeoutMs: options.limits.wsSendTimeoutMs,
    onClose: (detail) => {
      metrics.slowSocketsClosed.inc();
      logger.warn(detail, 'closed a WebSocket whose client does not read what it is sent');
    },
  });
  const ws = useServer<Record<string, unknown>, { caller?: CallerContext; subscriptions?: ConnectionSubscriptions }>(
    {
      schema: supergraph.apiSchema,
      // A socket that sends no connection_init in time is closed (4408); keep-alive pings below.
      connectionInitWaitTimeout: subscriptionLimits.connectionInitTimeoutMs,
      onClose: (_ctx, code) => {
        if (code === 4408) metrics.subscriptionRefusals.inc({ limit: 'init_timeout' });
      },
      // connection_init carries { authorization: "Bearer <jwt>" }; a bad token closes the socket (4403).
      onConnect: async (ctx) => {
        try {
          const address = ctx.extra.request.socket.remoteAddress ?? 'unknown';
          const identity = await identify(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization, address);
          ctx.extra.caller = { identity, clientAddress: address };
          ctx.extra.subscriptions = { subscriptions: 0 };
          return true;
        } catch (error) {
          if (error instanceof HttpError) return false;
          throw error;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const caller = ctx.extra.caller ?? { identity: undefined, clientAddress: undefined };
        let document;
        try {
          ({ document } = guard.admit(payload.query, payload.operationName, payload.variables ?? {}));
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(supergraph.apiSchema, document);
        if (errors.length > 0) return errors.map((error) => validationError(error, options.production ?? false));
        try {
          await rateLimit(options.limiter, caller.identity ? `user:${caller.identity.userId}` : `address:${caller.clientAddress ?? 'unknown'}`, options.limits.requestsPerMinute);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          if (error instanceof HttpError) return [new GraphQLError(error.message, { extensions: { code: 'RATE_LIMITED', retryAfterSeconds: Number(error.headers['retry-after'] ?? 1) } })];
          throw error;
        }
        const connection = ctx.extra.subscriptions ?? { subscriptions: 0 };
        const contextValue: SocketContext = { ...(await callerContext(caller)), admitted: true, connection, socket: ctx.extra.socket, messageId: id };
        return { schema: supergraph.apiSchema, document, variableValues: payload.variables, operationName: payload.operationName, contextValue };
      },
      subscribe: async (args) => {
        const context = args.contextValue as SocketContext;
        const who = context.caller.identity ? `${context.caller.identity.userId}/${context.caller.identity.role}` : 'anonymous';
        let release: (() => void) | undefined;
        try {
          release = admission.admit(context.connection, context.caller.identity ? `user:${context.caller.identity.userId}` : `address:${context.caller.clientAddress ?? 'unknown'}`);
          const subscriber = await forwarder.subscribe(args.document, args.variableValues ?? undefined, args.operationName, who, () => signer.sign(context.caller), publicIdentity, release);
          subscriber.sendDirectly(context.messageId, directSink(context.socket));
          return subscriber;
        } catch (error) {
          release?.();
          if (!(error instanceof GraphQLError)) logger.error({ err: error }, 'a subscription could not be opened');
          return { errors: [error instanceof GraphQLError ? error : new GraphQLError('subscription failed', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })] };
        }
      },
      // Queries and mutations sent over the socket run through the gateway like HTTP ones.
      execute: async (args): Promise<ExecutionResult> => {
        const operation = args.document.definitions.find(
          (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
        );
        if (operation?.operation === OperationTypeNode.SUBSCRIPTION) return { errors: [new GraphQLError('use subscribe for subscriptions')] };
        const response = await apollo.executeOperation(
          { query: args.document, variables: args.variableValues ?? undefined, operationName: args.operationName ?? undefined },
          { contextValue: args.contextValue as GatewayContext },
        );
        if (response.body.kind !== 'single') return { errors: [new GraphQLError('incremental delivery is not supported over WebSocket')] };
        return response.body.singleResult as ExecutionResult;
      },
      onError: (_ctx, _id, _payload, errors) => {
        for (const error of errors) logger.debug({ err: error }, 'subscription operation error');
      },
    },
    wss,
    // A socket that does not answer a ping before the next one is terminated (its subscriptions end).
    subscriptionLimits.keepAliveMs,
  );
  const port = await listen(httpServer, listenOn.port, listenOn.host);
  const url = `http://${listenOn.host === '0.0.0.0' ? '127.0.0.1' : listenOn.host}:${port}/graphql`;
  logger.info({ url, subgraphs: options.subgraphs.map((s) => s.name) }, 'gateway listening');
  return {
    url,
    port,
    server: httpServer,
    forwarder,
    admission,
    responseCache,
    close: async () => {
      slowSockets.stop();
      await responseCache?.close();
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await forwarder.close();
      subgraphs.close();
      await apollo.stop();
      await closeServer(httpServer);
    },
  };
}

/** Headers of an answer the cache has seen: its ETag, how HTTP caches may keep it, and whether it was a hit. */
function cacheHeaders(res: ServerResponse, etag: string, cacheControl: string, outcome: 'HIT' | 'MISS'): Record<string, string> {
  const vary = [res.getHeader('vary'), 'Accept'].filter(Boolean).join(', ');
  return { etag, 'cache-control': cacheControl, vary, 'x-cache': outcome };
}

/**
 * A request's variables if they are well formed (absent, null or an object; in a GET, a `variables`
 * parameter that parses as such, and no `extensions` parameter), else undefined.
 */
function wellFormedVariables(req: IncomingMessage, request: GraphQLHttpRequest): Record<string, unknown> | undefined {
  if (req.method === 'GET') {
    const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    if (params.has('extensions')) return undefined;
    if (params.has('variables') && (request.variables === undefined || params.get('variables') === '')) return undefined;
  }
  const { variables } = request;
  if (variables === undefined || variables === null) return {};
  return typeof variables === 'object' && !Array.isArray(variables) ? (variables as Record<string, unknown>) : undefined;
}

/** Whether an If-None-Match header names this (weak) ETag. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/**
 * What Apollo Server's CSRF prevention asks of a GET before it executes it: a header a browser
 * sends only after a preflight. A cached GET answer is given only to such a request (the others
 * go on to Apollo, which refuses them).
 */
function passesCsrfCheck(req: IncomingMessage): boolean {
  if (req.headers['apollo-require-preflight'] || req.headers['x-apollo-operation-name']) return true;
  const contentType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return contentType !== undefined && !['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'].includes(contentType);
}

/**
 * A validation error as graphql-ws sends it: coded like Apollo's over HTTP, and in production
 * without graphql-js's "Did you mean …?" (it names fields an introspection-less client should not learn).
 */
function validationError(error: GraphQLError, production: boolean): GraphQLError {
  const message = production ? error.message.replace(/ ?Did you mean(.+?)\?$/, '') : error.message;
  return new GraphQLError(message, { ...(error.nodes && { nodes: error.nodes }), extensions: { ...error.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } });
}
