import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQueryBody, SubgraphClient } from './subgraph-client.js';

describe('SubgraphClient: identical reads in flight share one request', () => {
  let server: Server;
  let url: string;
  const received: { body: string; identity: string | undefined }[] = [];
  beforeAll(async () => {
    // A subgraph stand-in that answers after 50 ms, with a count that tells requests apart.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ body, identity: req.headers['x-identity'] as string | undefined });
        const n = received.length;
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ data: { n } }));
        }, 50);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends one request for identical concurrent reads of one caller, and every caller gets the answer', async () => {
    let coalesced = 0;
    const client = new SubgraphClient(() => coalesced++);
    received.length = 0;
    const body = JSON.stringify({ query: '{ products { id } }', variables: {} });
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.post(url, body, { 'x-identity': 'anonymous@10.0.0.1' }, { read: true, coalesce: true })));
    expect(received).toHaveLength(1);
    expect(coalesced).toBe(9);
    expect(new Set(answers.map((a) => a.body))).toEqual(new Set([JSON.stringify({ data: { n: 1 } })]));
    expect(client.shareable).toBe(0); // settled requests are not kept: the next read is sent afresh
    await client.post(url, body, { 'x-identity': 'anonymous@10.0.0.1' }, { read: true, coalesce: true });
    expect(received).toHaveLength(2);
    client.close();
  });

  it('never shares between callers, bodies or requests that must not be coalesced (mutations)', async () => {
    const client = new SubgraphClient();
    received.length = 0;
    const query = JSON.stringify({ query: '{ me { orders { id } } }' });
    const other = JSON.stringify({ query: '{ me { orders { id } } }', variables: { first: 2 } });
    const mutation = JSON.stringify({ query: 'mutation { restockProduct(id: "p", quantity: 1) { product { stock } } }' });
    const answers = await Promise.all([
      client.post(url, query, { 'x-identity': 'user-a' }, { read: true, coalesce: true }),
      client.post(url, query, { 'x-identity': 'user-b' }, { read: true, coalesce: true }),
      client.post(url, other, { 'x-identity': 'user-a' }, { read: true, coalesce: true }),
      client.post(url, mutation, { 'x-identity': 'user-a' }),
      client.post(url, mutation, { 'x-identity': 'user-a' }),
    ]);
    expect(received).toHaveLength(5);
    expect(new Set(answers.map((a) => a.body)).size).toBe(5);
    expect(received.filter((r) => r.identity === 'user-b')).toHaveLength(1);
    client.close();
  });

  it('shares only within one generation: a read begun after a cache invalidation is not answered by one begun before it', async () => {
    const client = new SubgraphClient();
    received.length = 0;
    const body = JSON.stringify({ query: '{ products { id } }' });
    const before = client.post(url, body, {}, { read: true, coalesce: true, generation: 1 });
    const same = client.post(url, body, {}, { read: true, coalesce: true, generation: 1 });
    const after = client.post(url, body, {}, { read: true, coalesce: true, generation: 3 });
    const answers = await Promise.all([before, same, after]);
    expect(received).toHaveLength(2);
    expect(answers[0].body).toBe(answers[1].body);
    expect(answers[2].body).not.toBe(answers[0].body);
    client.close();
  });

  it('a failed request fails every caller that joined it, and the next one is sent afresh', async () => {
    const client = new SubgraphClient();
    const closed = createServer((req) => req.socket.destroy());
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const failing = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/graphql`;
    const body = JSON.stringify({ query: '{ a }' });
    const results = await Promise.allSettled([client.post(failing, body, {}, { read: true, coalesce: true }), client.post(failing, body, {}, { read: true, coalesce: true })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await sleep(10);
    expect(client.shareable).toBe(0);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    client.close();
  });
});

describe('SubgraphClient: a kept-alive socket closed under a request', () => {
  it('sends a read once more on a new socket, and lets a mutation fail rather than run it twice', async () => {
    // A server that closes a kept-alive socket when a second request arrives on it, as one whose
    // keep-alive timeout expired just as the client reused the socket.
    const perSocket = new WeakMap<object, number>();
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) return req.socket.destroy();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { n: requests } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const client = new SubgraphClient();
    const read = JSON.stringify({ query: '{ a }' });
    await client.post(url, read, {}, { read: true });
    const again = await client.post(url, read, {}, { read: true });
    expect(JSON.parse(again.body)).toEqual({ data: { n: 3 } }); // the reset request, then the retry
    await expect(client.post(url, JSON.stringify({ query: 'mutation { b }' }), {})).rejects.toThrow(/socket hang up/);
    expect(requests).toBe(4);
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('isQueryBody', () => {
  it('tells a query (shorthand or named) from a mutation or subscription', () => {
    const body = (query: string) => JSON.stringify({ query, variables: { x: 'mutation' } });
    expect(isQueryBody(body('{ products { id } }'))).toBe(true);
    expect(isQueryBody(body('query Catalog($first: Int) { products(first: $first) { id } }'))).toBe(true);
    expect(isQueryBody(body('  # a comment\n query { a }'))).toBe(true);
    expect(isQueryBody(body('query($representations:[_Any!]!){_entities(representations:$representations){...on Product{name}}}'))).toBe(true);
    expect(isQueryBody(body('mutation { a }'))).toBe(false);
    expect(isQueryBody(body('subscription { a }'))).toBe(false);
    expect(isQueryBody(body('queryish { a }'))).toBe(false);
    expect(isQueryBody(JSON.stringify({ variables: {} }))).toBe(false);
    expect(isQueryBody('not json')).toBe(false);
  });
});
