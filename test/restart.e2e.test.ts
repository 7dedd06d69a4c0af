import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { freshMongoUrl, withServer } from '../platform/testing/servers.js';
import { testWebhookSecretKeys } from '../platform/testing/test-config.js';
import { stopChild } from '../platform/testing/child-process.js';
import { freePort } from '../platform/testing/system-process.js';

// A crash (SIGKILL: no shutdown, so a Kafka consumer never leaves its group) and a restart on
// the same data: the outage must stay short, and the saga must resume. On Kafka the restarted
// process finds its consumer groups still listing the dead members until their session times
// out; the API must not wait for that.

const READY_WITHIN_MS = 10_000;

const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status } userErrors { code message } } }';

/** `npm start`'s launcher in a child process on fixed ports and a fixed data directory, so it can be killed and started again. */
class CrashableSystem {
  private child: ChildProcess | undefined;
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'restart-e2e-'));
  private readonly jwtSecret = randomBytes(32).toString('hex');
  private ports: Record<string, number> = {};
  output = '';

  constructor(private readonly servers: Record<string, string>) {}

  url(port: string, path: string): string {
    return `http://127.0.0.1:${this.ports[port]}${path}`;
  }

  get gatewayUrl(): string {
    return this.url('PORT', '/graphql');
  }

  /** Spawns the system and resolves with the milliseconds until it serves: every /health/ready answers 200 and a query through the gateway works. */
  async start(): Promise<number> {
    if (Object.keys(this.ports).length === 0) {
      for (const name of ['PORT', 'PRODUCT_PORT', 'ORDER_PORT', 'USER_PORT', 'RECOMMENDATION_PORT', 'NOTIFICATION_PORT', 'PROJECTOR_PORT']) this.ports[name] = await freePort();
    }
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['EVENTSTORE_URL', 'MONGODB_URL', 'REDIS_URL', 'KAFKA_BROKERS']) delete env[name];
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'launcher/embedded.ts'], {
      env: {
        ...env,
        ...Object.fromEntries(['PORT', 'PRODUCT_PORT', 'ORDER_PORT', 'USER_PORT', 'RECOMMENDATION_PORT', 'NOTIFICATION_PORT', 'PROJECTOR_PORT'].map((name) => [name, String(this.ports[name])])),
        DATA_DIR: this.dataDir,
        JWT_SECRET: this.jwtSecret,
        WEBHOOK_SECRET_KEYS: testWebhookSecretKeys(this.dataDir),
        PASSWORD_HASH_COST: '10',
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        ...this.servers,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: string) => void (this.output = (this.output + chunk).slice(-20_000));
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    const ready = async (port: string) => (await fetch(this.url(port, '/health/ready'), { signal: AbortSignal.timeout(2000) })).status === 200;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the system exited with code ${child.exitCode} during start-up:\n${this.output}`);
      try {
        if ((await ready('PORT')) && (await ready('PRODUCT_PORT')) && (await ready('ORDER_PORT'))) {
          const r = await graphql<{ products: { totalCount: number } }>(this.gatewayUrl, '{ products(first: 1) { totalCount } }');
          if ((r.data?.products.totalCount ?? 0) > 0) return Date.now() - started;
        }
      } catch {
        // not up yet
      }
      if (Date.now() - started > 90_000) throw new Error(`the system did not become ready within 90 s:\n${this.output}`);
      await sleep(100);
    }
  }

  /** kill -9: no shutdown at all. */
  async crash(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (SIGKILL after 15 s); resolves with the exit code, or the signal that ended it. */
  async stop(): Promise<number | string | null> {
    return this.child ? stopChild(this.child) : null;
  }

  dispose(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Places an order for one unit of a demo product and waits until the saga confirms it (both saga consumers handled it). */
async function orderIsConfirmed(system: CrashableSystem, customer: Record<string, string>, productId: string): Promise<number> {
  const started = Date.now();
  const placed = await graphql<{ placeOrder: { order: { id: string; status: string } | null; userErrors: unknown[] } }>(
    system.gatewayUrl,
    PLACE,
    { input: { items: [{ productId, quantity: 1 }], idempotencyKey: randomUUID() } },
    customer,
  );
  expect(placed.data?.placeOrder.userErrors).toEqual([]);
  const id = placed.data!.placeOrder.order!.id;
  await eventually(async () => {
    const r = await graphql<{ order: { status: string } | null }>(system.gatewayUrl, 'query($id: ID!) { order(id: $id) { status } }', { id }, customer);
    expect(r.data?.order?.status).toBe('CONFIRMED');
  }, 60_000);
  return Date.now() - started;
}

function restartSuite(mode: string, servers: Record<string, string>, cleanUp?: () => Promise<void>) {
  describe(`restart after a crash (${mode})`, () => {
    if (cleanUp) afterAll(cleanUp);
    it(`serves again within ${READY_WITHIN_MS / 1000} s of a kill -9, and the saga resumes`, async () => {
      const system = new CrashableSystem(servers);
      try {
        const firstStartMs = await system.start();
        const customer = (await signUp(system.gatewayUrl, 'CUSTOMER')).headers;
        const products = await graphql<{ products: { edges: { node: { id: string; stock: number } }[] } }>(system.gatewayUrl, '{ products(first: 20) { edges { node { id stock } } } }');
        const productId = products.data!.products.edges.find((e) => e.node.stock >= 2)!.node.id;
        // The saga runs: its consumers are members of their groups when the process dies.
        await orderIsConfirmed(system, customer, productId);

        await system.crash();
        const restartMs = await system.start();
        const sagaMs = await orderIsConfirmed(system, customer, productId);
        console.log(`restart (${mode}): first start ${firstStartMs} ms; after kill -9 ready in ${restartMs} ms; an order placed then confirmed ${sagaMs} ms later`);
        expect(restartMs, `ready ${restartMs} ms after the restart:\n${system.output}`).toBeLessThan(READY_WITHIN_MS);
        expect(await system.stop()).toBe(0);
      } finally {
        await system.crash();
        system.dispose();
      }
    }, 180_000);
  });
}

restartSuite('embedded', {});

withServer('KAFKA_BROKERS', 'restart after a crash (Kafka)', (brokers) => {
  // With MongoDB (FerretDB) and Redis too when they are configured, as deployed.
  const namespace = `restart-${randomUUID().slice(0, 8)}`;
  const mongo = process.env.MONGODB_URL?.trim() ? freshMongoUrl(process.env.MONGODB_URL.trim()).url : undefined;
  const redis = process.env.REDIS_URL?.trim();
  const label = ['Kafka', ...(mongo ? ['MongoDB/FerretDB'] : []), ...(redis ? ['Redis'] : [])].join(', ');
  const dropDatabase = async () => {
    const client = await MongoClient.connect(mongo!);
    await client.db().dropDatabase();
    await client.close();
  };
  restartSuite(label, { KAFKA_BROKERS: brokers, NAMESPACE: namespace, ...(mongo && { MONGODB_URL: mongo }), ...(redis && { REDIS_URL: redis }) }, mongo ? dropDatabase : undefined);
});
