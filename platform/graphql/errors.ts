import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { currentCorrelationId } from '../correlation.js';
import { DomainError, ERROR_CODES } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics/metrics.js';

export interface UserError {
  code: DomainError['code'];
  message: string;
  field: string[] | null;
}

/**
 * Runs a mutation and turns business failures into `userErrors` of its payload. Authorisation
 * failures are GraphQL errors with extensions.code FORBIDDEN (as the contract says); anything
 * else is unexpected and is masked by `formatError`.
 */
export async function withUserErrors<P extends object>(
  metrics: Metrics,
  run: () => Promise<P>,
  empty: NoInfer<{ [K in Exclude<keyof P, 'userErrors'>]: null }>,
): Promise<(P | { [K in Exclude<keyof P, 'userErrors'>]: null }) & { userErrors: UserError[] }> {
  try {
    // A payload may carry its own userErrors alongside a result (a declined payment's order).
    return { userErrors: [], ...(await run()) };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    metrics.graphqlErrors.inc({ code: error.code });
    if (error.code === 'FORBIDDEN') throw new GraphQLError(error.message, { extensions: { code: 'FORBIDDEN' } });
    return { ...empty, userErrors: [{ code: error.code, message: error.message, field: error.field ? [...error.field] : null }] };
  }
}

/** A GraphQL error for bad arguments outside a payload (page sizes, cursors). */
export function badUserInput(message: string, field: string[]): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', field } });
}

export const MAX_PAGE_SIZE = 100;

/** Validates a connection's `first` argument. */
export function pageSize(first: number | null | undefined, fallback = 20): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw badUserInput(`first must be between 1 and ${MAX_PAGE_SIZE}`, ['first']);
  return size;
}

export function unauthenticated(message = 'sign in first'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });
}

/**
 * Codes of errors a client caused or can act on; they pass through as they are. The domain's
 * codes are among them: a subgraph's business failure (a bad cursor) reaches the gateway as a
 * downstream error with that code, and must reach the client with it, not as an internal error.
 */
const CLIENT_CODES = new Set<string>([
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'DOWNSTREAM_SERVICE_ERROR',
  'RATE_LIMITED',
  'QUERY_TOO_COMPLEX',
  'SERVICE_UNAVAILABLE',
  // Subscriptions: resume from a cursor, or refetch state (see README, Subscriptions).
  'CURSOR_EXPIRED',
  'SUBSCRIBER_TOO_SLOW',
  'SUBSCRIPTION_INTERRUPTED',
  'SUBSCRIPTION_LIMIT',
  // Read-your-writes: the read models did not reach the position asked for in time (ask again).
  'READ_MODEL_BEHIND',
  ...ERROR_CODES,
]);

/**
 * Apollo `formatError`: client-caused errors pass through (without stack traces); anything else
 * is logged with its stack and reaches the client as a generic INTERNAL_SERVER_ERROR.
 */
export function formatError(logger: Logger, metrics: Metrics) {
  const format = formatErrorUncorrelated(logger, metrics);
  // Every error names the request's correlation id: a user's bug report can be traced through the logs.
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = format(formatted, error);
    const correlationId = currentCorrelationId();
    return correlationId ? { ...result, extensions: { ...result.extensions, correlationId } } : result;
  };
}

function formatErrorUncorrelated(logger: Logger, metrics: Metrics) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : 'INTERNAL_SERVER_ERROR';
    metrics.graphqlErrors.inc({ code });
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      // A business failure outside a payload (e.g. a query the caller may not make): keep its code.
      return { message: original.message, ...(formatted.path && { path: formatted.path }), extensions: { code: original.code, ...(original.field && { field: [...original.field] }) } };
    }
    if (CLIENT_CODES.has(code)) {
      const { stacktrace: _stacktrace, exception: _exception, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error in a GraphQL operation');
    return { message: 'Internal server error', ...(formatted.path && { path: formatted.path }), extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
