import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { withAllServers } from '../platform/testing/servers.js';
import { startSystemProcess, type SystemProcess } from '../platform/testing/system-process.js';

/** How long the load runs (the issue asks for 60 s); LOAD_SECONDS shortens it for a quick local run. */
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CLIENTS = 8;
const MAX_LAG_SECONDS = 10;

interface ProjectionStatus {
  name: string;
  lag: { events: number; seconds: number };
  health: { ok: boolean; reason?: string };
}

/**
 * CLIENTS customers each place an order of two products, pay it and place the next, and a seller
 * restocks, for SECONDS: every write of the saga and the catalog. The projections' lag is sampled
 * every second from the projector; every read model must stay within its lag limit and every
 * service ready throughout.
 */
function sustainedLoad(title: string, env: () => Record<string, string>) {
  describe(title, () => {
    let system: SystemProcess;

    beforeAll(async () => {
      system = await startSystemProcess({ ...env(), PROJECTION_MAX_LAG_SECONDS: String(MAX_LAG_SECONDS), RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'error' });
    }, 120_000);
    afterAll(async () => {
      await system?.stop();
    }, 60_000);

    it(`keeps every read model within ${MAX_LAG_SECONDS} s of the writes for ${SECONDS} s, and every service ready`, { timeout: (SECONDS + 120) * 1000 }, async () => {
      const seller = await signUp(system.gatewayUrl, 'SELLER');
      const create = (n: number) =>
        graphql<{ createProduct: { product: { id: string } } }>(
          system.gatewayUrl,
          'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
          { input: { sku: `LOAD-${n}-${randomUUID().slice(0, 8)}`, name: `Load ${n}`, category: 'load', price: { amount: 250, currency: 'EUR' }, initialStock: 1_000_000 } },
          seller.headers,
        );
      const products = (await Promise.all([0, 1, 2, 3].map(create))).map((r) => r.data!.createProduct.product.id);
      const customers = await Promise.all(Array.from({ length: CLIENTS }, () => signUp(system.gatewayUrl, 'CUSTOMER')));

      const samples: ProjectionStatus[][] = [];
      const notReady: string[] = [];
      let orders = 0;
      let restocks = 0;
      const until = Date.now() + SECONDS * 1000;
      const customer = async (headers: Record<string, string>, i: number) => {
        for (let n = 0; Date.now() < until; n++) {
          const items = [{ productId: products[(i + n) % products.length], quantity: 1 }, { productId: products[(i + n + 1) % products.length], quantity: 2 }];
          const placed = await graphql<{ placeOrder: { order: { id: string } | null } }>(system.gatewayUrl, 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }', { input: { items } }, headers);
          const id = placed.data?.placeOrder.order?.id;
          if (!id) throw new Error(`placeOrder failed: ${JSON.stringify(placed)}`);
          // Pay once the saga confirmed it (reads the order, which the order service folds from its stream if need be).
          for (let tries = 0; tries < 100; tries++) {
            const paid = await graphql<{ payOrder: { userErrors: { code: string }[] } }>(system.gatewayUrl, 'mutation($id: ID!) { payOrder(id: $id, payment: { token: "tok_visa" }) { userErrors { code } } }', { id }, headers);
            if (paid.data?.payOrder.userErrors.length === 0) break;
            await sleep(20);
          }
          orders++;
        }
      };
      const restocker = async () => {
        while (Date.now() < until) {
          await graphql(system.gatewayUrl, 'mutation($id: ID!) { restockProduct(id: $id, quantity: 5) { userErrors { code } } }', { id: products[restocks % products.length] }, seller.headers);
          restocks++;
          await sleep(50);
        }
      };
      const sampler = async () => {
        while (Date.now() < until) {
          await sleep(1000);
          samples.push((await (await fetch(`${system.projectorUrl}/projections`)).json()) as ProjectionStatus[]);
          for (const url of [`${system.projectorUrl}/health/ready`, new URL('/health/ready', system.productUrl).toString()]) {
            const response = await fetch(url);
            if (response.status !== 200) notReady.push(`${url}: ${await response.text()}`);
          }
        }
      };
      await Promise.all([...customers.map((c, i) => customer(c.headers, i)), restocker(), sampler()]);

      const worst = new Map<string, number>();
      for (const sample of samples) for (const p of sample) worst.set(p.name, Math.max(worst.get(p.name) ?? 0, p.lag.seconds));
      console.log(`${title}: ${orders} orders paid and ${restocks} restocks in ${SECONDS} s (${((orders * 7 + restocks) / SECONDS).toFixed(0)} events/s written, about); worst lag ${JSON.stringify(Object.fromEntries(worst))} s`);
      expect(samples.length).toBeGreaterThan(SECONDS / 2);
      for (const [name, seconds] of worst) expect(seconds, name).toBeLessThan(MAX_LAG_SECONDS);
      expect(notReady).toEqual([]);
    });
  });
}

sustainedLoad('sustained writes, embedded', () => ({}));
withAllServers('sustained writes on MongoDB (FerretDB), Redis and Kafka', (servers) => sustainedLoad('sustained writes on MongoDB (FerretDB), Redis and Kafka', () => servers));
