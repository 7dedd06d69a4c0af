import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CORRELATION_HEADER, correlationFromHeader, correlationFromTraceparent, withCorrelation } from '../correlation.js';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import type { Registry } from 'prom-client';
import type { Logger } from '../logging.js';

const HTTP_CODES: Record<number, string> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
};

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** The error's code for the client (`extensions.code`), when the status alone does not say enough. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Reads a request body, refusing more than `limitBytes` with 413 (without buffering the excess). */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) return Promise.reject(new HttpError(413, `request body larger than ${limitBytes} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new HttpError(413, `request body larger than ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * A POST's body must be `application/json` (UTF-8, the only charset JSON allows on the wire);
 * anything else is refused with 415 before the body is read.
 */
function assertJsonContentType(contentType: string | undefined): void {
  const [mediaType = '', ...parameters] = (contentType ?? '').split(';');
  const charset = parameters
    .map((p) => p.trim().split('='))
    .find(([name]) => name?.trim().toLowerCase() === 'charset')?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  if (mediaType.trim().toLowerCase() !== 'application/json' || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new HttpError(415, `a POST body must be application/json in UTF-8${contentType ? `, not ${JSON.stringify(contentType.slice(0, 100))}` : ''}`, { accept: 'application/json' });
  }
}

/** The parsed JSON body of a POST (415 for other content types); undefined for other methods. */
export async function readRequestBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  if (req.method !== 'POST') return undefined;
  assertJsonContentType(req.headers['content-type']);
  const raw = await readBody(req, limitBytes);
  if (raw.length === 0) throw new HttpError(400, 'the request body is empty: send a JSON object with a "query"');
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

/** Runs one HTTP request through Apollo Server (no framework: Apollo Server 5 has none built in). */
export async function executeApollo<Context extends BaseContext>(
  apollo: ApolloServer<Context>,
  req: IncomingMessage,
  res: ServerResponse,
  context: () => Promise<Context>,
  options: {
    bodyLimitBytes: number;
    body?: unknown;
    /**
     * Sees a complete answer before it is sent: may add headers, send another body, or answer
     * 304 Not Modified instead (`notModified`).
     */
    complete?: (answer: { status: number; contentType: string | undefined; body: string }) => { headers?: Record<string, string>; body?: string; notModified?: boolean } | undefined;
  },
): Promise<void> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const body = 'body' in options ? options.body : await readRequestBody(req, options.bodyLimitBytes);
  // An empty operationName means none: Apollo Server would look for an operation named "" and
  // fail with an internal error.
  if (url.searchParams.get('operationName') === '') url.searchParams.delete('operationName');
  if (body && typeof body === 'object' && 'operationName' in body && body.operationName === '') delete body.operationName;
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
    context,
  });
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') {
    const seen = options.complete?.({ status: res.statusCode, contentType: response.headers.get('content-type'), body: response.body.string });
    for (const [key, value] of Object.entries(seen?.headers ?? {})) res.setHeader(key, value);
    if (seen?.notModified) {
      res.statusCode = 304;
      res.removeHeader('content-type');
      res.removeHeader('content-length');
      res.end();
      return;
    }
    res.end(seen?.body ?? response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

export interface ServiceHttpOptions {
  logger: Logger;
  registry: Registry;
  /** Named readiness checks; a failing one makes /health/ready answer 503 and name it. */
  readiness?: Record<string, () => Promise<void>>;
  /** Extra routes by exact path. */
  routes?: Record<string, Handler>;
  graphql: Handler;
  graphqlPath?: string;
  /** Answers a request no route matched (the gateway's static storefront); resolves false to fall through to the 404. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

/** The HTTP surface every service shares: GraphQL, /metrics, /health/live, /health/ready. */
export function createServiceServer(options: ServiceHttpOptions): Server {
  const server = createServer(handleRequest(options));
  // Requests Node's parser refuses (headers over 16 kB, malformed requests) get a coded JSON
  // answer too, not a bare status line.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const message = status === 431 ? 'request headers are too large (16 kB at most, an Authorization header included)' : 'malformed HTTP request';
    const body = JSON.stringify({ errors: [{ message, extensions: { code: HTTP_CODES[status] ?? 'BAD_REQUEST' } }] });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}

function handleRequest(options: ServiceHttpOptions) {
  const graphqlPath = options.graphqlPath ?? '/graphql';
  const routes: Record<string, Handler> = {
    '/metrics': async (_req, res) => {
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(await options.registry.metrics());
    },
    '/health/live': (_req, res) => Promise.resolve(sendJson(res, 200, { status: 'ok' })),
    '/health/ready': async (_req, res) => {
      const failures: Record<string, string> = {};
      await Promise.all(
        Object.entries(options.readiness ?? {}).map(async ([name, check]) => {
          try {
            await check();
          } catch (error) {
            failures[name] = error instanceof Error ? error.message : String(error);
          }
        }),
      );
      const ok = Object.keys(failures).length === 0;
      sendJson(res, ok ? 200 : 503, ok ? { status: 'ready' } : { status: 'not ready', failures });
    },
    ...options.routes,
  };
  const fallback: Handler | undefined =
    options.fallback &&
    (async (req, res) => {
      if (!(await options.fallback!(req, res))) sendJson(res, 404, { error: 'not found' });
    });
  return (req: IncomingMessage, res: ServerResponse) => {
    // Everything done for the request (logs, events appended, subgraph fetches) carries its correlation id; so does the answer.
    const correlationId = requestCorrelation(req);
    res.setHeader(CORRELATION_HEADER, correlationId);
    withCorrelation(correlationId, () => serve(req, res, correlationId));
  };
  function serve(req: IncomingMessage, res: ServerResponse, correlationId: string): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = path === graphqlPath ? options.graphql : (routes[path] ?? fallback);
    if (!handler) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    const started = performance.now();
    if (path === graphqlPath) {
      res.once('finish', () => {
        const line = { correlationId, method: req.method, path, status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 };
        if (res.statusCode >= 500) options.logger.warn(line, 'graphql request failed');
        else options.logger.debug(line, 'graphql request');
      });
    }
    handler(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        if (!res.headersSent) sendJson(res, error.status, { errors: [{ message: error.message, extensions: { code: error.code ?? HTTP_CODES[error.status] ?? 'BAD_REQUEST', correlationId } }] }, error.headers);
        else res.end();
        return;
      }
      options.logger.error({ err: error, path }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', correlationId } }] });
      else res.end();
    });
  }
}

/**
 * A request's correlation id: the trace id of a client's W3C `traceparent`; else the
 * `x-correlation-id` another of our processes sent (the gateway to a subgraph); else a new one.
 */
function requestCorrelation(req: IncomingMessage): string {
  if (req.headers.traceparent) return correlationFromTraceparent(req.headers.traceparent);
  return correlationFromHeader(req.headers[CORRELATION_HEADER]);
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
