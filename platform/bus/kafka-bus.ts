import { Kafka, logLevel, type Admin, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunksOf } from '../chunks.js';
import { InfrastructureError } from '../errors.js';
import type { Logger } from '../logging.js';
import { CORRELATION_HEADER } from '../correlation.js';
import {
  backoffMs,
  deadLetterTopic,
  DEFAULT_RETRY,
  describeError,
  handleMessage,
  isRetryable,
  type Bus,
  type BusMessage,
  type BusObserver,
  type Consumer,
  type ConsumerOptions,
  type DeliveredMessage,
  type RetryPolicy,
} from './bus.js';

const ID = 'x-message-id';
const PRODUCER_CONFIG = { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false };
/** The most one send carries (estimated), well below the broker's default message.max.bytes (1 MiB). */
const PUBLISH_CHUNK_BYTES = 512 * 1024;
/** A send not done by then is abandoned (and its producer discarded); kafkajs retries within it. */
const PUBLISH_TIMEOUT_MS = 60_000;
const TYPE = 'x-message-type';
/** Tries of creating a process's topics (see `ensureTopics`): 100 ms, 200 ms, … apart, 4.5 s in all. */
const CREATE_TOPICS_ATTEMPTS = 10;

function headerText(value: IHeaders[string]): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** How a consumer keeps its group membership (`KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_HEARTBEAT_INTERVAL_MS`). */
export interface KafkaMembership {
  /**
   * How long the broker keeps a member that stopped heartbeating. A process that crashed (no
   * LeaveGroup) stays in its groups this long, and the group cannot rebalance to a restarted
   * process before that: its consumers resume at most this long after the crash. The broker
   * accepts group.min.session.timeout.ms (6000 by default) to group.max.session.timeout.ms.
   */
  sessionTimeoutMs: number;
  /** The least time between heartbeats (kafkajs sends them between messages and fetches). */
  heartbeatIntervalMs: number;
}

export const DEFAULT_KAFKA_MEMBERSHIP: KafkaMembership = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 };

/** How long closing a consumer that joined its group waits for it to leave (see `close`). */
const DISCONNECT_WAIT_MS = 3000;

/**
 * The Bus port on Kafka (kafkajs). Topics are created with a fixed partition count; the message
 * key is the partition key; offsets are committed only after the handler (or the dead-letter
 * publish) succeeded, so a crash redelivers rather than loses. Retries happen in the consumer,
 * with backoff and heartbeats, so a slow retry does not cost the group its membership.
 *
 * `consume` returns once subscribed and the consumer joins its group in the background: after a
 * crash the group still lists the dead member until its session times out, and start-up (the
 * API) does not wait for that. A consumer that stops for good (a crash kafkajs does not restart)
 * fails `ping`, so readiness reports it.
 */
export class KafkaBus implements Bus {
  private readonly knownTopics = new Set<string>();
  private readonly consumers = new Set<Consumer>();
  /** Groups whose consumer stopped for good, with why. */
  private readonly stopped = new Map<string, string>();
  private connecting: Promise<Producer> | undefined;

  private constructor(
    private readonly kafka: Kafka,
    private producer: Producer | undefined,
    private readonly admin: Admin,
    private readonly options: { partitions: number; logger: Logger; observer?: BusObserver; brokers: string; namespace?: string; membership: KafkaMembership },
  ) {}

  /**
   * `namespace` prefixes every topic and consumer group on the broker (`<namespace>.<topic>`), so
   * that several deployments (or test runs) can share one Kafka cluster without seeing each other's
   * messages. Handlers and observers see the logical topic name.
   */
  static async connect(
    brokers: string,
    options: { clientId: string; logger: Logger; observer?: BusObserver; partitions?: number; namespace?: string; membership?: Partial<KafkaMembership> },
  ): Promise<KafkaBus> {
    const { logger } = options;
    const kafka = new Kafka({
      clientId: options.clientId,
      brokers: brokers.split(',').map((b) => b.trim()),
      connectionTimeout: 3000,
      // Every request fails after this instead of waiting on a broker that stopped answering
      // (retried with backoff below, then surfaced to the caller, which retries in turn).
      requestTimeout: 10_000,
      retry: { initialRetryTime: 100, maxRetryTime: 5000, retries: 8 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log }: LogEntry) => {
          const { message, ...rest } = log;
          if (level <= logLevel.ERROR) logger.warn({ kafka: rest }, `kafka: ${message}`);
          else logger.debug({ kafka: rest }, `kafka: ${message}`);
        },
    });
    const admin = kafka.admin();
    const producer = kafka.producer(PRODUCER_CONFIG);
    try {
      await withTimeout(
        (async () => {
          await admin.connect();
          await admin.describeCluster();
          await producer.connect();
        })(),
        10_000,
      );
    } catch (error) {
      await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
      throw new InfrastructureError('kafka', brokers, `cannot connect (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    const membership = { ...DEFAULT_KAFKA_MEMBERSHIP, ...options.membership };
    if (membership.heartbeatIntervalMs >= membership.sessionTimeoutMs) throw new Error(`kafka heartbeat interval (${membership.heartbeatIntervalMs} ms) must be below the session timeout (${membership.sessionTimeoutMs} ms)`);
    return new KafkaBus(kafka, producer, admin, {
      partitions: options.partitions ?? 4,
      logger,
      brokers,
      membership,
      ...(options.observer && { observer: options.observer }),
      ...(options.namespace && { namespace: options.namespace }),
    });
  }

  private physical(name: string): string {
    return this.options.namespace ? `${this.options.namespace}.${name}` : name;
  }

  private logical(topic: string): string {
    const prefix = this.options.namespace ? `${this.options.namespace}.` : '';
    return topic.startsWith(prefix) ? topic.slice(prefix.length) : topic;
  }

  async ping(): Promise<void> {
    await withTimeout(this.admin.describeCluster(), 3000);
    for (const [group, why] of this.stopped) throw new Error(`consumer group ${group} stopped: ${why}`);
  }

  private async ensureTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !this.knownTopics.has(t));
    if (missing.length === 0) return;
    const physical = missing.map((topic) => this.physical(topic));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.admin.createTopics({ waitForLeaders: true, topics: physical.map((topic) => ({ topic, numPartitions: this.options.partitions, replicationFactor: 1 })) });
        // createTopics answers at once for a topic that already exists, also one another process
        // created a moment ago whose leaders the broker's metadata does not list yet; a subscribe
        // or send then fails with UNKNOWN_TOPIC_OR_PARTITION (seen in CI with two processes
        // started together). Every topic is only used once its leaders are known.
        await this.waitForLeaders(physical);
        break;
      } catch (error) {
        // kafkajs waits out LEADER_NOT_AVAILABLE, not a metadata answer that does not list a topic
        // just created yet (UNKNOWN_TOPIC_OR_PARTITION: "does not host this topic-partition", seen
        // under load, and by processes started together creating the same topics at once): wait
        // for the leaders here instead. Other retriable errors: a bounded number of attempts.
        if (isMetadataLag(error)) {
          await this.waitForLeaders(physical);
          break;
        }
        if ((error as { retriable?: boolean }).retriable !== true || attempt >= CREATE_TOPICS_ATTEMPTS) throw error;
        await sleep(100 * attempt);
      }
    }
    for (const t of missing) this.knownTopics.add(t);
  }

  /** Up to 30 s: a broker that has just started can take that long to list what it hosts. */
  private async waitForLeaders(topics: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { topics: found } = await this.admin.fetchTopicMetadata({ topics: [...topics] });
        if (found.length === topics.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (error) {
        if (!isMetadataLag(error) || Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * Publishes in sends of at most PUBLISH_CHUNK_BYTES (a relay batch after an outage can be large;
   * the broker refuses a record batch above its message.max.bytes, 1 MiB by default). A send that
   * fails or does not finish within PUBLISH_TIMEOUT_MS discards the producer: an idempotent
   * producer whose request may or may not have been written keeps sequence numbers the broker
   * may no longer accept (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID after a broker
   * restart), so the next publish starts a fresh session. The caller retries; consumers dedupe
   * by message id (at-least-once).
   */
  async publish(topic: string, messages: readonly BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.ensureTopics([topic]);
    const records = messages.map((m) => ({ key: m.key, value: JSON.stringify(m.value), headers: { ...m.headers, [ID]: m.id, [TYPE]: m.type } }));
    for (const chunk of chunksOf(records, (r) => r.key.length + r.value.length + 200, PUBLISH_CHUNK_BYTES)) {
      const producer = await this.liveProducer();
      try {
        await withTimeout(producer.send({ topic: this.physical(topic), acks: -1, messages: chunk }), PUBLISH_TIMEOUT_MS);
      } catch (error) {
        this.discardProducer(producer, error);
        throw error;
      }
      this.options.observer?.published?.(topic, chunk.length);
    }
  }

  /** The producer, connecting a fresh one if the last was discarded (one connect at a time). */
  private liveProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.kafka.producer(PRODUCER_CONFIG);
      try {
        await withTimeout(producer.connect(), 10_000);
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
      this.producer = producer;
      return producer;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private discardProducer(producer: Producer, error: unknown): void {
    if (this.producer !== producer) return; // another publish already did
    this.producer = undefined;
    this.options.logger.warn({ error: describeError(error) }, 'kafka: a publish failed; the next one uses a fresh producer');
    void producer.disconnect().catch(() => undefined);
  }

  async consume(options: ConsumerOptions): Promise<Consumer> {
    const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    await this.ensureTopics([...options.topics, ...options.topics.map(deadLetterTopic)]);
    const { observer, logger, membership } = this.options;
    const group = options.groupId;
    for (const topic of options.topics) observer?.consuming?.(topic, group);
    let closed = false;
    const newConsumer = () =>
      this.kafka.consumer({
        groupId: this.physical(group),
        sessionTimeout: membership.sessionTimeoutMs,
        heartbeatInterval: membership.heartbeatIntervalMs,
        allowAutoTopicCreation: false,
        // Restarted after a retriable crash unless it is being closed (kafkajs would otherwise
        // restart a consumer closed while it was still joining).
        retry: { initialRetryTime: 200, maxRetryTime: 10_000, retries: 10, restartOnFailure: () => Promise.resolve(!closed) },
      });
    let consumer = newConsumer();
    let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
    const joined = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    joined.catch(() => undefined); // a caller need not wait for it
    const started = Date.now();
    let joins = 0;
    let restarts = 0;
    const listen = (consumer: ReturnType<typeof newConsumer>) => {
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joins++;
        restarts = 0;
        const assigned = Object.values(payload.memberAssignment).reduce((n, partitions) => n + partitions.length, 0);
        logger.info({ group, partitions: assigned, joinMs: payload.duration, ...(joins === 1 && { sinceStartMs: Date.now() - started }) }, joins === 1 ? 'consumer joined its group' : 'consumer rejoined its group');
        this.stopped.delete(group);
        settle?.resolve();
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (closed || payload.restart) return;
        const why = describeError(payload.error);
        this.stopped.set(group, why);
        // kafkajs gives up on some errors of an outage (e.g. no group coordinator found while the
        // broker was down): the consumer is started afresh, with backoff, until it joins again.
        const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts++, 5));
        logger.error({ group, error: why, restartInMs: delay }, 'consumer stopped after an error kafkajs does not restart from; starting it afresh');
        setTimeout(() => void restart(), delay).unref();
        settle?.reject(new Error(`consumer group ${group} stopped: ${why}`)); // a caller waiting for the first join learns why
      });
    };
    const subscribeAndRun = async (consumer: ReturnType<typeof newConsumer>) => {
      listen(consumer);
      await consumer.connect();
      await consumer.subscribe({ topics: options.topics.map((t) => this.physical(t)), fromBeginning: options.fromBeginning ?? true });
      // Not awaited: run() returns only once the consumer has joined its group, which after a
      // crash waits for the dead member's session to time out. Failures to join are crashes that
      // kafkajs restarts (or reports through CRASH above).
      void consumer.run(runConfig).catch((error: unknown) => {
        if (!closed) logger.error({ group, error: describeError(error) }, 'consumer failed to start');
      });
    };
    const restart = async () => {
      if (closed) return;
      const previous = consumer;
      await previous.disconnect().catch(() => undefined);
      if (closed) return;
      consumer = newConsumer();
      try {
        await subscribeAndRun(consumer);
      } catch (error) {
        const delay = Math.min(30_000, 1000 * 2 ** Math.min(restarts++, 5));
        logger.error({ group, error: describeError(error), restartInMs: delay }, 'could not start the consumer afresh; trying again');
        setTimeout(() => void restart(), delay).unref();
      }
    };
    const runConfig: Parameters<typeof consumer.run>[0] = {
      autoCommit: true,
      // Partitions are handled side by side (each still in order), as the embedded bus does.
      partitionsConsumedConcurrently: this.options.partitions,
      eachMessage: async (payload) => {
        const { partition, message } = payload;
        const topic = this.logical(payload.topic);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) {
          const text = headerText(value);
          if (text !== undefined && name !== ID && name !== TYPE) headers[name] = text;
        }
        const base = {
          id: headerText(message.headers?.[ID]) ?? `${topic}/${partition}/${message.offset}`,
          key: message.key?.toString() ?? '',
          type: headerText(message.headers?.[TYPE]) ?? 'unknown',
          headers,
          topic,
          partition,
          offset: Number(message.offset),
        };
        let value: unknown;
        let parseError: Error | undefined;
        try {
          value = JSON.parse(message.value?.toString() ?? 'null');
        } catch (error) {
          parseError = Object.assign(new Error(`message value is not JSON: ${describeError(error)}`), { retryable: false });
        }
        for (let attempt = 1; ; attempt++) {
          if (closed) throw new Error('consumer closing; the message will be redelivered');
          try {
            if (parseError) throw parseError;
            await handleMessage(options.handler, { ...base, value, attempt } satisfies DeliveredMessage, options.groupId, logger);
            observer?.consumed?.(topic, options.groupId, 'ok', base.id);
            return;
          } catch (error) {
            if (!isRetryable(error) || attempt >= retry.maxAttempts) {
              await this.publish(deadLetterTopic(topic), [
                {
                  id: base.id,
                  key: base.key,
                  type: base.type,
                  value: value ?? message.value?.toString() ?? null,
                  headers: { ...headers, 'x-error': describeError(error), 'x-original-topic': topic, 'x-consumer-group': options.groupId, 'x-attempts': String(attempt) },
                },
              ]);
              observer?.consumed?.(topic, options.groupId, 'dead_letter', base.id);
              logger.warn({ topic, group: options.groupId, id: base.id, correlationId: headers[CORRELATION_HEADER], attempts: attempt, error: describeError(error) }, 'message parked on the dead-letter topic');
              return;
            }
            observer?.consumed?.(topic, options.groupId, 'retry', base.id);
            // Heartbeat while backing off, so a long backoff does not outlast the session.
            for (let wait = backoffMs(retry, attempt); wait > 0 && !closed; wait -= membership.heartbeatIntervalMs) {
              await sleep(Math.min(wait, membership.heartbeatIntervalMs));
              await payload.heartbeat();
            }
          }
        }
      },
    };
    await subscribeAndRun(consumer);
    const handle: Consumer = {
      joined,
      close: async () => {
        closed = true;
        settle?.reject(new Error(`consumer group ${group} closed before it joined`));
        this.consumers.delete(handle);
        this.stopped.delete(group);
        // kafkajs's disconnect waits for an answer to a JoinGroup in progress, which the broker
        // holds until a crashed member's session times out or a rebalance ends (after a kill -9
        // and a restart, a shutdown took over 15 s that way). Not worth holding a shutdown for:
        // the wait is bounded; a member that did not leave is dropped when its session times out,
        // and messages handled but not yet committed come again (every consumer is idempotent).
        // A join still in progress then fails on the closed connection and is not restarted.
        const disconnected = consumer.disconnect().then(
          () => true,
          (error: unknown) => {
            logger.warn({ group, error: describeError(error) }, 'kafka: consumer disconnect failed');
            return true;
          },
        );
        const bound = joins > 0 ? DISCONNECT_WAIT_MS : 1000;
        const left = await Promise.race([disconnected, sleep(bound).then(() => false)]);
        if (!left && joins > 0) logger.warn({ group, waitedMs: bound }, 'kafka: consumer did not leave its group in time (a rebalance in progress); it is dropped when its session times out');
      },
    };
    this.consumers.add(handle);
    return handle;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.consumers.clear();
    await this.connecting?.catch(() => undefined); // a producer being connected is disconnected too
    await Promise.allSettled([this.producer?.disconnect(), this.admin.disconnect()]);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

/** A metadata answer that does not know yet what was just created (it settles within moments). */
function isMetadataLag(error: unknown): boolean {
  const type = (error as { type?: unknown } | undefined)?.type;
  return type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'LEADER_NOT_AVAILABLE';
}
