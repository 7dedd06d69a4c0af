import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type CombinedError, type ExecutionResult } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

export interface ConnectionEvents {
  /** An error that is not a userError: shown in the banner with its code. */
  error(error: CombinedError): void;
  /** The token was refused (expired or revoked): back to sign in. */
  unauthenticated(): void;
  /** The WebSocket dropped (true) or is back (false). */
  offline(offline: boolean): void;
}

export interface Connection {
  client: Client;
  close(): void;
}

/** Marks an operation whose failure the page handles itself (no banner), e.g. an optional section. */
export const QUIET = { quiet: true } as const;

/**
 * One urql client per identity: queries and mutations over HTTP POST to /graphql, subscriptions
 * over graphql-ws on the same path, with the token in connection_init. The socket is kept open
 * (so a drop shows at once) and reconnects by itself, forever, with backoff; its subscriptions
 * resume on their own.
 */
export function connect(token: string | undefined, events: ConnectionEvents): Connection {
  const authorization = token ? `Bearer ${token}` : undefined;
  let closing = false;
  let down = false;
  const ws: WsClient = createWsClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: authorization ? { authorization } : {},
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 4000) + Math.random() * 250)),
    on: {
      connected: () => {
        if (down) events.offline(false);
        down = false;
      },
      closed: (event) => {
        if (closing) return;
        if ((event as CloseEvent | undefined)?.code === 4403) {
          events.unauthenticated();
          return;
        }
        if (!down) events.offline(true);
        down = true;
      },
    },
  });
  const client = new Client({
    url: '/graphql',
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    fetchOptions: (): RequestInit => (authorization ? { headers: { authorization } } : {}),
    exchanges: [
      mapExchange({
        onError: (error, operation) => {
          const refused = error.response instanceof Response && error.response.status === 401;
          if (refused || error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED' && authorization)) events.unauthenticated();
          else if (!(operation.context as { quiet?: boolean }).quiet) events.error(error);
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: resumingSubscribe(ws, { ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  return {
    client,
    close: () => {
      closing = true;
      void ws.dispose();
    },
  };
}

/** Endings after which a feed is subscribed again from its last cursor (README, Subscriptions). */
const RESUMABLE_ENDINGS: ReadonlySet<unknown> = new Set(['SUBSCRIBER_TOO_SLOW', 'SUBSCRIPTION_INTERRUPTED']);

type Payload = { query: string; variables?: Record<string, unknown> };
type Sink = { next(value: ExecutionResult): void; error(error: unknown): void; complete(): void };

/**
 * Subscribes over graphql-ws so that nothing is missed across a dropped connection: for an
 * operation with an `$after` variable, the payload graphql-ws sends again when it reconnects holds
 * the cursor of the last event received (each event's extensions.cursor), so the server sends what
 * happened meanwhile, then live events; an ending the server says can be resumed (a subscriber too
 * slow, an interrupted feed) subscribes again from that cursor. Returns the unsubscribe function.
 */
function resumingSubscribe(ws: WsClient, request: Payload, sink: Sink): () => void {
  const resumable = /\$after\b/.test(request.query);
  const payload = { ...request, variables: { ...request.variables } };
  let unsubscribe: () => void = () => undefined;
  let stopped = false;
  const start = () => {
    let resume = false;
    unsubscribe = ws.subscribe<ExecutionResult['data'], Record<string, unknown>>(payload, {
      next: (result) => {
        const cursor = result.extensions?.cursor;
        if (resumable && typeof cursor === 'string') payload.variables.after = cursor;
        if (resumable && result.errors?.some((e) => RESUMABLE_ENDINGS.has((e as { extensions?: Record<string, unknown> }).extensions?.code))) {
          resume = true;
          return;
        }
        sink.next(result);
      },
      error: (error) => sink.error(error),
      complete: () => {
        if (resume && !stopped) setTimeout(() => !stopped && start(), 100);
        else sink.complete();
      },
    });
  };
  start();
  return () => {
    stopped = true;
    unsubscribe();
  };
}

/** The code of an error for the banner: the first GraphQL error's extensions.code, else NETWORK_ERROR. */
export function errorCode(error: CombinedError): string {
  const code = error.graphQLErrors.find((e) => typeof e.extensions?.code === 'string')?.extensions.code;
  return typeof code === 'string' ? code : error.networkError ? 'NETWORK_ERROR' : 'ERROR';
}

export function errorMessage(error: CombinedError): string {
  return error.graphQLErrors[0]?.message ?? error.networkError?.message ?? error.message;
}
