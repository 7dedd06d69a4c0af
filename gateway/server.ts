import type { IncomingHttpHeaders, Server } from 'node:http';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault, ApolloServerPluginLandingPageProductionDefault } from '@apollo/server/plugin/landingPage/default';
import { GraphQLError, Kind, OperationTypeNode, parse, validate, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { formatError } from '../platform/graphql/errors.js';
import { closeServer, createServiceServer, executeApollo, listen } from '../platform/graphql/http.js';
import { metricsPlugin } from '../platform/graphql/metrics-plugin.js';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import { loadSupergraph, type SubgraphEndpoint } from './compose.js';
import { SubscriptionForwarder } from './subscriptions.js';

/**
 * Identity headers passed on to subgraphs. DEVELOPMENT ONLY until authentication lands: the
 * gateway forwards what the client sent; the auth issue replaces this with verified tokens.
 */
export const FORWARDED_HEADERS = ['x-dev-user-id', 'x-dev-user-role'] as const;

export interface GatewayContext {
  identity: Record<string, string>;
}

export interface GatewayOptions {
  subgraphs: readonly SubgraphEndpoint[];
  logger: Logger;
  metrics: Metrics;
  production?: boolean;
  bodyLimitBytes?: number;
  compositionTimeoutMs?: number;
}

export interface RunningGateway {
  url: string;
  port: number;
  server: Server;
  forwarder: SubscriptionForwarder;
  close(): Promise<void>;
}

function identityFrom(source: IncomingHttpHeaders | Record<string, unknown> | undefined): Record<string, string> {
  const identity: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = source?.[name];
    if (typeof value === 'string' && value.length > 0) identity[name] = value;
  }
  return identity;
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
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph.supergraphSdl,
    logger,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url,
        willSendRequest: ({ request, context }) => {
          const identity: Record<string, string> = (context as Partial<GatewayContext>).identity ?? {};
          for (const [name, value] of Object.entries(identity)) request.http?.headers.set(name, value);
        },
      }),
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false, // the launcher owns shutdown order
    introspection: !options.production,
    formatError: formatError(logger, metrics),
    plugins: [
      metricsPlugin<GatewayContext>(metrics),
      options.production ? ApolloServerPluginLandingPageProductionDefault({ footer: false }) : ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false }),
    ],
  });
  await apollo.start();
  const bodyLimitBytes = options.bodyLimitBytes ?? 100_000;
  const forwarder = new SubscriptionForwarder(supergraph.subscriptionOwners, { logger, metrics });
  const httpServer = createServiceServer({
    logger,
    registry: metrics.registry,
    graphql: (req, res) => executeApollo(apollo, req, res, () => Promise.resolve({ identity: identityFrom(req.headers) }), { bodyLimitBytes }),
  });
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: bodyLimitBytes });
  const ws = useServer<Record<string, unknown>, { identity: Record<string, string> }>(
    {
      schema: supergraph.apiSchema,
      onConnect: (ctx) => {
        ctx.extra.identity = identityFrom(ctx.connectionParams);
        return true;
      },
      onSubscribe: (ctx, _id, payload) => {
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('could not parse the operation')];
        }
        const errors = validate(supergraph.apiSchema, document);
        if (errors.length > 0) return errors;
        return { schema: supergraph.apiSchema, document, variableValues: payload.variables, operationName: payload.operationName, contextValue: ctx.extra };
      },
      subscribe: (args) => {
        const identity = (args.contextValue as { identity: Record<string, string> }).identity;
        try {
          return forwarder.subscribe(args.document, args.variableValues ?? undefined, args.operationName, identity);
        } catch (error) {
          return { errors: [error instanceof GraphQLError ? error : new GraphQLError('subscription failed', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })] };
        }
      },
      // Queries and mutations sent over the socket run through the gateway like HTTP ones.
      execute: async (args): Promise<ExecutionResult> => {
        const operation = args.document.definitions.find(
          (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
        );
        if (operation?.operation === OperationTypeNode.SUBSCRIPTION) return { errors: [new GraphQLError('use subscribe for subscriptions')] };
        const identity = (args.contextValue as { identity: Record<string, string> }).identity;
        const response = await apollo.executeOperation(
          { query: args.document, variables: args.variableValues ?? undefined, operationName: args.operationName ?? undefined },
          { contextValue: { identity } },
        );
        if (response.body.kind !== 'single') return { errors: [new GraphQLError('incremental delivery is not supported over WebSocket')] };
        return response.body.singleResult as ExecutionResult;
      },
      onError: (_ctx, _id, _payload, errors) => {
        for (const error of errors) logger.debug({ err: error }, 'subscription operation error');
      },
    },
    wss,
  );
  const port = await listen(httpServer, listenOn.port, listenOn.host);
  const url = `http://${listenOn.host === '0.0.0.0' ? '127.0.0.1' : listenOn.host}:${port}/graphql`;
  logger.info({ url, subgraphs: options.subgraphs.map((s) => s.name) }, 'gateway listening');
  return {
    url,
    port,
    server: httpServer,
    forwarder,
    close: async () => {
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await forwarder.close();
      await apollo.stop();
      await closeServer(httpServer);
    },
  };
}
