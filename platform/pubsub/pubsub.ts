/**
 * Pub/sub port for live notifications (best effort, fan-out to every current subscriber;
 * nothing is stored for subscribers that are not listening). Messages are JSON-serialisable.
 */
export interface Subscription<T> extends AsyncIterableIterator<T> {
  /** Resolves once the subscription is active (messages published after this are delivered). */
  readonly ready: Promise<void>;
  /** Messages dropped so far because the subscriber did not keep up (its buffer is bounded). */
  dropped(): number;
}

export interface PubSub {
  publish(channel: string, message: unknown): Promise<void>;
  /** Ends (and unsubscribes) when the iterator's `return()` is called, e.g. by `break`. */
  subscribe<T>(channel: string, options?: { signal?: AbortSignal }): Subscription<T>;
  /**
   * Calls `listener` whenever messages may have been lost without any subscription ending: the
   * connection to the server dropped (subscriptions resume by themselves once it is back). A
   * subscriber that must not miss a message (the gateway's response cache) treats what it learnt
   * from earlier ones as unknown. Returns a function that stops the calls.
   */
  onInterrupted(listener: () => void): () => void;
  close(): Promise<void>;
}

/**
 * An async iterator over pushed messages, with a bounded buffer: a subscriber that does not keep
 * up loses the oldest messages rather than growing memory without limit.
 */
export function pushIterator<T>(onClose: () => void, options: { highWaterMark?: number; ready?: Promise<void> } = {}) {
  const buffer: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | undefined;
  let done = false;
  let dropped = 0;
  let ending = false;
  const max = options.highWaterMark ?? 1000;

  const finish = () => {
    if (done) return;
    done = true;
    onClose();
    if (waiting) {
      waiting({ value: undefined, done: true });
      waiting = undefined;
    }
  };

  const iterator: Subscription<T> & { push(message: T): void; end(): void } = {
    ready: options.ready ?? Promise.resolve(),
    push(message: T) {
      if (done) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value: message, done: false });
        return;
      }
      buffer.push(message);
      if (buffer.length > max) {
        buffer.shift();
        dropped++;
      }
    },
    /** Ends after what is already buffered has been read (unlike return(), which drops it). */
    end() {
      if (buffer.length === 0) finish();
      else ending = true;
    },
    dropped: () => dropped,
    next() {
      if (buffer.length > 0) {
        const value = buffer.shift()!;
        if (ending && buffer.length === 0) finish();
        return Promise.resolve({ value, done: false });
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<T>>((resolve) => {
        waiting = resolve;
      });
    },
    return() {
      finish();
      buffer.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown) {
      finish();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * A view of an async iterator: each value goes through `step` (undefined skips it). Unlike an
 * async generator, its `return()` ends the source at once, even while a `next()` is waiting for
 * a value: a generator would queue the return until the next value arrived, and a subscription
 * whose source falls silent (an order that stopped changing) would never be cleaned up.
 * `first` is sent before anything from the source; `onEnd` runs once, however it ends.
 */
export function viewIterator<S, T>(source: AsyncIterator<S>, step: (value: S) => T | undefined, options: { onEnd?: () => void; first?: T } = {}): AsyncIterableIterator<T> {
  let ended = false;
  let first = options.first;
  const end = async () => {
    if (ended) return;
    ended = true;
    options.onEnd?.();
    await source.return?.();
  };
  return endingIterator<T>(async () => {
    if (first !== undefined && !ended) {
      const value = first;
      first = undefined;
      return { value, done: false };
    }
    while (!ended) {
      const result = await source.next();
      if (result.done) break;
      const value = step(result.value);
      if (value !== undefined) return { value, done: false };
    }
    await end();
    return { value: undefined, done: true };
  }, end);
}

/**
 * An async iterator from its `next`, whose `return()` and `throw()` run `end` at once — even while
 * a `next()` waits (see `viewIterator`) — and then report it done (or rethrow).
 */
export function endingIterator<T>(next: () => Promise<IteratorResult<T>>, end: () => Promise<void>): AsyncIterableIterator<T> {
  const iterator: AsyncIterableIterator<T> = {
    next,
    async return() {
      await end();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await end();
      throw error instanceof Error ? error : new Error(String(error));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
