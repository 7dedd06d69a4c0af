import { pushIterator, type PubSub, type Subscription } from './pubsub.js';

type Listener = (message: unknown) => void;

/** The embedded pub/sub: in-process fan-out. Messages are cloned so subscribers cannot share state. */
export class MemoryPubSub implements PubSub {
  private readonly channels = new Map<string, Set<Listener>>();

  publish(channel: string, message: unknown): Promise<void> {
    const listeners = this.channels.get(channel);
    if (listeners) {
      const json = JSON.stringify(message);
      for (const listener of listeners) listener(JSON.parse(json));
    }
    return Promise.resolve();
  }

  subscribe<T>(channel: string, options: { signal?: AbortSignal } = {}): Subscription<T> {
    let listeners = this.channels.get(channel);
    if (!listeners) this.channels.set(channel, (listeners = new Set()));
    const set = listeners;
    const listener: Listener = (message) => iterator.push(message as T);
    const iterator = pushIterator<T>(() => {
      set.delete(listener);
      if (set.size === 0) this.channels.delete(channel);
    });
    set.add(listener);
    options.signal?.addEventListener('abort', () => void iterator.return?.(), { once: true });
    return iterator;
  }

  /** In-process delivery cannot be interrupted. */
  onInterrupted(_listener: () => void): () => void {
    return () => undefined;
  }

  close(): Promise<void> {
    this.channels.clear();
    return Promise.resolve();
  }
}
