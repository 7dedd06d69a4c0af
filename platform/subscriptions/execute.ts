import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { FeedEnd, positionedCursor } from './cursor.js';

/**
 * graphql-js's `subscribe`, plus what a resumable feed needs on the wire: each event's cursor in
 * `extensions.cursor` of its `next` message (whatever the payload type: Order has no cursor
 * field), and a feed that ends with a coded error (FeedEnd) sends that error as its last message
 * instead of failing the whole socket.
 */
export async function subscribeWithCursors(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  const events = source[Symbol.asyncIterator]();
  let finished = false;
  const done = (): IteratorResult<ExecutionResult> => ({ value: undefined, done: true });
  const results: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      if (finished) return done();
      const event = await events.next();
      if (event.done) {
        finished = true;
        return done();
      }
      const payload: unknown = event.value;
      if (payload instanceof FeedEnd) {
        finished = true;
        await events.return?.();
        return { value: { errors: [payload.error], extensions: { cursor: payload.error.extensions.cursor ?? null } }, done: false };
      }
      const result = await execute({ ...args, rootValue: payload });
      const cursor = positionedCursor(payload);
      return { value: cursor ? { ...result, extensions: { ...result.extensions, cursor } } : result, done: false };
    },
    async return() {
      finished = true;
      await events.return?.();
      return done();
    },
    async throw(error?: unknown) {
      finished = true;
      await events.return?.();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return results;
    },
  };
  return results;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
