import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../testing/eventually.js';
import { deadLetterTopic, type Bus, type BusMessage, type Consumer, type DeliveredMessage } from './bus.js';

/** The one contract every Bus adapter passes. Topics and groups are fresh per test. */
export function busContract(name: string, open: () => Promise<Bus>): void {
  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    const consumers: Consumer[] = [];
    beforeAll(async () => {
      bus = await open();
    });
    afterAll(async () => {
      await Promise.all(consumers.map((c) => c.close()));
      await bus.close();
    });
    const topic = () => `test.${randomUUID()}`;
    const group = () => `group-${randomUUID()}`;
    const message = (key: string, n: number): BusMessage => ({ id: randomUUID(), key, type: 'Test.v1', value: { key, n }, headers: { source: 'contract' } });
    /** A consumer that has joined its group (consume itself does not wait for that). */
    const consume = async (...args: Parameters<Bus['consume']>) => {
      const consumer = await bus.consume(...args);
      consumers.push(consumer);
      await consumer.joined;
      return consumer;
    };

    it('delivers every message to each consumer group, keeping per-key order', async () => {
      const t = topic();
      const received = new Map<string, DeliveredMessage[]>();
      const groups = [group(), group()];
      for (const g of groups) {
        received.set(g, []);
        await consume({ groupId: g, topics: [t], handler: (m) => Promise.resolve(void received.get(g)!.push(m)) });
      }
      const keys = ['a', 'b', 'c', 'd', 'e'];
      const sent = keys.flatMap((k) => Array.from({ length: 5 }, (_, n) => message(k, n)));
      await bus.publish(t, sent);
      await eventually(() => {
        for (const g of groups) expect(received.get(g)).toHaveLength(sent.length);
      });
      for (const g of groups) {
        const got = received.get(g)!;
        for (const k of keys) expect(got.filter((m) => m.key === k).map((m) => (m.value as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
        expect(got[0]).toMatchObject({ topic: t, type: 'Test.v1', attempt: 1 });
        expect(got[0]!.headers?.source).toBe('contract');
        expect(new Set(got.map((m) => m.id)).size).toBe(sent.length);
      }
    });

    it('shares partitions between members of one group, each message handled once', async () => {
      const t = topic();
      const g = group();
      const seen: string[] = [];
      const handler = (m: DeliveredMessage) => Promise.resolve(void seen.push(m.id));
      await consume({ groupId: g, topics: [t], handler });
      await consume({ groupId: g, topics: [t], handler });
      const sent = Array.from({ length: 40 }, (_, n) => message(`key-${n}`, n));
      await bus.publish(t, sent);
      await eventually(() => expect(new Set(seen).size).toBe(40));
      await sleep(200);
      expect(seen.length).toBe(40);
    });

    it('retries a failing handler with backoff, in order, and commits only after success', async () => {
      const t = topic();
      const attempts: number[] = [];
      const done: number[] = [];
      await consume({
        groupId: group(),
        topics: [t],
        retry: { maxAttempts: 5, initialBackoffMs: 10, maxBackoffMs: 50 },
        handler: (m) => {
          const n = (m.value as { n: number }).n;
          if (n === 0) attempts.push(m.attempt);
          if (n === 0 && m.attempt < 3) return Promise.reject(new Error('transient'));
          done.push(n);
          return Promise.resolve();
        },
      });
      await bus.publish(t, [message('k', 0), message('k', 1)]);
      await eventually(() => expect(done).toEqual([0, 1]));
      expect(attempts).toEqual([1, 2, 3]);
    });

    it('parks a message that keeps failing on the dead-letter topic with the error, and moves on', async () => {
      const t = topic();
      const handled: number[] = [];
      const dead: DeliveredMessage[] = [];
      await consume({ groupId: group(), topics: [deadLetterTopic(t)], handler: (m) => Promise.resolve(void dead.push(m)) });
      const poison = message('k', 0);
      await consume({
        groupId: group(),
        topics: [t],
        retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 },
        handler: (m) => {
          const n = (m.value as { n: number }).n;
          if (n === 0) return Promise.reject(new Error('cannot handle this'));
          handled.push(n);
          return Promise.resolve();
        },
      });
      await bus.publish(t, [poison, message('k', 1)]);
      await eventually(() => {
        expect(handled).toEqual([1]);
        expect(dead).toHaveLength(1);
      });
      expect(dead[0]!.id).toBe(poison.id);
      expect(dead[0]!.value).toEqual(poison.value);
      expect(dead[0]!.headers?.['x-error']).toContain('cannot handle this');
      expect(dead[0]!.headers?.['x-original-topic']).toBe(t);
    });

    it('dead-letters a non-retryable error at once', async () => {
      const t = topic();
      const dead: DeliveredMessage[] = [];
      let calls = 0;
      await consume({ groupId: group(), topics: [deadLetterTopic(t)], handler: (m) => Promise.resolve(void dead.push(m)) });
      await consume({
        groupId: group(),
        topics: [t],
        handler: () => {
          calls++;
          return Promise.reject(Object.assign(new Error('malformed'), { retryable: false }));
        },
      });
      await bus.publish(t, [message('k', 0)]);
      await eventually(() => expect(dead).toHaveLength(1));
      expect(calls).toBe(1);
    });

    it('resumes a group where it left off: a new member gets only what was not yet handled', async () => {
      const t = topic();
      const g = group();
      const first: number[] = [];
      const c1 = await bus.consume({ groupId: g, topics: [t], handler: (m) => Promise.resolve(void first.push((m.value as { n: number }).n)) });
      await c1.joined;
      await bus.publish(t, [message('k', 0), message('k', 1)]);
      await eventually(() => expect(first).toEqual([0, 1]));
      await c1.close();
      await bus.publish(t, [message('k', 2)]);
      const second: number[] = [];
      await consume({ groupId: g, topics: [t], handler: (m) => Promise.resolve(void second.push((m.value as { n: number }).n)) });
      await eventually(() => expect(second).toEqual([2]));
    });
  });
}
