import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PubSub } from './pubsub.js';

/** The one contract every PubSub adapter passes. `open` may be called twice (two processes). */
export function pubSubContract(name: string, open: () => Promise<PubSub>): void {
  describe(`PubSub contract: ${name}`, () => {
    let publisher: PubSub;
    let subscriber: PubSub;
    beforeAll(async () => {
      publisher = await open();
      subscriber = await open();
    });
    afterAll(async () => {
      await publisher.close();
      await subscriber.close();
    });
    const channel = () => `test.${randomUUID()}`;

    it('delivers messages published after subscribing, in order, to every subscriber', async () => {
      const c = channel();
      const a = subscriber.subscribe<{ n: number }>(c);
      const b = subscriber.subscribe<{ n: number }>(c);
      await Promise.all([a.ready, b.ready]);
      for (let n = 1; n <= 3; n++) await publisher.publish(c, { n });
      for (const sub of [a, b]) {
        const got: number[] = [];
        for await (const m of sub) {
          got.push(m.n);
          if (got.length === 3) break;
        }
        expect(got).toEqual([1, 2, 3]);
      }
    });

    it('does not deliver other channels, and stops delivering after return()', async () => {
      const c = channel();
      const sub = subscriber.subscribe<{ n: number }>(c);
      await sub.ready;
      await publisher.publish(channel(), { n: 0 });
      await publisher.publish(c, { n: 1 });
      expect((await sub.next()).value).toEqual({ n: 1 });
      await sub.return?.();
      await publisher.publish(c, { n: 2 });
      expect((await sub.next()).done).toBe(true);
    });

    it('ends a subscription when its signal aborts', async () => {
      const controller = new AbortController();
      const sub = subscriber.subscribe(channel(), { signal: controller.signal });
      await sub.ready;
      const pending = sub.next();
      controller.abort();
      expect((await pending).done).toBe(true);
    });
  });
}
