import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventually } from '../testing/eventually.js';
import { createLogger } from '../logging.js';
import { withServer } from '../testing/servers.js';
import { busContract } from './bus.contract.js';
import { KafkaBus } from './kafka-bus.js';

withServer('KAFKA_BROKERS', 'Bus contract: Kafka', (brokers) => {
  busContract('Kafka', () => KafkaBus.connect(brokers, { clientId: 'bus-contract', logger: createLogger('test', 'silent') }));

  describe('Kafka consumers', () => {
    it('processes started together subscribe to and publish on topics none of them created before (the one that loses the creation race waits for the leaders)', async () => {
      for (let round = 0; round < 4; round++) {
        const namespace = `together-${randomUUID().slice(0, 8)}`;
        const buses = await Promise.all(Array.from({ length: 5 }, (_, i) => KafkaBus.connect(brokers, { clientId: `together-${i}`, logger: createLogger('test', 'silent'), namespace })));
        try {
          const topics = ['together.a', 'together.b', 'together.c'];
          const received = new Set<string>();
          const consumers = await Promise.all(
            buses.map((bus, i) => bus.consume({ groupId: `g${i}`, topics, handler: (m) => (received.add(`${i}:${m.id}`), Promise.resolve()) })),
          );
          await Promise.all(consumers.map((c) => c.joined));
          await Promise.all(buses.map((bus, i) => bus.publish(topics[i % topics.length]!, [{ id: `m${i}`, key: 'k', type: 'T', value: {} }])));
          await eventually(() => expect(received.size).toBe(buses.length * buses.length), 20_000);
          await Promise.all(consumers.map((c) => c.close()));
        } finally {
          await Promise.all(buses.map((bus) => bus.close()));
        }
      }
    });

    it('a consumer kafkajs stops (here: a session timeout the broker refuses) rejects joined, fails ping naming its group, and is started afresh with backoff until closed', async () => {
      const lines: string[] = [];
      const logger = createLogger('test', 'error', { write: (line: string) => void lines.push(line) });
      const bus = await KafkaBus.connect(brokers, {
        clientId: 'bus-membership',
        logger,
        namespace: `membership-${randomUUID().slice(0, 8)}`,
        membership: { sessionTimeoutMs: 1000, heartbeatIntervalMs: 300 }, // below the broker's group.min.session.timeout.ms
      });
      try {
        await bus.ping();
        const consumer = await bus.consume({ groupId: 'refused', topics: ['membership'], handler: () => Promise.resolve() });
        await expect(consumer.joined).rejects.toThrow(/consumer group refused stopped: .*session timeout/);
        await expect(bus.ping()).rejects.toThrow(/consumer group refused stopped/);
        // Started afresh after 1 s, stopped again, started again after 2 s: at least two crashes.
        await eventually(() => expect(lines.filter((l) => l.includes('starting it afresh')).length).toBeGreaterThanOrEqual(2), 15_000);
        await consumer.close();
        await bus.ping(); // closed: no longer reported
      } finally {
        await bus.close();
      }
    });
  });
});
