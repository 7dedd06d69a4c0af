import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOW_SOCKET_CLOSE_CODE } from '../gateway/slow-sockets.js';
import { createLogger } from '../platform/logging.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { eventually } from '../platform/testing/eventually.js';
import { fragmentFanOut, nestedSelections as nested } from '../platform/testing/hostile-documents.js';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

const CATALOG = '{ products(first: 5) { totalCount edges { node { id name } } } }';

interface RawResponse {
  status: number;
  headers: Headers;
  body: { errors?: { message: string; extensions?: Record<string, unknown> }[]; data?: unknown };
  ms: number;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as RawResponse['body'], ms: performance.now() - started };
}

function boot(dataDir: string, extra: Record<string, string> = {}) {
  return startSystem(
    testSystemConfig(dataDir, { NODE_ENV: 'production', JWT_SECRET: randomBytes(32).toString('hex'), ...extra }),
    { logger: createLogger('hardening-e2e', 'silent') },
  );
}

describe('hardening: hostile and mistaken requests through the gateway', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hardening-e2e-'));
  let system: RunningSystem;

  beforeAll(async () => {
    // Long enough that a reading client starved of CPU on a busy machine is not taken for a stalled one.
    system = await boot(dataDir, { WS_SEND_TIMEOUT_SECONDS: '4' });
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('measures an automatic persisted query sent by hash alone with its own variables (the guard never saw its text)', async () => {
    const query = 'query Pages($n: Int) { products(first: $n) { edges { node { id name } } } }';
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
    const registered = await post(system.gatewayUrl, { query, variables: { n: 1 }, extensions: { persistedQuery } });
    expect(registered.status).toBe(200);
    expect(registered.body.errors).toBeUndefined();
    const cheap = await post(system.gatewayUrl, { variables: { n: 2 }, extensions: { persistedQuery } });
    expect(cheap.body.errors).toBeUndefined();
    const costly = await post(system.gatewayUrl, { variables: { n: 1_000_000 }, extensions: { persistedQuery } });
    expect(costly.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' });
  });

  it('refuses fragment fan-out (5 to 8 levels) and 700-level nesting with a coded 400 in under 100 ms each, while another request is served', async () => {
    // Each attempt is a document the gateway has not seen (its verdicts are cached), so each pays
    // the full check; the best of three keeps a busy CI machine from failing the bound, which the
    // old measure missed by far (level 5 took 0.6 s, level 7 ran out of memory).
    const fresh = (query: string) => `${query} fragment Unused${randomUUID().replaceAll('-', '')} on Query { __typename }`;
    for (const query of [fragmentFanOut(5), fragmentFanOut(6), fragmentFanOut(7), fragmentFanOut(8), nested(700)]) {
      const times: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const [hostile, normal] = await Promise.all([post(system.gatewayUrl, { query: fresh(query) }), post(system.gatewayUrl, { query: CATALOG })]);
        expect(hostile.status).toBe(400);
        expect(hostile.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX' });
        expect(normal.status).toBe(200);
        expect(normal.body.data).toMatchObject({ products: { totalCount: 0 } });
        times.push(hostile.ms);
      }
      expect(Math.min(...times)).toBeLessThan(100);
    }
    // GET carries the document in the URL: the same guard, before Apollo sees it.
    const get = await fetch(`${system.gatewayUrl}?query=${encodeURIComponent(fragmentFanOut(8))}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(400);
    expect(((await get.json()) as RawResponse['body']).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses the same documents over graphql-ws, and keeps serving the socket', async () => {
    const client = wsClient(system.gatewayUrl);
    try {
      for (const query of [`subscription ${fragmentFanOut(8).slice('query '.length).replace('on Query', 'on Subscription')}`, nested(700).replace('{', 'subscription {')]) {
        const error = await new Promise<unknown>((resolve) => client.subscribe({ query }, { next: () => undefined, error: resolve, complete: () => resolve(undefined) }));
        expect(error).toMatchObject([{ extensions: { code: 'QUERY_TOO_COMPLEX' } }]);
      }
      const answer = await new Promise<unknown>((resolve, reject) => client.subscribe({ query: CATALOG }, { next: resolve, error: reject, complete: () => undefined }));
      expect(answer).toMatchObject({ data: { products: { totalCount: 0 } } });
    } finally {
      await client.dispose();
    }
  });

  it('answers client mistakes with a 400 and a precise, coded message, never a 500', async () => {
    const subscription = await post(system.gatewayUrl, { query: 'subscription { stockChanged { stock } }' });
    expect(subscription.status).toBe(400);
    expect(subscription.body.errors?.[0]?.message).toMatch(/subscriptions are served over graphql-ws/);
    expect(subscription.body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');

    const two = 'query A { __typename } query B { __typename }';
    const unnamed = await post(system.gatewayUrl, { query: two });
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.errors?.[0]?.message).toMatch(/operationName must say which/);
    expect(unnamed.body.errors?.[0]?.extensions?.code).toBe('OPERATION_RESOLUTION_FAILURE');
    const unknown = await post(system.gatewayUrl, { query: two, operationName: 'C' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]).toMatchObject({ message: 'the document has no operation named "C"', extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
    expect((await post(system.gatewayUrl, { query: two, operationName: 'B' })).body).toEqual({ data: { __typename: 'Query' } });

    const deep = await post(system.gatewayUrl, { query: nested(4000) });
    expect(deep.status).toBe(400);
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'nesting' });
    expect(JSON.stringify(deep.body)).not.toMatch(/call stack/i);

    const syntax = await post(system.gatewayUrl, { query: '{ products(first: ) }' });
    expect(syntax.status).toBe(400);
    expect(syntax.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('accepts only application/json bodies in UTF-8 (415 otherwise)', async () => {
    for (const contentType of ['application/jsonx', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded']) {
      const refused = await post(system.gatewayUrl, { query: CATALOG }, { 'content-type': contentType });
      expect(refused.status, contentType).toBe(415);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"']) {
      expect((await post(system.gatewayUrl, { query: CATALOG }, { 'content-type': contentType })).status, contentType).toBe(200);
    }
  });

  it('answers an Authorization header over 16 kB with a coded 431 JSON error', async () => {
    const url = new URL(system.gatewayUrl);
    const response = await new Promise<{ status: number; contentType: string | undefined; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${'x'.repeat(20_000)}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ query: CATALOG }));
    });
    expect(response.status).toBe(431);
    expect(response.contentType).toMatch(/application\/json/);
    expect(JSON.parse(response.body)).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE' } }] });
  });

  it('does not reveal field names through "Did you mean" suggestions in production, over HTTP or graphql-ws', async () => {
    const typo = '{ prodcts(first: 1) { totalCount } }';
    const http = await post(system.gatewayUrl, { query: typo });
    expect(http.status).toBe(400);
    expect(http.body.errors?.[0]?.message).toBe('Cannot query field "prodcts" on type "Query".');
    const client = wsClient(system.gatewayUrl);
    try {
      const error = await new Promise<unknown>((resolve) => client.subscribe({ query: 'subscription { stockChangd { stock } }' }, { next: () => undefined, error: resolve, complete: () => resolve(undefined) }));
      expect(error).toEqual([expect.objectContaining({ message: 'Cannot query field "stockChangd" on type "Subscription".' })]);
    } finally {
      await client.dispose();
    }
  });

  it('closes a WebSocket whose client stops reading (coded close, its subscription released) and keeps serving one that reads', async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const created = await graphql<{ createProduct: { product: { id: string } } }>(
      system.gatewayUrl,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
      { input: { sku: `SLOW-${randomUUID().slice(0, 8)}`, name: 'Heavy description', description: 'd'.repeat(5000), category: 'test', price: { amount: 100, currency: 'EUR' }, initialStock: 1 } },
      seller.headers,
    );
    const productId = created.data!.createProduct.product.id;
    // About 150 kB per event: the kernel's buffers fill within a few dozen events.
    const heavy = `subscription($ids: [ID!]) { stockChanged(productIds: $ids) { stock product { ${Array.from({ length: 29 }, (_, i) => `d${i}: description`).join(' ')} } } }`;

    const reader = wsClient(system.gatewayUrl);
    let readerEvents = 0;
    // The reader keeps reading; it ends when this test disposes of it.
    reader.subscribe({ query: heavy, variables: { ids: [productId] } }, { next: () => void readerEvents++, error: () => undefined, complete: () => undefined });

    const stalled = new WebSocket(system.gatewayUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => stalled.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      stalled.once('error', reject);
      stalled.once('open', () => stalled.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      stalled.on('message', (data: Buffer) => {
        if ((JSON.parse(data.toString()) as { type: string }).type === 'connection_ack') resolve();
      });
    });
    stalled.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: heavy, variables: { ids: [productId] } } }));
    await eventually(async () => expect(await metric(system.gatewayUrl, 'storefront_subscriptions_active{field="stockChanged"')).toBe(2));
    // The shared upstream subscription is live once an event reaches the reader (a change feed
    // delivers what happens after it is live).
    const restock = () => graphql(system.gatewayUrl, 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { userErrors { code } } }', { id: productId }, seller.headers);
    await eventually(async () => {
      if (readerEvents === 0) await restock();
      expect(readerEvents).toBeGreaterThan(0);
    });
    await sleep(500);
    const before = readerEvents;
    stalled.pause(); // reads nothing more from here on

    const restocks = 120;
    for (let i = 0; i < restocks; i++) await restock();
    await eventually(async () => expect(await metric(system.gatewayUrl, 'storefront_websocket_slow_closed_total')).toBe(1), 30_000);
    await eventually(async () => expect(await metric(system.gatewayUrl, 'storefront_subscriptions_active{field="stockChanged"')).toBe(1));
    stalled.resume();
    expect([SLOW_SOCKET_CLOSE_CODE, 1006]).toContain(await closed);

    await eventually(() => expect(readerEvents - before).toBe(restocks), 30_000);
    await reader.dispose();
  });
});

describe('hardening: rate limits count refused tokens against the address', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hardening-rate-e2e-'));
  let system: RunningSystem;

  beforeAll(async () => {
    system = await boot(dataDir, { RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers forged tokens 401 until the address is over its limit, then 429', async () => {
    const forged = { authorization: `Bearer ${['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiJ4In0', 'c2lnbmF0dXJl'].join('.')}` };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await post(system.gatewayUrl, { query: CATALOG }, forged)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    const anonymous = await post(system.gatewayUrl, { query: CATALOG });
    expect(anonymous.status).toBe(429);
    expect(anonymous.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

async function metric(gatewayUrl: string, series: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', gatewayUrl))).text();
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
