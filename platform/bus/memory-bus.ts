import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging.js';
import {
  backoffMs,
  deadLetterTopic,
  DEFAULT_RETRY,
  describeError,
  handleMessage,
  isRetryable,
  partitionFor,
  type Bus,
  type BusMessage,
  type BusObserver,
  type Consumer,
  type ConsumerOptions,
  type DeliveredMessage,
  type RetryPolicy,
} from './bus.js';

interface Stored extends BusMessage {
  topic: string;
  partition: number;
  offset: number;
}

interface Member {
  options: ConsumerOptions;
  retry: RetryPolicy;
  closed: boolean;
  running: Map<string, Promise<void>>; // "topic/partition" -> loop
}

interface Group {
  members: Member[];
  committed: Map<string, number>; // "topic/partition" -> next offset
  locks: Map<string, Promise<void>>; // one handler at a time per partition, across members
}

/**
 * The embedded bus: in-process topics split into partitions, consumer groups whose members share
 * partitions, per-partition ordering, commit after success, retry with backoff, dead letters.
 * Messages live in memory: the relay that feeds the bus re-publishes from its checkpoint after a
 * restart, and consumers dedupe, which is the same recovery path as with Kafka.
 */
export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Stored[][]>();
  private readonly groups = new Map<string, Group>();
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(private readonly options: { partitions?: number; observer?: BusObserver; logger?: Logger } = {}) {}

  /** Messages some consumer group has not yet handled (committed), across its topics' partitions: 0 when every group is idle. */
  get backlog(): number {
    let n = 0;
    for (const group of this.groups.values()) {
      for (const [key, next] of group.committed) {
        const [topic, partition] = [key.slice(0, key.lastIndexOf('/')), Number(key.slice(key.lastIndexOf('/') + 1))];
        n += Math.max(0, (this.topics.get(topic)?.[partition]?.length ?? 0) - next);
      }
    }
    return n;
  }

  private partitions(topic: string): Stored[][] {
    let partitions = this.topics.get(topic);
    if (!partitions) {
      partitions = Array.from({ length: this.options.partitions ?? 4 }, () => []);
      this.topics.set(topic, partitions);
    }
    return partitions;
  }

  publish(topic: string, messages: readonly BusMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('bus is closed'));
    const partitions = this.partitions(topic);
    for (const message of messages) {
      const partition = partitionFor(message.key, partitions.length);
      const log = partitions[partition]!;
      log.push({ ...structuredClone(message), topic, partition, offset: log.length });
    }
    this.options.observer?.published?.(topic, messages.length);
    this.wake();
    return Promise.resolve();
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private waitForMessages(member: Member): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.wakers.delete(done);
        resolve();
      };
      this.wakers.add(done);
      if (member.closed || this.closed) done();
    });
  }

  consume(options: ConsumerOptions): Promise<Consumer> {
    let group = this.groups.get(options.groupId);
    if (!group) this.groups.set(options.groupId, (group = { members: [], committed: new Map(), locks: new Map() }));
    const member: Member = { options, retry: { ...DEFAULT_RETRY, ...options.retry }, closed: false, running: new Map() };
    const g = group;
    for (const topic of options.topics) this.options.observer?.consuming?.(topic, options.groupId);
    for (const topic of options.topics) {
      const partitions = this.partitions(topic);
      for (let p = 0; p < partitions.length; p++) {
        const key = `${topic}/${p}`;
        if (!g.committed.has(key)) g.committed.set(key, options.fromBeginning === false ? partitions[p]!.length : 0);
      }
    }
    g.members.push(member);
    this.rebalance(g);
    return Promise.resolve({
      joined: Promise.resolve(),
      close: async () => {
        member.closed = true;
        g.members = g.members.filter((m) => m !== member);
        this.wake();
        await Promise.all(member.running.values());
        this.rebalance(g);
      },
    });
  }

  /** Partition p of a topic belongs to the p-th (mod n) member subscribed to that topic. */
  private owner(group: Group, topic: string, partition: number): Member | undefined {
    const subscribed = group.members.filter((m) => !m.closed && m.options.topics.includes(topic));
    return subscribed[partition % Math.max(1, subscribed.length)];
  }

  private rebalance(group: Group): void {
    for (const member of group.members) {
      for (const topic of member.options.topics) {
        const partitions = this.partitions(topic);
        for (let p = 0; p < partitions.length; p++) {
          const key = `${topic}/${p}`;
          if (this.owner(group, topic, p) === member && !member.running.has(key)) {
            const loop = this.runPartition(group, member, topic, p).finally(() => member.running.delete(key));
            member.running.set(key, loop);
          }
        }
      }
    }
    this.wake();
  }

  private async runPartition(group: Group, member: Member, topic: string, partition: number): Promise<void> {
    const key = `${topic}/${partition}`;
    const log = this.partitions(topic)[partition]!;
    while (!member.closed && !this.closed && this.owner(group, topic, partition) === member) {
      const offset = group.committed.get(key) ?? 0;
      const stored = log[offset];
      if (!stored) {
        await this.waitForMessages(member);
        continue;
      }
      // One handler per partition at a time, even across a rebalance hand-over.
      const previous = group.locks.get(key) ?? Promise.resolve();
      let release!: () => void;
      const lock = new Promise<void>((r) => (release = r));
      group.locks.set(key, previous.then(() => lock));
      await previous;
      try {
        if ((group.committed.get(key) ?? 0) !== offset) continue; // someone else handled it meanwhile
        const handled = await this.deliver(member, stored);
        if (handled) group.committed.set(key, offset + 1);
      } finally {
        release();
      }
    }
  }

  /** Runs the handler with retries; true when the message is done with (handled or dead-lettered). */
  private async deliver(member: Member, stored: Stored): Promise<boolean> {
    const { groupId } = member.options;
    for (let attempt = 1; ; attempt++) {
      if (member.closed || this.closed) return false;
      const message: DeliveredMessage = { ...structuredClone(stored), attempt };
      try {
        await handleMessage(member.options.handler, message, groupId, this.options.logger);
        this.options.observer?.consumed?.(stored.topic, groupId, 'ok', stored.id);
        return true;
      } catch (error) {
        if (!isRetryable(error) || attempt >= member.retry.maxAttempts) {
          await this.publish(deadLetterTopic(stored.topic), [
            {
              id: stored.id,
              key: stored.key,
              type: stored.type,
              value: stored.value,
              headers: {
                ...stored.headers,
                'x-error': describeError(error),
                'x-original-topic': stored.topic,
                'x-consumer-group': groupId,
                'x-attempts': String(attempt),
              },
            },
          ]);
          this.options.observer?.consumed?.(stored.topic, groupId, 'dead_letter', stored.id);
          return true;
        }
        this.options.observer?.consumed?.(stored.topic, groupId, 'retry', stored.id);
        await sleep(backoffMs(member.retry, attempt));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    const loops = [...this.groups.values()].flatMap((g) => g.members.flatMap((m) => [...m.running.values()]));
    await Promise.all(loops);
  }
}
