import { describe, expect, it } from 'vitest';
import { closeAfterFailedStart, startConsumers, type Consumer } from './bus.js';

/** A consumer whose close the test settles by hand, recording when it was asked to close. */
function heldConsumer(log: string[], name: string) {
  let settle!: (error?: Error) => void;
  const closed = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
  const consumer: Consumer = {
    joined: Promise.resolve(),
    close: () => {
      log.push(`close ${name}`);
      return closed;
    },
  };
  return { consumer, settle };
}

describe('starting consumers', () => {
  it('starts them in order and returns them all', async () => {
    const log: string[] = [];
    const [a, b] = [heldConsumer(log, 'a'), heldConsumer(log, 'b')];
    const started = await startConsumers([() => (log.push('start a'), Promise.resolve(a.consumer)), () => (log.push('start b'), Promise.resolve(b.consumer))]);
    expect(started).toEqual([a.consumer, b.consumer]);
    expect(log).toEqual(['start a', 'start b']);
  });

  it('when one cannot start, closes those already started together (not one after another), starts no further one and rethrows its error', async () => {
    const log: string[] = [];
    const [a, b] = [heldConsumer(log, 'a'), heldConsumer(log, 'b')];
    const refused = new Error('topic missing');
    const starting = startConsumers([() => Promise.resolve(a.consumer), () => Promise.resolve(b.consumer), () => Promise.reject(refused), () => (log.push('start d'), Promise.resolve(heldConsumer(log, 'd').consumer))]);
    const outcome = starting.then(
      () => 'started',
      (error: unknown) => error,
    );
    await new Promise((resolve) => setImmediate(resolve));
    // Both closes are under way while neither has finished.
    expect(log).toEqual(['close a', 'close b']);
    a.settle();
    b.settle();
    expect(await outcome).toBe(refused);
  });

  it('a failure to close is thrown with the start error, not in its place', async () => {
    const log: string[] = [];
    const a = heldConsumer(log, 'a');
    a.settle(new Error('leave group timed out'));
    const error = await closeAfterFailedStart([a.consumer, undefined], new Error('topic missing')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual(['topic missing', 'leave group timed out']);
    expect((error as Error).message).toMatch(/topic missing.*leave group timed out/);
  });
});
