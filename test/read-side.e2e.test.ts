import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/logging.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { eventually } from '../platform/testing/eventually.js';
import { signUp } from '../platform/testing/graphql-client.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

interface Answer {
  data?: unknown;
  extensions?: { readModels?: Record<string, number> };
}

describe('the read side through the gateway: positions, lag, health', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'read-side-e2e-'));
  let system: RunningSystem;
  const post = async (query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) =>
    (await (await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) })).json()) as Answer;

  beforeAll(async () => {
    system = await startSystem(
      testSystemConfig(dataDir),
      { logger: createLogger('read-side-e2e', 'silent') },
    );
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers queries with the position of the read models they were read from, on one subgraph and across several', async () => {
    const seller = await signUp(system.gatewayUrl, 'SELLER');
    await post('mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }', { input: { sku: `RS-${randomUUID().slice(0, 8)}`, name: 'Fresh', category: 'test', price: { amount: 100, currency: 'EUR' }, initialStock: 1 } }, seller.headers);
    const catalog = system.projectors.find((p) => p.name === 'product-catalog')!;
    const written = catalog.currentPosition;
    // A read model position at least that of the write, once projected (one subgraph: forwarded as is).
    await eventually(async () => expect((await post('{ products(first: 1) { totalCount } }')).extensions?.readModels?.['product-catalog']).toBeGreaterThanOrEqual(written));
    // Across subgraphs (planned by Apollo): the product subgraph's position still reaches the client.
    const planned = await post('{ products(first: 1) { edges { node { name seller { name } } } } }');
    expect(planned.data).toMatchObject({ products: { edges: [{ node: { name: 'Fresh', seller: { name: 'Test seller' } } }] } });
    expect(planned.extensions?.readModels?.['product-catalog']).toBeGreaterThanOrEqual(written);
  });

  it('lists every projection with its position, lag, health, policy and parked events, and is ready while they are healthy', async () => {
    const projectorUrl = system.projectorUrl;
    const status = (await (await fetch(`${projectorUrl}/projections`)).json()) as { name: string; health: { ok: boolean }; lag: { events: number }; policy: string; parked: unknown[] }[];
    expect(status.map((s) => [s.name, s.policy])).toEqual([
      ['product-catalog', 'stop'],
      ['orders', 'stop'],
      ['recommendation-product-facts', 'stop'],
      ['recommendation-co-purchases', 'stop'],
      ['recommendation-user-history', 'stop'],
      ['recommendation-trending', 'stop'],
      ['product-analytics', 'stop'],
      ['notification-inbox', 'stop'],
      ['notification-outbox', 'stop'],
      ['user-profiles', 'stop'],
      ['integration-relay', 'park'],
    ]);
    for (const s of status) expect(s).toMatchObject({ health: { ok: true }, parked: [] });
    expect((await fetch(`${projectorUrl}/health/ready`)).status).toBe(200);
    expect((await fetch(new URL('/health/ready', system.productUrl))).status).toBe(200);
  });
});
