import { parse, type OperationDefinitionNode, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../platform/subscriptions/cursor.js';
import { Subscriber } from './subscriber.js';
import { afterArgument, withAfterVariable, withoutAfter } from './subscriptions.js';

import { GraphQLError, type ExecutionResult } from 'graphql';

const take = async (s: Subscriber): Promise<ExecutionResult | undefined> => {
  const r = await s.next();
  return r.done ? undefined : r.value;
};
const event = (position: number) => ({ data: { n: position }, extensions: { cursor: encodeCursor(position, 1000 + position) } });

describe('Subscriber', () => {
  it('delivers in order and drops what it already queued (the seam of a resume)', async () => {
    const s = new Subscriber({ maxBuffered: 10, after: encodeCursor(2, 1002), onOverflow: () => undefined, onClose: () => undefined });
    for (const p of [1, 2, 3, 4, 3, 5]) s.push(event(p));
    s.end();
    const seen: unknown[] = [];
    for await (const r of s) seen.push((r.data as { n: number }).n);
    expect(seen).toEqual([3, 4, 5]);
  });

  it('ends with SUBSCRIBER_TOO_SLOW and the cursor of the last event taken when its buffer overflows', async () => {
    let overflows = 0;
    let closed = 0;
    const s = new Subscriber({ maxBuffered: 3, after: null, onOverflow: () => overflows++, onClose: () => closed++ });
    s.push(event(1));
    expect(await take(s)).toEqual(event(1));
    for (const p of [2, 3, 4, 5, 6]) s.push(event(p));
    const last = await take(s);
    expect(last?.errors?.[0]?.extensions.code).toBe('SUBSCRIBER_TOO_SLOW');
    expect(last?.extensions?.cursor).toBe(event(1).extensions.cursor);
    expect(await take(s)).toBeUndefined();
    expect([overflows, closed]).toEqual([1, 1]);
  });

  it('gives a client waiting for its next event the failure its upstream ended with, then ends', async () => {
    let closed = 0;
    const s = new Subscriber({ maxBuffered: 3, after: null, onOverflow: () => undefined, onClose: () => closed++ });
    const waiting = take(s);
    const failure = { errors: [new GraphQLError('the product service ended the subscription', { extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } })] };
    s.end(failure);
    expect(await waiting).toBe(failure);
    expect(await take(s)).toBeUndefined();
    expect(closed).toBe(1);
  });

  it('resumes just before the first event it held when the client took none', async () => {
    const s = new Subscriber({ maxBuffered: 2, after: null, onOverflow: () => undefined, onClose: () => undefined });
    for (const p of [7, 8, 9]) s.push(event(p));
    expect((await take(s))?.extensions?.cursor).toBe(encodeCursor(6, 1007));
  });

  it('sends events straight to a ready socket while the client waits, in order with what took the iterator path, and ends with the overflow cursor of what it sent', async () => {
    const sent: string[] = [];
    let ready = true;
    let overflows = 0;
    const s = new Subscriber({ maxBuffered: 2, after: null, onOverflow: () => overflows++, onClose: () => undefined });
    s.sendDirectly('7', { ready: () => ready, send: (text) => sent.push(text) });
    s.push(event(1)); // nobody waits yet: buffered, taken through the iterator
    expect(await take(s)).toEqual(event(1));
    const waiting = take(s);
    s.push(event(2)); // the client waits and the socket is ready: sent directly, serialised as graphql-ws would
    s.push(event(3));
    expect(sent.map((t) => JSON.parse(t) as unknown)).toEqual([2, 3].map((p) => ({ id: '7', type: 'next', payload: event(p) })));
    const failure = { errors: [new GraphQLError('boom', { extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' } })], extensions: { cursor: encodeCursor(4, 1004) } };
    s.push(failure); // errors take the iterator path (graphql-ws formats them)
    expect(await waiting).toBe(failure);
    ready = false; // a socket that does not keep up: events wait in the bounded buffer, then overflow
    for (const p of [5, 6, 7]) s.push(event(p));
    expect(sent).toHaveLength(2);
    const last = await take(s);
    expect(last?.errors?.[0]?.extensions.code).toBe('SUBSCRIBER_TOO_SLOW');
    expect(last?.extensions?.cursor).toBe(event(3).extensions.cursor);
    expect(overflows).toBe(1);
  });
});

describe('the live feed a resume joins', () => {
  const op = (source: string) => parse(source).definitions[0] as OperationDefinitionNode;

  it('drops after and its variable when nothing else uses it', () => {
    const operation = op('subscription W($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { stock } }');
    expect(afterArgument(operation, 'stockChanged', { ids: ['a'], after: 'c' })).toBe('c');
    const live = withoutAfter(operation, 'stockChanged', { ids: ['a'], after: 'c' });
    expect(print(live.operation)).toBe(print(op('subscription W($ids: [ID!]) { stockChanged(productIds: $ids) { stock } }')));
    expect(live.variables).toEqual({ ids: ['a'] });
  });

  it('reads and drops a literal after', () => {
    const operation = op('subscription { stockChanged(after: "x") { stock } }');
    expect(afterArgument(operation, 'stockChanged', {})).toBe('x');
    expect(print(withoutAfter(operation, 'stockChanged', {}).operation)).toBe(print(op('subscription { stockChanged { stock } }')));
    expect(afterArgument(op('subscription { stockChanged { stock } }'), 'stockChanged', {})).toBeUndefined();
  });

  it('binds the after of an upstream to a variable of the gateway (graphql-ws resends the payload with the last cursor)', () => {
    const live = withoutAfter(op('subscription W($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { stock } }'), 'stockChanged', { ids: ['a'], after: 'c' });
    expect(print(withAfterVariable(live.operation, 'stockChanged', 'resume'))).toBe(print(op('subscription W($ids: [ID!], $resume: String) { stockChanged(productIds: $ids, after: $resume) { stock } }')));
  });
});
