/**
 * Domain errors. Adapters translate driver errors into these; the GraphQL edge translates these
 * into `userErrors` (business failures) or `extensions.code` (auth), once, in one place.
 */
export const ERROR_CODES = ['INVALID_INPUT', 'NOT_FOUND', 'ALREADY_EXISTS', 'VERSION_CONFLICT', 'INSUFFICIENT_STOCK', 'INVALID_STATE', 'PAYMENT_DECLINED', 'FORBIDDEN', 'INVALID_CREDENTIALS', 'TOO_MANY_ROWS'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure the client can act on. `field` is the path into the GraphQL input. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: readonly string[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, field?: readonly string[]) {
    super('INVALID_INPUT', message, field);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string, field?: readonly string[]) {
    super('NOT_FOUND', message, field);
  }
}

export class AlreadyExistsError extends DomainError {
  constructor(message: string, field?: readonly string[]) {
    super('ALREADY_EXISTS', message, field);
  }
}

export class IllegalStateError extends DomainError {
  constructor(message: string, field?: readonly string[]) {
    super('INVALID_STATE', message, field);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** A bulk input (a CSV import) has more rows than this path takes; `limit` says how many it does. */
export class TooManyRowsError extends DomainError {
  constructor(
    readonly limit: number,
    message: string,
    field?: readonly string[],
  ) {
    super('TOO_MANY_ROWS', message, field);
  }
}

/**
 * The stream was not at the revision the writer expected. Carries both so that a caller (or a
 * log line) can tell what happened without guessing.
 */
export class ConcurrencyError extends DomainError {
  constructor(
    readonly streamName: string,
    readonly expected: string,
    readonly actual: string,
    field?: readonly string[],
  ) {
    super('VERSION_CONFLICT', `stream ${streamName} is at ${actual}, expected ${expected}`, field);
  }
}

/** A configured infrastructure dependency is unusable; carries which one for a one-line message. */
export class InfrastructureError extends Error {
  constructor(
    readonly dependency: string,
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} at ${url}: ${message}`, options);
    this.name = 'InfrastructureError';
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** Driver errors of a server being unreachable, slow or restarting (as the drivers name them). */
const TRANSIENT_NAMES = /^(MongoNetwork(Timeout)?Error|MongoServerSelectionError|MongoTimeoutError|MongoPoolClearedError|MongoWaitQueueTimeoutError|KafkaJSConnectionError|KafkaJSRequestTimeoutError|KafkaJSNumberOfRetriesExceeded|KafkaJSBrokerNotFound)$/;
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/**
 * Whether an error says that a server is unavailable (so the operation may succeed later) rather
 * than that the operation itself is wrong. Adapters raise InfrastructureError; driver errors that
 * reach here are recognised by name or socket error code.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof InfrastructureError) return true;
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_NAMES.test(error.name) || TRANSIENT_NAMES.test(error.constructor.name)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  return /Connection is closed|Command timed out|Stream isn't writeable/.test(error.message) || (error.cause !== undefined && error.cause !== error && isTransient(error.cause));
}
