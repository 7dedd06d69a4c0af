import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Received } from './subscription-client.js';

/**
 * A client subscription that survives its connection, as README (Subscriptions) shows: graphql-ws
 * reconnects by itself (`retryAttempts`) and sends the subscription again with the same payload
 * object, whose `after` always holds the last cursor received; an ending with SUBSCRIBER_TOO_SLOW
 * (or a downstream failure) subscribes again from it. Events and errors are collected.
 */
export function resumingSubscription(httpUrl: string, query: string, variables: Record<string, unknown>, options: { connectionParams?: Record<string, string> } = {}) {
  const payload = { query, variables: { ...variables, after: null as string | null } };
  const events: Received[] = [];
  const errors: Received[] = [];
  const client: Client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: options.connectionParams ?? {},
    retryAttempts: 100,
    shouldRetry: () => true,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 200)),
  });
  let stopped = false;
  let unsubscribe: () => void = () => undefined;
  const start = () => {
    unsubscribe = client.subscribe<Record<string, unknown>, Record<string, unknown>>(payload, {
      next: (result) => {
        const r = result as Received;
        const cursor = r.extensions?.cursor;
        if (typeof cursor === 'string') payload.variables.after = cursor;
        if (r.errors) errors.push(r);
        else events.push(r);
      },
      error: (error) => errors.push({ errors: [{ message: String(error) }] }),
      complete: () => {
        // The gateway ended it (too slow, a service restarting): subscribe again from the last cursor.
        if (!stopped) setTimeout(start, 100);
      },
    });
  };
  start();
  return {
    events,
    errors,
    get cursor() {
      return payload.variables.after;
    },
    async stop() {
      stopped = true;
      unsubscribe();
      await client.dispose();
    },
  };
}
