import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../launcher/system.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { productIdForSku } from '../subgraphs/product/decider.js';
import { productStream } from '../subgraphs/product/events.js';
import { readAllEvents } from '../platform/testing/suite-stores.js';

// The importProducts mutation, through the gateway, as a seller's tool would call it.

const IMPORT = `mutation Import($csv: String!) {
  importProducts(csv: $csv) { rows created unchanged rejected rejections { line sku code column message } userErrors { code message field } }
}`;
const SEARCH = `query Search($search: String!) { products(first: 100, filter: { search: $search }) { totalCount edges { node { sku name price { amount currency } stock seller { id } } } } }`;
const HEADER = 'sku,name,description,category,price,currency,stock';

interface ImportPayload {
  rows: number | null;
  created: number | null;
  unchanged: number | null;
  rejected: number | null;
  rejections: { line: number; sku: string | null; code: string; column: string | null; message: string }[] | null;
  userErrors: { code: string; message: string; field: string[] | null }[];
}

/** On the embedded adapters and, when the servers are configured, on MongoDB (FerretDB), Redis and Kafka. */
function importSuite(mode: string, servers: Record<string, string> | undefined) {
  describe(`importProducts through the gateway (${mode})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'import-e2e-'));
    let system: RunningSystem;
    let seller: Awaited<ReturnType<typeof signUp>>;
    const importCsv = (csv: string, headers: Record<string, string> = seller.headers) => graphql<{ importProducts: ImportPayload }>(system.gatewayUrl, IMPORT, { csv }, headers);

    beforeAll(async () => {
      system = await startSystem(testSystemConfig(dataDir, servers), { logger: createLogger('import-e2e', 'silent') });
      seller = await signUp(system.gatewayUrl, 'SELLER');
    });
    afterAll(async () => {
      await system?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestDatabase(servers?.MONGODB_URL);
    });

    it('asks an anonymous caller to sign in and refuses a customer, importing nothing', async () => {
      const csv = `${HEADER}\nNOAUTH-${randomUUID().slice(0, 8)},Thing,,misc,1.00,EUR,1\n`;
      const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
      const head = await system.infrastructure.events.headPosition();
      const anonymous = await importCsv(csv, {});
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const refused = await importCsv(csv, customer.headers);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // Nothing about products was appended (other services' consumers may note the new customer meanwhile).
      const appended = (await readAllEvents(system.infrastructure.events)).filter((e) => e.position > head);
      expect(appended.filter((e) => e.streamName.startsWith('product-')).map((e) => e.type)).toEqual([]);
    });

    it('creates the good rows, reports the bad ones by line, and the products appear in the catalog; a second run creates nothing', async () => {
      const tag = randomUUID().slice(0, 8).toUpperCase();
      const csv = [HEADER, `${tag}-1,Imported mug ${tag},"Big, ""blue""",kitchen,12.99,EUR,5`, `${tag}-2,Imported pot ${tag},,kitchen,1..5,EUR,1`, `${tag}-3,Imported pan ${tag},,kitchen,45,EUR,2`].join('\r\n');
      const first = await importCsv(csv);
      expect(first.errors).toBeUndefined();
      expect(first.data?.importProducts).toMatchObject({ rows: 3, created: 2, unchanged: 0, rejected: 1, userErrors: [] });
      expect(first.data?.importProducts.rejections).toEqual([{ line: 3, sku: `${tag}-2`, code: 'INVALID_INPUT', column: 'PRICE', message: 'price "1..5" is not a decimal number such as 12.99' }]);

      const found = await eventually(async () => {
        const r = await graphql<{ products: { totalCount: number; edges: { node: Record<string, unknown> }[] } }>(system.gatewayUrl, SEARCH, { search: `Imported` });
        const mine = r.data!.products.edges.map((e) => e.node).filter((n) => (n.sku as string).startsWith(tag));
        expect(mine).toHaveLength(2);
        return mine;
      });
      expect(found.find((p) => p.sku === `${tag}-1`)).toEqual({ sku: `${tag}-1`, name: `Imported mug ${tag}`, price: { amount: 1299, currency: 'EUR' }, stock: 5, seller: { id: seller.userId } });

      const again = await importCsv(csv);
      expect(again.data?.importProducts).toMatchObject({ rows: 3, created: 0, unchanged: 2, rejected: 1 });
    });

    it('takes a CSV of 1,000 rows within the body limit, and refuses more rows with TOO_MANY_ROWS before importing any', async () => {
      const tag = randomUUID().slice(0, 6).toUpperCase();
      const rows = (n: number) => [HEADER, ...Array.from({ length: n }, (_, i) => `${tag}-${i},Bulk ${tag} ${i},Made for the bulk test,bulk,${(i % 90) + 1}.99,EUR,${i % 7}`)].join('\n');
      const full = rows(1000);
      expect(JSON.stringify({ query: IMPORT, variables: { csv: full } }).length).toBeLessThan(100_000);
      const imported = await importCsv(full);
      expect(imported.errors).toBeUndefined();
      expect(imported.data?.importProducts).toMatchObject({ rows: 1000, created: 1000, rejected: 0, rejections: [] });
      await eventually(async () => {
        const r = await graphql<{ products: { totalCount: number } }>(system.gatewayUrl, SEARCH, { search: `Bulk ${tag}` });
        expect(r.data?.products.totalCount).toBe(1000);
      }, 30_000);

      const tooMany = await importCsv(rows(1001).replaceAll(`${tag}-`, `${tag}X-`).replaceAll('Made for the bulk test', ''));
      expect(tooMany.errors).toBeUndefined();
      expect(tooMany.data?.importProducts).toMatchObject({ rows: null, created: null, rejections: null, userErrors: [{ code: 'TOO_MANY_ROWS', field: ['csv'] }] });
      // None of its products was created (the log's head is no measure: other services, such as
      // the recommendation consumers recording the first file's products, append meanwhile).
      for (const i of [0, 500, 1000]) expect(await system.infrastructure.events.readLastEvent(productStream(productIdForSku(`${tag}X-${i}`)))).toBeUndefined();
    });

    it('answers a CSV too big for the request limit with PAYLOAD_TOO_LARGE', async () => {
      const big = [HEADER, ...Array.from({ length: 900 }, (_, i) => `BIG-${i},${'x'.repeat(100)},,c,1,EUR,1`)].join('\n');
      const r = await importCsv(big);
      expect(r.status).toBe(413);
      expect(r.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('refuses a CSV without the expected header as a userError', async () => {
      const r = await importCsv('sku;name;price\nA;B;1\n');
      expect(r.data?.importProducts.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringMatching(/line 1: unknown column "sku;name;price"/) as string, field: ['csv'] }]);
    });
  });
}

importSuite('embedded', undefined);
withAllServers('importProducts through the gateway (MongoDB, Redis, Kafka)', (servers) => importSuite('MongoDB/FerretDB, Redis, Kafka', servers));
