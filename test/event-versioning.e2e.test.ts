import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql } from '../platform/testing/graphql-client.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { productStream } from '../subgraphs/product/events.js';

// A log written by an earlier release stays readable: a ProductCreated of schema version 1 (no
// `description`; version 2 added it) is stored as it was, and the system built on it reads it in
// its current shape: the decider folds it, the catalog projects it, the product can be restocked.

const ADMIN = { email: 'versioning-admin@example.test', password: 'admin password 123' };

describe('event versioning: a stored v1 event read by the current release', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'event-versioning-'));
  const productId = randomUUID();
  const v1EventId = randomUUID();
  let system: RunningSystem;

  beforeAll(async () => {
    // What release 1 wrote: straight into the log, past the current schemas.
    const raw = await FileEventStore.open(join(dataDir, 'events'));
    const data = { productId, sku: `V1-${productId.slice(0, 8)}`, name: 'Lamp from release 1', category: 'lamps', price: { amount: 2599, currency: 'EUR' }, initialStock: 5, sellerId: randomUUID(), createdAt: '2026-01-01T00:00:00.000Z' };
    const metadata = { correlationId: v1EventId, causationId: v1EventId, actor: data.sellerId, occurredAt: data.createdAt, schemaVersion: 1 };
    await raw.appendToStream(productStream(productId), [{ id: v1EventId, type: 'ProductCreated', data, metadata }], { expectedRevision: 'no_stream' });
    await raw.close();
    system = await startSystem(testSystemConfig(dataDir, { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password }), { logger: createLogger('event-versioning-e2e', 'silent') });
  });
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reads the v1 event in its v2 shape, projects it, and a command on it appends current events; the stored event is not rewritten', async () => {
    const [read] = await system.infrastructure.events.readStream(productStream(productId));
    expect(read).toMatchObject({ id: v1EventId, type: 'ProductCreated', metadata: { schemaVersion: 2 } });
    expect(read!.data).toHaveProperty('description', null);

    const PRODUCT = 'query($id: ID!) { product(id: $id) { name description stock version } }';
    await eventually(async () => expect((await graphql(system.gatewayUrl, PRODUCT, { id: productId })).data).toEqual({ product: { name: 'Lamp from release 1', description: null, stock: 5, version: 0 } }), 15_000);

    const login = await graphql<{ login: { token: string } }>(system.gatewayUrl, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }', { e: ADMIN.email, p: ADMIN.password });
    const admin = { authorization: `Bearer ${login.data!.login.token}` };
    const restock = await graphql<{ restockProduct: { product: { stock: number; version: number }; userErrors: unknown[] } }>(
      system.gatewayUrl,
      'mutation($id: ID!) { restockProduct(id: $id, quantity: 3) { product { stock version } userErrors { code message } } }',
      { id: productId },
      admin,
    );
    expect(restock.data?.restockProduct).toEqual({ product: { stock: 8, version: 1 }, userErrors: [] });

    // A product created now is written as version 2.
    const created = await graphql<{ createProduct: { product: { id: string } } }>(
      system.gatewayUrl,
      'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code } } }',
      { input: { sku: `V2-${randomUUID().slice(0, 8)}`, name: 'Lamp from release 2', category: 'lamps', price: { amount: 100, currency: 'EUR' }, initialStock: 1 } },
      admin,
    );
    const createdId = created.data!.createProduct.product.id;

    // On disk: the v1 event as release 1 wrote it; what was appended since carries its type's current version.
    const stored = readFileSync(join(dataDir, 'events', 'events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => (JSON.parse(line) as { events: { id: string; type: string; data: Record<string, unknown>; metadata: { schemaVersion: number }; streamName: string }[] }).events);
    const original = stored.find((e) => e.id === v1EventId)!;
    expect(original.metadata.schemaVersion).toBe(1);
    expect(original.data).not.toHaveProperty('description');
    const versions = (id: string) => stored.filter((e) => e.streamName === productStream(id)).map((e) => [e.type, e.metadata.schemaVersion]);
    expect(versions(productId)).toEqual([
      ['ProductCreated', 1],
      ['ProductRestocked', 1],
    ]);
    expect(versions(createdId)).toEqual([['ProductCreated', 2]]);
  });
});
