import { randomUUID } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../../platform/cache/memory-cache.js';
import { MemoryDocumentStore } from '../../../platform/documents/memory-document-store.js';
import { ForbiddenError, ValidationError } from '../../../platform/errors.js';
import { FileEventStore } from '../../../platform/event-store/file-event-store.js';
import { createLogger } from '../../../platform/logging.js';
import { createMetrics, serviceRegistry } from '../../../platform/metrics/metrics.js';
import { MemoryPubSub } from '../../../platform/pubsub/memory-pubsub.js';
import { Projector } from '../../../projections/projector.js';
import { catalogProjection } from '../catalog/projection.js';
import { CATALOG, type ProductDoc } from '../catalog/read-model.js';
import { productIdForSku, type Actor } from '../decider.js';
import { productStream, type ProductCreated } from '../events.js';
import { importProducts, type ImportOptions, type ImportRejection } from './import.js';

const HEADER = 'sku,name,description,category,price,currency,stock';

describe('product import (embedded event store)', () => {
  let dir: string;
  let events: FileEventStore;
  let tag: string;
  const sellerA: Actor = { userId: randomUUID(), role: 'SELLER' };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'import-'));
    events = await FileEventStore.open(join(dir, 'events'), { fsync: false });
    tag = randomUUID().slice(0, 8).toUpperCase();
  });
  afterEach(async () => {
    await events.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const options = (seller: Actor, rejections: ImportRejection[] = []): ImportOptions => ({ seller, clock: () => new Date('2026-12-01T12:00:00Z'), correlationId: randomUUID(), onRejected: (r) => rejections.push(r) });
  const created = async (sku: string) => (await events.readStream(productStream(productIdForSku(sku))))[0] as unknown as ProductCreated | undefined;

  /** Three good rows among five bad ones, with a quoted description spanning two lines. */
  const mixed = () =>
    [
      HEADER,
      `${tag}-1,Mug,"Stoneware, ""classic""\r\n350 ml",kitchen,12.99,eur,40`,
      `${tag}-2,Kettle,,kitchen,59,EUR,0`,
      `${tag}-3,Pan,Cast iron,kitchen,12.999,EUR,3`, // too many decimals
      `${tag}-4,,No name,kitchen,5.00,EUR,1`, // the decider: name must not be empty
      `${tag}-5,Lamp,Desk,home,abc,EUR,1`, // price not a number
      `${tag}-6,Cap,Navy,apparel,17.99,EUR`, // a field short
      `${tag}-7,Tea,Green,food,4.50,JPY,2`, // JPY has no decimals
      ``,
      `${tag}-8,Yen thing,,misc,1500,jpy,-1`, // stock negative
      `${tag}-9,Socks,Wool,apparel,0012.90,EUR,100`,
    ].join('\r\n') + '\r\n';

  it('imports the good rows, reports each bad one with its line, column and reason', async () => {
    const rejections: ImportRejection[] = [];
    const counts = await importProducts(events, [mixed()], options(sellerA, rejections));
    expect(counts).toEqual({ rows: 9, created: 3, unchanged: 0, rejected: 6 });
    expect(rejections.sort((a, b) => a.line - b.line).map(({ line, sku, code, column }) => ({ line, sku, code, column }))).toEqual([
      { line: 5, sku: `${tag}-3`, code: 'INVALID_INPUT', column: 'price' },
      { line: 6, sku: `${tag}-4`, code: 'INVALID_INPUT', column: 'name' },
      { line: 7, sku: `${tag}-5`, code: 'INVALID_INPUT', column: 'price' },
      { line: 8, sku: `${tag}-6`, code: 'INVALID_INPUT', column: null },
      { line: 9, sku: `${tag}-7`, code: 'INVALID_INPUT', column: 'price' },
      { line: 11, sku: `${tag}-8`, code: 'INVALID_INPUT', column: 'stock' },
    ]);
    expect(rejections.find((r) => r.line === 5)!.message).toMatch(/more decimals than EUR uses \(2\)/);
    expect(rejections.find((r) => r.line === 8)!.message).toBe('expected 7 fields, found 6');

    expect((await created(`${tag}-1`))?.data).toMatchObject({
      sku: `${tag}-1`,
      name: 'Mug',
      description: 'Stoneware, "classic"\r\n350 ml',
      price: { amount: 1299, currency: 'EUR' },
      initialStock: 40,
      sellerId: sellerA.userId,
    });
    expect((await created(`${tag}-2`))?.data).toMatchObject({ description: null, price: { amount: 5900, currency: 'EUR' }, initialStock: 0 });
    expect((await created(`${tag}-9`))?.data).toMatchObject({ price: { amount: 1290, currency: 'EUR' } });
    expect(await created(`${tag}-3`)).toBeUndefined();
  });

  it('creates nothing twice: a second run counts every good row unchanged', async () => {
    await importProducts(events, [mixed()], options(sellerA));
    const head = await events.headPosition();
    const again = await importProducts(events, [mixed()], options(sellerA));
    expect(again).toEqual({ rows: 9, created: 0, unchanged: 3, rejected: 6 });
    expect(await events.headPosition()).toBe(head);
  });

  it('counts a SKU repeated within the file once, and refuses another seller\u2019s SKU', async () => {
    const csv = `${HEADER}\n${tag}-A,One,,c,1,EUR,1\n${tag}-a,Again,,c,2,EUR,2\n`;
    expect(await importProducts(events, [csv], options(sellerA))).toEqual({ rows: 2, created: 1, unchanged: 1, rejected: 0 });
    const rejections: ImportRejection[] = [];
    const sellerB: Actor = { userId: randomUUID(), role: 'SELLER' };
    expect(await importProducts(events, [csv], options(sellerB, rejections))).toEqual({ rows: 2, created: 0, unchanged: 0, rejected: 2 });
    expect(rejections[0]).toMatchObject({ code: 'ALREADY_EXISTS', column: 'sku', message: `SKU ${tag}-A belongs to another seller's product` });
  });

  it('creates each product once when two imports of the same file race', async () => {
    const csv = [HEADER, ...Array.from({ length: 300 }, (_, i) => `${tag}-R${i},Racer ${i},,race,1.00,EUR,1`)].join('\n');
    const [a, b] = await Promise.all([importProducts(events, [csv], { ...options(sellerA), concurrency: 7 }), importProducts(events, [csv], { ...options(sellerA), concurrency: 13 })]);
    expect(a.created + b.created).toBe(300);
    expect(a.unchanged + b.unchanged).toBe(300);
    expect(await events.headPosition()).toBe(300);
  });

  it('streams a file from disk in small chunks, columns in any order, with a BOM', async () => {
    const path = join(dir, 'products.csv');
    const rows = Array.from({ length: 500 }, (_, i) => `${i},EUR,"Streamed, ${i}",${tag}-S${i},stream,${i + 1}.50`);
    writeFileSync(path, `\ufeffStock,Currency,Name,SKU,Category,Price\n${rows.join('\n')}\n`);
    const counts = await importProducts(events, createReadStream(path, { highWaterMark: 64 }), { ...options(sellerA), concurrency: 16 });
    expect(counts).toEqual({ rows: 500, created: 500, unchanged: 0, rejected: 0 });
    expect((await created(`${tag}-S499`))?.data).toMatchObject({ name: 'Streamed, 499', price: { amount: 50050 }, initialStock: 499, description: null });
  });

  it('refuses a CSV without the right header, and a caller who is not a seller, before importing anything', async () => {
    await expect(importProducts(events, [''], options(sellerA))).rejects.toThrow(/the CSV is empty/);
    await expect(importProducts(events, ['sku,name,price\nA,B,1\n'], options(sellerA))).rejects.toThrow(/missing columns category, currency, stock/);
    await expect(importProducts(events, [`${HEADER},colour\n`], options(sellerA))).rejects.toThrow(ValidationError);
    await expect(importProducts(events, [mixed()], options({ userId: randomUUID(), role: 'CUSTOMER' }))).rejects.toThrow(ForbiddenError);
    expect(await events.headPosition()).toBe(0);
  });

  it('gives products the catalog projection shows once it catches up', async () => {
    await importProducts(events, [mixed()], options(sellerA));
    const documents = new MemoryDocumentStore();
    const projector = new Projector(catalogProjection, {
      events,
      documents,
      cache: new MemoryCache(),
      pubsub: new MemoryPubSub(),
      metrics: createMetrics(serviceRegistry('projector', { processMetrics: false })),
      logger: createLogger('test', 'silent'),
    });
    await projector.start();
    try {
      await projector.waitFor(await events.headPosition());
      const docs = (await documents.collection<ProductDoc>(CATALOG).find({ first: 100 })).items;
      expect(docs.map((d) => d.sku).sort()).toEqual([`${tag}-1`, `${tag}-2`, `${tag}-9`]);
      expect(docs.every((d) => d.sellerId === sellerA.userId)).toBe(true);
    } finally {
      await projector.stop();
    }
  });
});
