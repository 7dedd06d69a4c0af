import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { OwnServer } from '../platform/testing/own-server.js';
import { withServer } from '../platform/testing/servers.js';
import { freePort, startSystemProcess, type SystemProcess } from '../platform/testing/system-process.js';

const RESTOCK = 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } userErrors { code } } }';
const STOCK = 'query($id: ID!) { product(id: $id) { stock } }';

// Needs FerretDB installed (MONGODB_URL is set where scripts/servers started one); this suite
// runs a private instance it can freeze without disturbing the shared one.
withServer('MONGODB_URL', 'the read side through a 20 s MongoDB (FerretDB) freeze', () => {
  let ferret: OwnServer;
  let system: SystemProcess;
  let mongoUrl: string;

  beforeAll(async () => {
    const [port, postgresPort] = [await freePort(), await freePort()];
    // FerretDB with its own storage (PostgreSQL, as CI's, unless FERRETDB_BACKEND says otherwise).
    ferret = new OwnServer('ferretdb', { FERRETDB_PORT: String(port), POSTGRES_PORT: String(postgresPort) });
    await ferret.start();
    mongoUrl = `mongodb://127.0.0.1:${port}/storefront_freeze_${randomUUID().slice(0, 8)}`;
    system = await startSystemProcess({ MONGODB_URL: mongoUrl, DOCUMENTS_TIMEOUT_MS: '2000', PROJECTION_MAX_LAG_SECONDS: '3', LOG_LEVEL: 'error' });
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
    await ferret?.dispose();
  }, 60_000);

  it('keeps taking writes, answers every request within its timeouts, reports the outage in readiness, and converges after', { timeout: 120_000 }, async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    const created = await graphql<{ createProduct: { product: { id: string } } }>(
      system.gatewayUrl,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
      { input: { sku: `FREEZE-${randomUUID().slice(0, 8)}`, name: 'Frozen', category: 'test', price: { amount: 100, currency: 'EUR' }, initialStock: 0 } },
      seller.headers,
    );
    const id = created.data!.createProduct.product.id;
    const ready = async () => (await fetch(new URL('/health/ready', system.productUrl))).status;
    await eventually(async () => expect(await ready()).toBe(200));

    // Writes (to the event store) go on all along; reads time their answers.
    let acknowledged = 0;
    let slowest = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const r = await graphql<{ restockProduct: { userErrors: unknown[] } }>(system.gatewayUrl, RESTOCK, { id }, seller.headers);
        if (r.data?.restockProduct.userErrors.length === 0) acknowledged++;
        await sleep(50);
      }
    })();
    const reader = (async () => {
      while (writing) {
        const started = Date.now();
        await graphql(system.gatewayUrl, STOCK, { id });
        slowest = Math.max(slowest, Date.now() - started);
        await sleep(100);
      }
    })();

    await sleep(2000);
    ferret.pause();
    const frozenAt = Date.now();
    const readiness: number[] = [];
    while (Date.now() - frozenAt < 20_000) {
      const started = Date.now();
      readiness.push(await ready());
      expect(Date.now() - started).toBeLessThan(10_000); // readiness itself never hangs
      await sleep(1000);
    }
    ferret.resume();
    expect(readiness).toContain(503);
    expect(system.child.exitCode).toBeNull();

    await sleep(2000);
    writing = false;
    await Promise.all([writer, reader]);
    expect(acknowledged).toBeGreaterThan(100); // the event store never depended on MongoDB
    expect(slowest).toBeLessThan(15_000); // no request hung for the whole freeze

    // Everything converges: ready again, and the read model has every acknowledged restock.
    await eventually(async () => expect(await ready()).toBe(200), 60_000);
    await eventually(async () => expect((await graphql<{ product: { stock: number } }>(system.gatewayUrl, STOCK, { id })).data?.product.stock).toBe(acknowledged), 60_000);
  });
});
