import type { Redis } from 'ioredis';
import type { Logger } from '../logging.js';
import { pushIterator, type PubSub, type Subscription } from './pubsub.js';

type Listener = (message: unknown) => void;

/**
 * The PubSub port on Redis pub/sub. One subscriber connection per process; each channel is
 * subscribed on Redis once and fanned out locally. ioredis re-subscribes after a reconnect;
 * messages published while a subscriber is disconnected are lost (live notifications are best
 * effort, as the port says).
 */
export class RedisPubSub implements PubSub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly subscribing = new Map<string, Promise<unknown>>();
  private readonly interruptionListeners = new Set<() => void>();

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly options: { onClose?: () => void } = {},
  ) {
    subscriber.on('message', (channel: string, payload: string) => {
      const local = this.listeners.get(channel);
      if (!local) return;
      let message: unknown;
      try {
        message = JSON.parse(payload);
      } catch (error) {
        this.logger.error({ err: error, channel }, 'dropping a malformed pub/sub message');
        return;
      }
      for (const listener of local) listener(structuredClone(message));
    });
    // Whatever was published while the subscriber connection was down is lost.
    subscriber.on('close', () => {
      for (const listener of this.interruptionListeners) listener();
    });
  }

  onInterrupted(listener: () => void): () => void {
    this.interruptionListeners.add(listener);
    return () => this.interruptionListeners.delete(listener);
  }

  private channel(name: string): string {
    return `${this.namespace}:${name}`;
  }

  async publish(channel: string, message: unknown): Promise<void> {
    await this.publisher.publish(this.channel(channel), JSON.stringify(message));
  }

  subscribe<T>(channel: string, options: { signal?: AbortSignal } = {}): Subscription<T> {
    const name = this.channel(channel);
    let local = this.listeners.get(name);
    if (!local) {
      local = new Set();
      this.listeners.set(name, local);
      this.subscribing.set(name, this.subscriber.subscribe(name));
    }
    const set = local;
    const listener: Listener = (message) => iterator.push(message as T);
    const ready = (this.subscribing.get(name) ?? Promise.resolve()).then(() => undefined);
    const iterator = pushIterator<T>(
      () => {
        set.delete(listener);
        if (set.size === 0) {
          this.listeners.delete(name);
          this.subscribing.delete(name);
          this.subscriber.unsubscribe(name).catch((error: unknown) => this.logger.warn({ err: error, channel: name }, 'unsubscribe failed'));
        }
      },
      { ready },
    );
    set.add(listener);
    ready.catch((error: unknown) => {
      this.logger.error({ err: error, channel: name }, 'subscribing failed');
      iterator.end();
    });
    options.signal?.addEventListener('abort', () => void iterator.return?.(), { once: true });
    return iterator;
  }

  close(): Promise<void> {
    this.listeners.clear();
    this.interruptionListeners.clear();
    this.options.onClose?.();
    return Promise.resolve();
  }
}
