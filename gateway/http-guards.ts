import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentCorrelationId } from '../platform/correlation.js';
import { InvalidTokenError, verifyToken, type Identity, type TokenSettings } from '../platform/auth/tokens.js';
import type { GraphQLError } from 'graphql';
import { HttpError, sendJson } from '../platform/graphql/http.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { RateLimiter } from '../platform/ratelimit/rate-limiter.js';

/** The client address: the socket's peer (a proxy in front would have to be trusted explicitly). */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** `Authorization: Bearer <jwt>` (or the same in graphql-ws connection_init): no header = anonymous, a bad one = 401. */
export async function authenticate(authorization: unknown, tokens: TokenSettings): Promise<Identity | undefined> {
  if (authorization === undefined || authorization === null || authorization === '') return undefined;
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  if (!match) throw new HttpError(401, 'the Authorization header must be "Bearer <token>"', { 'www-authenticate': 'Bearer' });
  try {
    const { userId, role } = await verifyToken(match[1]!, tokens);
    return { userId, role };
  } catch (error) {
    if (error instanceof InvalidTokenError) throw new HttpError(401, error.message, { 'www-authenticate': 'Bearer error="invalid_token"' });
    throw error;
  }
}

/** Per-identity (or per-address, for anonymous callers) sliding window; refusal = 429 with Retry-After. */
export async function rateLimit(limiter: RateLimiter, key: string, perMinute: number): Promise<void> {
  const decision = await limiter.hit(`requests:${key}`, perMinute, 60_000);
  if (!decision.allowed) throw new HttpError(429, 'too many requests', { 'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)) });
}

/** CORS for the configured origins; answers preflight requests. Returns true when the request is fully handled. */
export function cors(req: IncomingMessage, res: ServerResponse, origins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin && (origins.includes('*') || origins.includes(origin))) {
    res.setHeader('access-control-allow-origin', origins.includes('*') ? '*' : origin);
    if (!origins.includes('*')) res.setHeader('vary', 'Origin');
    // x-read-after-position: read-your-writes from a browser (README, Read your writes).
    res.setHeader('access-control-allow-headers', 'authorization, content-type, apollo-require-preflight, x-apollo-operation-name, x-read-after-position');
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-max-age', '600');
  }
  if (req.method === 'OPTIONS') {
    res.writeHead(204);
    res.end();
    return true;
  }
  return false;
}

export interface GraphQLHttpRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

/** The GraphQL request of a POST (its JSON body) or a GET (its query string); undefined for anything else. */
export function graphQLRequest(req: IncomingMessage, body: unknown): GraphQLHttpRequest | undefined {
  if (req.method === 'POST') return body && typeof body === 'object' && !Array.isArray(body) ? body : undefined;
  if (req.method !== 'GET') return undefined;
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const query = params.get('query');
  if (query === null) return undefined;
  let variables: unknown;
  try {
    variables = JSON.parse(params.get('variables') ?? 'null');
  } catch {
    variables = undefined; // Apollo answers malformed variables with its own 400
  }
  return { query, operationName: params.get('operationName') || undefined, variables };
}

/** Answers a refused operation with its coded GraphQL error and the status it names (400 unless told). */
export function sendGraphQLError(res: ServerResponse, error: GraphQLError, metrics: Metrics): void {
  const { http, ...extensions } = error.extensions as { http?: { status?: number }; code?: string };
  metrics.graphqlErrors.inc({ code: extensions.code ?? 'BAD_REQUEST' });
  sendJson(res, http?.status ?? 400, { errors: [{ message: error.message, ...(error.locations && { locations: error.locations }), extensions: { ...extensions, correlationId: currentCorrelationId() } }] });
}
