import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { startScaledSystem, type RoleProcess, type ScaledSystem } from '../platform/testing/scaled-system.js';
import { resumingSubscription } from '../platform/testing/resuming-subscription.js';
import { withAllServers } from '../platform/testing/servers.js';
import type { Received } from '../platform/testing/subscription-client.js';
import { productStream } from '../subgraphs/product/events.js';

// Issues #15 and #13: the system as role processes (npm start -- --role …) on the real servers (FerretDB,
// Redis, Kafka), with TWO product subgraph processes on one shared file event log. The order
// saga reaches the product processes through Kafka's consumer group, so reservations of one hot
// product are made by both of them, on the same stream.

const UNITS = 12;
const CUSTOMERS = 8;
const ORDERS_EACH = 5; // 40 orders of one unit for 12 units
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status } userErrors { code message } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { id status statusReason } }';
const WATCH = 'subscription Watch($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { stock } }';
const RESTOCK = 'mutation Restock($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } } }';
const stockOf = (r: Received) => (r.data?.stockChanged as { stock: number } | undefined)?.stock;

/** A counter's value in a process's /metrics (0 when it has no sample yet). */
async function counter(process: RoleProcess, name: string): Promise<number> {
  const text = await (await fetch(`${process.baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

withAllServers('two product processes on the real servers', (servers) => {
  describe('scale-out: two product processes racing for the last units of one product', () => {
    let system: ScaledSystem;

    beforeAll(async () => {
      system = await startScaledSystem(servers, { products: 2 });
    }, 180_000);

    afterAll(async () => {
      await system?.stop();
      const client = await MongoClient.connect(servers.MONGODB_URL!);
      await client.db().dropDatabase();
      await client.close();
    });

    it('reserves exactly the units there are, never below zero, across both processes; every other order is rejected for insufficient stock', async () => {
      const gateways = system.gateways.map((g) => `${g.baseUrl}/graphql`);
      const seller = await signUp(gateways[0]!, 'SELLER');
      const created = await graphql<{ createProduct: { product: { id: string } } }>(
        gateways[0]!,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }',
        { input: { sku: `HOT-${Date.now()}`, name: 'Hot item', category: 'scale', price: { amount: 999, currency: 'EUR' }, initialStock: UNITS } },
        seller.headers,
      );
      const productId = created.data!.createProduct.product.id;
      await eventually(async () => expect((await graphql<{ product: { stock: number } | null }>(gateways[1]!, 'query($id: ID!) { product(id: $id) { stock } }', { id: productId })).data?.product?.stock).toBe(UNITS), 30_000);

      const customers = await Promise.all(Array.from({ length: CUSTOMERS }, (_, i) => signUp(gateways[i % 2]!, 'CUSTOMER')));
      const appendedBefore = await Promise.all(system.products.map((p) => counter(p, 'storefront_eventstore_events_appended_total')));

      // Every customer places their orders at once, half of them through each gateway.
      const placed = (
        await Promise.all(
          customers.flatMap((customer, c) =>
            Array.from({ length: ORDERS_EACH }, async () => {
              const r = await graphql<{ placeOrder: { order: { id: string; status: string } | null; userErrors: unknown[] } }>(gateways[c % 2]!, PLACE, { input: { items: [{ productId, quantity: 1 }] } }, customer.headers);
              expect(r.data?.placeOrder.userErrors).toEqual([]);
              return { id: r.data!.placeOrder.order!.id, customer };
            }),
          ),
        )
      ).flat();
      expect(placed).toHaveLength(CUSTOMERS * ORDERS_EACH);

      const outcomes = new Map<string, { status: string; statusReason: string | null }>();
      await eventually(
        async () => {
          for (const { id, customer } of placed) {
            if (outcomes.has(id)) continue;
            const r = await graphql<{ order: { status: string; statusReason: string | null } }>(gateways[0]!, ORDER, { id }, customer.headers);
            const order = r.data?.order;
            if (order && order.status !== 'PENDING') outcomes.set(id, order);
          }
          expect(outcomes.size).toBe(placed.length);
        },
        90_000,
      );
      const confirmed = [...outcomes].filter(([, o]) => o.status === 'CONFIRMED');
      const rejected = [...outcomes].filter(([, o]) => o.status === 'REJECTED');
      expect(confirmed).toHaveLength(UNITS);
      expect(rejected).toHaveLength(placed.length - UNITS);
      for (const [, o] of rejected) expect(o.statusReason).toBe(`insufficient stock for product ${productId}: 1 requested, 0 available`);

      // The product's own stream, as the shared log holds it: one reservation per confirmed order,
      // the stock after each never negative, and a rejection for every other order.
      const log = await FileEventStore.open(join(system.dataDir, 'events'), { fsync: false });
      const stream = await log.readStream(productStream(productId));
      await log.close();
      const reserved = stream.filter((e) => e.type === 'StockReserved').map((e) => e.data as { orderId: string; stock: number });
      expect(reserved.map((r) => r.orderId).sort()).toEqual(confirmed.map(([id]) => id).sort());
      expect(reserved.map((r) => r.stock)).toEqual(Array.from({ length: UNITS }, (_, i) => UNITS - 1 - i));
      expect(stream.filter((e) => e.type === 'StockReservationRejected')).toHaveLength(placed.length - UNITS);
      expect(stream.map((e) => e.revision)).toEqual(stream.map((_, i) => i));

      // Both product processes wrote to it (the consumer group gave each some orders).
      const appendedAfter = await Promise.all(system.products.map((p) => counter(p, 'storefront_eventstore_events_appended_total')));
      expect(appendedAfter.map((after, i) => after - appendedBefore[i]!).every((n) => n > 0)).toBe(true);
      await eventually(async () => expect((await graphql<{ product: { stock: number } }>(gateways[1]!, 'query($id: ID!) { product(id: $id) { stock } }', { id: productId })).data?.product.stock).toBe(0), 30_000);
    }, 240_000);

    it('two gateways in front of two product processes deliver every stockChanged event exactly once, in order, to each subscriber, with restocks sent to both processes at once', async () => {
      const gateways = system.gateways.map((g) => `${g.baseUrl}/graphql`);
      const seller = await signUp(gateways[0]!, 'SELLER');
      const created = await graphql<{ createProduct: { product: { id: string } } }>(
        gateways[1]!,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
        { input: { sku: `WATCHED-${Date.now()}`, name: 'Watched item', category: 'scale', price: { amount: 100, currency: 'EUR' }, initialStock: 0 } },
        seller.headers,
      );
      const id = created.data!.createProduct.product.id;
      const restock = async (via: string) => {
        const r = await graphql<{ restockProduct: { product: { stock: number } } }>(via, RESTOCK, { id }, seller.headers);
        expect(r.errors).toBeUndefined();
        return r.data!.restockProduct.product.stock;
      };
      const subscribers = gateways.flatMap((url) => [0, 1, 2].map(() => resumingSubscription(url, WATCH, { ids: [id] })));
      try {
        let stock = 0;
        // Until every subscriber is live (each has seen one event), then 40 restocks, two at a
        // time, one through each gateway, so both product processes append to the stream at once.
        while (subscribers.some((s) => s.events.length === 0)) {
          stock = await restock(gateways[0]!);
          await sleep(100);
        }
        for (let i = 0; i < 20; i++) stock = Math.max(...(await Promise.all(gateways.map(restock))));
        await eventually(() => expect(subscribers.map((s) => stockOf(s.events.at(-1)!))).toEqual(subscribers.map(() => stock)), 30_000);
        for (const s of subscribers) {
          const stocks = s.events.map(stockOf);
          expect(stocks).toEqual(Array.from({ length: stocks.length }, (_, i) => stocks[0]! + i));
          expect(s.errors).toEqual([]);
        }
      } finally {
        for (const s of subscribers) await s.stop();
      }
    }, 120_000);
  });
});
