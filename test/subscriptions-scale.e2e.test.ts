import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { resumingSubscription } from '../platform/testing/resuming-subscription.js';
import { withAllServers } from '../platform/testing/servers.js';
import { freePort } from '../platform/testing/system-process.js';
import type { Received } from '../platform/testing/subscription-client.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

// More than one gateway on real Redis (and MongoDB, Kafka): every subscriber of either gateway
// gets every event exactly once, in order; a gateway killed under its subscribers and started
// again loses none of their events (they reconnect with their last cursor).

const WATCH = `subscription Watch($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { stock product { id seller { id } } } }`;
const RESTOCK = `mutation Restock($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } } }`;
const stockOf = (r: Received) => (r.data?.stockChanged as { stock: number } | undefined)?.stock;

withAllServers('subscriptions across gateways on real servers', (servers) => {
  describe('subscriptions across gateways on real servers', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'subscriptions-scale-e2e-'));
    const secrets = { JWT_SECRET: randomBytes(32).toString('hex'), INTERNAL_SECRET: randomBytes(32).toString('hex') };
    let system: RunningSystem;
    let seller: { headers: Record<string, string> };
    const children = new Set<ChildProcess>();

    /** A gateway as its own process, in front of the system's subgraphs, on the same Redis namespace. */
    const startGateway = async (port: number) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/index.ts'], {
        env: {
          ...process.env,
          ...servers,
          ...secrets,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          RATE_LIMIT_PER_MINUTE: '100000',
          PRODUCT_SUBGRAPH_URL: system.productUrl,
          ORDER_SUBGRAPH_URL: system.orderUrl,
          USER_SUBGRAPH_URL: system.userUrl,
          RECOMMENDATION_SUBGRAPH_URL: system.recommendationUrl,
          NOTIFICATION_SUBGRAPH_URL: system.notificationUrl,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      const url = `http://127.0.0.1:${port}/graphql`;
      await eventually(async () => {
        expect(child.exitCode).toBeNull();
        const r = await graphql(url, '{ products(first: 1) { totalCount } }');
        expect(r.status).toBe(200);
      }, 60_000, 200);
      return { url, child };
    };
    const kill9 = async (child: ChildProcess) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    };

    beforeAll(async () => {
      const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', PRODUCT_PORT: '0', ORDER_PORT: '0', USER_PORT: '0', RECOMMENDATION_PORT: '0', NOTIFICATION_PORT: '0', PROJECTOR_PORT: '0', LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false', EVENTSTORE_FSYNC: 'false', PASSWORD_HASH_COST: '10', RATE_LIMIT_PER_MINUTE: '100000', ...secrets, ...servers });
      system = await startSystem(config, { logger: createLogger('e2e', 'silent') });
      seller = await signUp(system.gatewayUrl, 'SELLER');
    }, 120_000);
    afterAll(async () => {
      for (const child of [...children]) await kill9(child);
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      const client = await MongoClient.connect(servers.MONGODB_URL!);
      await client.db().dropDatabase();
      await client.close();
    });

    it('two gateways deliver every event exactly once to each subscriber, and a gateway killed and started again under its subscribers loses none', async () => {
      const tag = randomUUID().slice(0, 8);
      const created = await graphql<{ createProduct: { product: { id: string } } }>(
        system.gatewayUrl,
        'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
        { input: { sku: `SCALE-${tag}`, name: `Scale ${tag}`, category: 'home', price: { amount: 100, currency: 'EUR' }, initialStock: 0 } },
        seller.headers,
      );
      const id = created.data!.createProduct.product.id;
      const restock = async () => {
        const r = await graphql<{ restockProduct: { product: { stock: number } } }>(system.gatewayUrl, RESTOCK, { id }, seller.headers);
        return r.data!.restockProduct.product.stock;
      };
      const port = await freePort();
      const second = await startGateway(port);
      const subscribers = [
        ...[0, 1, 2].map(() => resumingSubscription(system.gatewayUrl, WATCH, { ids: [id] })),
        ...[0, 1, 2].map(() => resumingSubscription(second.url, WATCH, { ids: [id] })),
      ];
      try {
        let stock = 0;
        while (subscribers.some((s) => s.events.length === 0)) {
          stock = await restock();
          await sleep(100);
        }
        for (let i = 0; i < 20; i++) stock = await restock();
        await eventually(() => expect(subscribers.map((s) => stockOf(s.events.at(-1)!))).toEqual(subscribers.map(() => stock)));

        // kill -9 the second gateway; writes go on meanwhile; then it starts again on the same port.
        await kill9(second.child);
        for (let i = 0; i < 30; i++) stock = await restock();
        await startGateway(port);
        for (let i = 0; i < 20; i++) stock = await restock();
        await eventually(() => expect(subscribers.map((s) => stockOf(s.events.at(-1)!))).toEqual(subscribers.map(() => stock)), 30_000);

        for (const s of subscribers) {
          const stocks = s.events.map(stockOf);
          expect(stocks).toEqual(Array.from({ length: stocks.length }, (_, i) => stocks[0]! + i));
          expect(s.errors.filter((e) => e.errors?.some((x) => x.extensions?.code !== 'DOWNSTREAM_SERVICE_ERROR'))).toEqual([]);
        }
      } finally {
        for (const s of subscribers) await s.stop();
      }
    }, 120_000);
  });
});
