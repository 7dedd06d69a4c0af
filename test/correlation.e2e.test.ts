import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import type { RecordedEvent } from '../platform/event-store/event-store.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { withAllServers } from '../platform/testing/servers.js';
import { startSystemProcess } from '../platform/testing/system-process.js';
import { orderStream } from '../subgraphs/order/events.js';
import { productStream } from '../subgraphs/product/events.js';

const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { status } }';

interface LogLine {
  service?: string;
  correlationId?: string;
  msg?: string;
  [key: string]: unknown;
}

/**
 * One request followed everywhere: a client's traceparent becomes the correlation id of its
 * placeOrder, which must name the gateway's log line for the request and the order subgraph's,
 * every event the saga appended for it (the order's, the product's reservation, the order's
 * confirmation), the projector's lines for those events (read models and the relay) and the bus
 * consumers' lines for the messages they became, hop after hop; an error response carries it.
 */
function followOneRequest(title: string, servers: () => Record<string, string>) {
  it(title, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'correlation-'));
    const system = await startSystemProcess({ ...servers(), LOG_LEVEL: 'debug', RATE_LIMIT_PER_MINUTE: '100000' }, { dataDir, captureStdout: true, forwardStderr: false });
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    let orderId: string;
    let productId: string;
    try {
      const seller = await signUp(system.gatewayUrl, 'SELLER');
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const created = await graphql<{ createProduct: { product: { id: string } } }>(system.gatewayUrl, CREATE, { input: { sku: `CORR-${randomUUID().slice(0, 8)}`, name: 'Traced kettle', category: 'kitchen', price: { amount: 2500, currency: 'EUR' }, initialStock: 3 } }, seller.headers);
      productId = created.data!.createProduct.product.id;

      const placed = await graphql<{ placeOrder: { order: { id: string } | null } }>(system.gatewayUrl, PLACE, { input: { items: [{ productId, quantity: 1 }] } }, { ...customer.headers, traceparent });
      orderId = placed.data?.placeOrder.order?.id as string;
      expect(orderId, placed.raw).toBeTruthy();
      await eventually(async () => expect((await graphql<{ order: { status: string } }>(system.gatewayUrl, ORDER, { id: orderId }, customer.headers)).data?.order.status).toBe('CONFIRMED'), 30_000, 100);

      // An error answer names the correlation id, in its extensions and its header.
      const errorTrace = randomBytes(16).toString('hex');
      const refused = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: `00-${errorTrace}-${randomBytes(8).toString('hex')}-01` }, body: JSON.stringify({ query: ORDER, variables: { id: orderId } }) });
      expect(refused.headers.get('x-correlation-id')).toBe(errorTrace);
      const body = (await refused.json()) as { errors?: { extensions?: { code?: string; correlationId?: string } }[] };
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', correlationId: errorTrace });
      // Without a traceparent, an id is made up and still reported.
      const untraced = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ nope }' }) });
      expect(untraced.headers.get('x-correlation-id')).toMatch(/^[\da-f]{32}$/);
      expect(((await untraced.json()) as { errors: { extensions: { correlationId?: string } }[] }).errors[0]!.extensions.correlationId).toBe(untraced.headers.get('x-correlation-id'));

      // The last hop (the confirmation) is projected and relayed before the logs are read.
      await eventually(() => expect(linesOf(system.stdout(), traceId).some((l) => l.msg === 'event projected' && l.type === 'OrderConfirmed' && l.projection === 'integration-relay')).toBe(true), 30_000, 100);
    } finally {
      await system.stop();
    }
    try {
      const lines = linesOf(system.stdout(), traceId);
      const where = (predicate: (l: LogLine) => boolean, what: string) => expect(lines.some(predicate), `${what} in:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`).toBe(true);
      where((l) => l.service === 'gateway' && l.msg === 'graphql request', "the gateway's line for the request");
      where((l) => l.service === 'order' && l.msg === 'graphql request', "the order subgraph's line for the request");
      for (const type of ['OrderPlaced', 'StockReserved', 'OrderConfirmed']) {
        where((l) => l.msg === 'event projected' && l.type === type && l.projection === 'integration-relay', `the relay publishing ${type}`);
      }
      where((l) => l.msg === 'event projected' && l.type === 'OrderPlaced' && l.projection === 'orders', 'the orders read model applying OrderPlaced');
      where((l) => l.msg === 'message handled' && l.type === 'OrderPlaced.v1' && l.group === 'product.reservations', 'the product service consuming OrderPlaced.v1');
      where((l) => l.msg === 'message handled' && l.type === 'StockReserved.v1' && l.group === 'order.reservation-replies', 'the order service consuming StockReserved.v1');

      // Every event the request caused, across the saga's hops, carries it in its metadata.
      const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
      try {
        const order = await events.readStream(orderStream(orderId));
        const reservation = (await events.readStream(productStream(productId))).filter((e: RecordedEvent) => (e.data as { orderId?: string }).orderId === orderId);
        expect(order.map((e) => e.type)).toEqual(['OrderPlaced', 'OrderLineReserved', 'OrderConfirmed']);
        expect(reservation.map((e) => e.type)).toEqual(['StockReserved']);
        for (const event of [...order, ...reservation]) expect(event.metadata.correlationId, event.type).toBe(traceId);
      } finally {
        await events.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
}

/** The JSON log lines naming the correlation id. */
function linesOf(stdout: string, correlationId: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.includes(correlationId))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.correlationId === correlationId);
}

describe('one request followed through every log (embedded)', () => {
  followOneRequest('a traceparent names the gateway, subgraph, event, projector and consumer lines of a placeOrder through the saga, and error answers', () => ({}));
});

withAllServers('one request followed through every log on MongoDB (FerretDB), Redis and Kafka', (servers) => {
  describe('on the real servers', () => {
    followOneRequest('a traceparent names the gateway, subgraph, event, projector and consumer lines of a placeOrder through the saga, and error answers', () => servers);
  });
});
