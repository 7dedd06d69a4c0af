import { CORRELATION_HEADER, correlationFromHeader, withCorrelation } from '../correlation.js';
import type { Logger } from '../logging.js';

/**
 * Integration bus port (Kafka in production). Semantics every adapter keeps:
 * - messages with the same key go to the same partition and are consumed in publish order;
 * - each consumer group receives every message at least once (a redelivery is possible, so
 *   handlers dedupe by `id`); the group's position advances only after the handler succeeded;
 * - a failing handler is retried with exponential backoff; after the last attempt (or at once
 *   for an error marked `retryable: false`) the message is parked on the dead-letter topic
 *   `<topic>.dlq` with the error, and the group moves on.
 */

export interface BusMessage {
  /** Unique id (UUID) for deduplication by consumers. */
  id: string;
  /** Partitioning key, e.g. the aggregate id: one key's messages stay in order. */
  key: string;
  /** Message type, e.g. `OrderPlaced.v1`. */
  type: string;
  value: unknown;
  headers?: Record<string, string>;
}

export interface DeliveredMessage extends BusMessage {
  topic: string;
  partition: number;
  offset: number;
  /** 1 on first delivery to the handler, then 2, 3, … on retries. */
  attempt: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface ConsumerOptions {
  groupId: string;
  topics: readonly string[];
  handler: (message: DeliveredMessage) => Promise<void>;
  retry?: Partial<RetryPolicy>;
  /** Where to start when the group has no committed position: the earliest message (default) or only new ones (published after `joined`). */
  fromBeginning?: boolean;
}

export interface Consumer {
  /**
   * Settles once the consumer first holds its share of the partitions. `consume` does not wait
   * for it: on Kafka, joining a group that still lists a member of a crashed process waits until
   * that member's session times out, and nothing the caller does needs the join (the group's
   * position is kept, so what is published meanwhile is handled once it has joined). Rejects if
   * the consumer is closed first or stops for good.
   */
  readonly joined: Promise<void>;
  close(): Promise<void>;
}

export interface BusObserver {
  published?(topic: string, count: number): void;
  consumed?(topic: string, groupId: string, outcome: 'ok' | 'retry' | 'dead_letter', messageId: string): void;
  /** A consumer group starts consuming the topic (so its counters can be exported at 0 before the first message). */
  consuming?(topic: string, groupId: string): void;
}

export interface Bus {
  publish(topic: string, messages: readonly BusMessage[]): Promise<void>;
  /** Resolves once the consumer is subscribed (its topics exist); it joins its group in the background (see `Consumer.joined`). */
  consume(options: ConsumerOptions): Promise<Consumer>;
  close(): Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 10_000 };

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** Exponential backoff with full jitter, capped. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function isRetryable(error: unknown): boolean {
  return !(typeof error === 'object' && error !== null && 'retryable' in error && error.retryable === false);
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Stable partition for a key (FNV-1a), the same in every process. */
export function partitionFor(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * Runs a consumer's handler on a message under the message's correlation id (its
 * `x-correlation-id` header, else its id), so that what the handler logs and the events it
 * appends carry it; logs the handled message at debug level. Both adapters deliver through it.
 */
export function handleMessage(handler: ConsumerOptions['handler'], message: DeliveredMessage, group: string, logger: Logger | undefined): Promise<void> {
  return withCorrelation(correlationFromHeader(message.headers?.[CORRELATION_HEADER] ?? message.id), async () => {
    await handler(message);
    logger?.debug({ topic: message.topic, group, type: message.type, messageId: message.id, attempt: message.attempt }, 'message handled');
  });
}

/**
 * Closes consumers at once rather than one after another: each may wait (bounded) for its group
 * to let it leave, and a service's shutdown should wait for the slowest, not for their sum. Every
 * one is closed; the first failure is then thrown.
 */
export async function closeConsumers(consumers: readonly (Consumer | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(consumers.map((c) => c?.close() ?? Promise.resolve()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * After a failed start: closes the consumers already started (together, see closeConsumers) and
 * rethrows the start's error. Should closing fail too, both are thrown in one AggregateError (the
 * start's error first), so that neither is lost.
 */
export async function closeAfterFailedStart(consumers: readonly (Consumer | undefined)[], error: unknown): Promise<never> {
  try {
    await closeConsumers(consumers);
  } catch (closeError) {
    throw new AggregateError([error, closeError], `${describeError(error)} (and closing the consumers already started failed: ${describeError(closeError)})`);
  }
  throw error;
}

/**
 * Starts consumers one after another (a start that fails stops the rest), returning them in that
 * order; when one cannot start, those already started are closed as closeAfterFailedStart does.
 */
export async function startConsumers(starts: readonly (() => Promise<Consumer>)[]): Promise<Consumer[]> {
  const started: Consumer[] = [];
  try {
    for (const start of starts) started.push(await start());
    return started;
  } catch (error) {
    return closeAfterFailedStart(started, error);
  }
}
