import type { Server } from 'node:http';
import { ApolloServer, type ApolloServerOptions, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { readFileSync } from 'node:fs';
import { concatAST, OperationTypeNode, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logging.js';
import { WeightedLru } from '../weighted-lru.js';
import type { Metrics } from '../metrics/metrics.js';
import { formatError } from './errors.js';
import { subscribeWithCursors } from '../subscriptions/execute.js';
import { closeServer, createServiceServer, executeApollo, listen } from './http.js';
import { instrumentRootResolvers, metricsPlugin } from './metrics-plugin.js';
import { appendedPosition, formatPosition, READ_AFTER_POSITION_HEADER, readAfterPosition, recordingAppends } from '../read-your-writes.js';

/** Read-your-writes on a service with read models (projections/read-your-writes.ts's readAfterPositions). */
export interface ReadAfterWait {
  /** Resolves once the service's read models reached the position; rejects with a coded GraphQLError (READ_MODEL_BEHIND) after its bound. */
  wait(position: number): Promise<void>;
  /** Positions known to have been reached (they raise `extensions.readModels`). */
  positions(): Record<string, number>;
  close(): Promise<void>;
}

export interface GraphQLServiceOptions<Context extends BaseContext> {
  name: string;
  schema: GraphQLSchema;
  /** Builds the per-operation context from HTTP headers or graphql-ws connection params. */
  context: (headers: Record<string, unknown>) => Context | Promise<Context>;
  logger: Logger;
  metrics: Metrics;
  readiness?: Record<string, () => Promise<void>>;
  bodyLimitBytes?: number;
  /**
   * The positions of the read models this service reads, sent with every answer as
   * `extensions.readModels` ({ name: position }), so a client can tell how fresh it is.
   */
  readModelPositions?: () => Promise<Record<string, number> | undefined>;
  /**
   * A query sent with `x-read-after-position` waits for the service's read models to reach it
   * (bounded; then READ_MODEL_BEHIND). Without it (a service that reads no read model, only its
   * streams) the header is checked and the query answered at once: it reads its writes anyway.
   */
  readAfter?: ReadAfterWait;
}

export interface RunningService {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/**
 * A subgraph over node:http: Apollo Server for queries and mutations, graphql-ws for its
 * subscriptions on the same path, plus /metrics and health endpoints.
 */
export async function startGraphQLService<Context extends BaseContext>(options: GraphQLServiceOptions<Context>, listenOn: { port: number; host: string }): Promise<RunningService> {
  const { logger, metrics } = options;
  const schema = instrumentRootResolvers(options.schema, metrics);
  const apollo = new ApolloServer<Context>({
    schema,
    documentStore: boundedDocumentStore(),
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false, // the launcher owns shutdown order
    formatError: formatError(logger, metrics),
    plugins: [
      metricsPlugin<Context>(metrics),
      ApolloServerPluginLandingPageDisabled(),
      readYourWritesPlugin(options.readAfter),
      ...(options.readModelPositions ? [readModelsPlugin(options.readModelPositions, logger, options.readAfter)] : []),
      ApolloServerPluginInlineTraceDisabled(),
      // Nothing reads cache-control hints from a subgraph, and the plugin wraps every resolver of
      // every answer to compute them (4 % of a subgraph's CPU under the catalog query).
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();
  const httpServer = createServiceServer({
    logger,
    registry: metrics.registry,
    readiness: options.readiness,
    // Each request records the positions its mutations append (extensions.position).
    graphql: (req, res) => recordingAppends(() => executeApollo(apollo, req, res, async () => options.context(req.headers), { bodyLimitBytes: options.bodyLimitBytes ?? 1_000_000 })),
  });
  const format = formatError(logger, metrics);
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: options.bodyLimitBytes ?? 1_000_000 });
  const ws = useServer<Record<string, unknown>>(
    {
      schema,
      // Per-operation extensions win: the gateway multiplexes many callers over one connection
      // and passes each subscription's (signed) identity with it.
      context: (ctx, _id, payload) => options.context({ ...ctx.extra.request.headers, ...ctx.connectionParams, ...(payload.extensions ?? {}) }),
      // Every event carries its cursor (extensions.cursor); a feed ending with a coded error sends it.
      subscribe: subscribeWithCursors,
      // The same error policy as over HTTP: business codes kept, anything unexpected masked.
      onError: (_ctx, _id, _payload, errors) => {
        for (const error of errors) logger.warn({ err: error }, 'subscription error');
        return errors.map((e) => format(e.toJSON(), e));
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map((e) => format(e.toJSON(), e)) } : undefined),
    },
    wss,
  );
  const port = await listen(httpServer, listenOn.port, listenOn.host);
  const server = httpServer;
  const url = `http://${listenOn.host === '0.0.0.0' ? '127.0.0.1' : listenOn.host}:${port}/graphql`;
  logger.info({ url }, `${options.name} subgraph listening`);
  return {
    url,
    port,
    server,
    close: async () => {
      await ws.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await apollo.stop();
      await closeServer(server);
      await options.readAfter?.close();
    },
  };
}

const COMMON_TYPE_DEFS = new URL('./common.graphql', import.meta.url);

/** A subgraph's typeDefs: the types every subgraph shares, then its own schema file. */
export function subgraphTypeDefs(schemaFile: URL): DocumentNode {
  return concatAST([parse(readFileSync(COMMON_TYPE_DEFS, 'utf8')), parse(readFileSync(schemaFile, 'utf8'))]);
}

/**
 * Apollo Server's cache of parsed and validated documents, bounded by the length of the
 * documents' text. Its default (30 MiB) is measured as the documents' JSON, which leaves out the
 * token lists graphql-js keeps for locations: under a flood of distinct queries the heap it held
 * was several times larger, per server. Clients choose the documents, so the bound must be real.
 */
export function boundedDocumentStore(): NonNullable<ApolloServerOptions<BaseContext>['documentStore']> {
  const documents = new WeightedLru<string, DocumentNode>(DOCUMENT_STORE_CHARS, DOCUMENT_STORE_ENTRIES);
  return {
    get: (key) => Promise.resolve(documents.get(key)),
    set: (key, document) => Promise.resolve(documents.set(key, document, document.loc?.end ?? 1000)),
    delete: (key) => Promise.resolve(documents.delete(key)),
  };
}

const DOCUMENT_STORE_CHARS = 1_000_000;
const DOCUMENT_STORE_ENTRIES = 2000;

/**
 * Read-your-writes at a subgraph: an answer to an operation that appended events carries
 * `extensions.position` (the last one's position, recorded by the command handler, as a string);
 * a query sent with `x-read-after-position` is executed only once the service's read models have
 * reached it (INVALID_INPUT, HTTP 400, for a malformed header; READ_MODEL_BEHIND, HTTP 503, once
 * the wait bound passes). Mutations do not wait: they decide on their streams, never on a read model.
 */
function readYourWritesPlugin(readAfter: ReadAfterWait | undefined): ApolloServerPlugin {
  return {
    requestDidStart: ({ request }) => {
      const header = request.http?.headers.get(READ_AFTER_POSITION_HEADER);
      return Promise.resolve({
        didResolveOperation: async ({ operation }) => {
          const position = readAfterPosition(header ?? undefined);
          if (position !== undefined && readAfter && operation?.operation === OperationTypeNode.QUERY) await readAfter.wait(position);
        },
        willSendResponse: ({ response }) => {
          const position = appendedPosition();
          if (position !== undefined && response.body.kind === 'single') response.body.singleResult.extensions = { ...response.body.singleResult.extensions, position: formatPosition(position) };
          return Promise.resolve();
        },
      });
    },
  };
}

/** Adds `extensions.readModels` (the positions of the read models the service reads) to every answer. */
function readModelsPlugin(positions: () => Promise<Record<string, number> | undefined>, logger: Logger, readAfter: ReadAfterWait | undefined): ApolloServerPlugin {
  return {
    requestDidStart: () =>
      Promise.resolve({
        willSendResponse: async ({ response }) => {
          if (response.body.kind !== 'single') return;
          try {
            const readModels = atLeast(await positions(), readAfter?.positions());
            if (readModels) response.body.singleResult.extensions = { ...response.body.singleResult.extensions, readModels };
          } catch (error) {
            logger.warn({ err: error }, 'could not read the read models\' positions for a response');
          }
        },
      }),
  };
}

/** Each read model's position: the checkpoint's, raised to what the announcements said (a query that waited for a position states at least it). */
function atLeast(read: Record<string, number> | undefined, known: Record<string, number> | undefined): Record<string, number> | undefined {
  if (!read || !known) return read;
  return Object.fromEntries(Object.entries(read).map(([name, position]) => [name, Math.max(position, known[name] ?? 0)]));
}
