import type { Client } from 'graphql-ws';

export interface Received {
  data?: Record<string, unknown> | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
}

/**
 * A subscription whose results are collected as they arrive; `done` resolves when it ends, with
 * the transport failure if it failed (a closed socket), undefined when it completed.
 */
export function collect(client: Client, query: string, variables: Record<string, unknown>): { results: Received[]; done: Promise<unknown>; stop: () => void } {
  const results: Received[] = [];
  let stop: () => void = () => undefined;
  const done = new Promise<unknown>((resolve) => {
    stop = client.subscribe<Record<string, unknown>, Record<string, unknown>>({ query, variables }, {
      next: (result) => void results.push(result),
      error: (error) => resolve(error ?? new Error('subscription failed')),
      complete: () => resolve(undefined),
    });
  });
  return { results, done, stop: () => stop() };
}

/** The cursor of a result (extensions.cursor). */
export function cursorOfResult(result: Received | undefined): string | null {
  const cursor = result?.extensions?.cursor;
  return typeof cursor === 'string' ? cursor : null;
}
