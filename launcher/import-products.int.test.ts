import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileEventStore } from '../platform/event-store/file-event-store.js';
import { handleCommand } from '../platform/eventsourcing/command-handler.js';
import type { Role } from '../platform/auth/tokens.js';
import { emailDecider, emailStream, userDecider } from '../subgraphs/user/decider.js';
import { userStream } from '../subgraphs/user/events.js';
import { productIdForSku } from '../subgraphs/product/decider.js';
import { productStream } from '../subgraphs/product/events.js';

// `npm run import` as a process, on the embedded event store in a fresh DATA_DIR.

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runImport(dataDir: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'launcher/import-products.ts', ...args], { env: { ...process.env, DATA_DIR: dataDir, EVENTSTORE_URL: '', EVENTSTORE_FSYNC: 'false' } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** An account as the user subgraph would have written it (no password: it never signs in here). */
async function account(dataDir: string, role: Role): Promise<{ userId: string; email: string }> {
  const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
  const userId = randomUUID();
  const email = `${role.toLowerCase()}-${userId.slice(0, 8)}@example.test`;
  const now = new Date();
  const context = { actor: 'system:test', correlationId: userId, now };
  await handleCommand(events, emailDecider, emailStream(email), { type: 'ClaimEmail', userId, at: now.toISOString() }, context);
  await handleCommand(events, userDecider, userStream(userId), { type: 'RegisterUser', userId, email, name: 'Someone', role, passwordHash: 'unused', at: now.toISOString() }, context);
  await events.close();
  return { userId, email };
}

describe('npm run import (the CLI process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'import-cli-'));
  const csv = join(dataDir, 'products.csv');
  const tag = randomUUID().slice(0, 8).toUpperCase();
  let seller: { userId: string; email: string };

  beforeAll(async () => {
    seller = await account(dataDir, 'SELLER');
    writeFileSync(csv, ['sku,name,description,category,price,currency,stock', `${tag}-1,Mug,"Big, blue",kitchen,12.99,EUR,4`, `${tag}-2,Bad,,kitchen,twelve,EUR,1`, `${tag}-3,Pan,,kitchen,40,EUR,0`, ''].join('\n'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('imports the good rows for the seller named by email, lists the rejected ones in the report, exits 3; a re-run creates nothing', async () => {
    const report = join(dataDir, 'rejected.csv');
    const first = await runImport(dataDir, [csv, '--seller', seller.email, '--report', report]);
    expect(first.code, first.stderr).toBe(3);
    expect(first.stdout).toMatch(/3 rows .*: 2 created, 0 unchanged \(already there\), 1 rejected \(listed in .*rejected\.csv\)/);
    expect(first.stderr).toMatch(/^import: .*3 rows: 2 created/m); // stderr is not a TTY: plain progress lines
    expect(readFileSync(report, 'utf8')).toBe(`line,sku,code,column,message\n3,${tag}-2,INVALID_INPUT,price,"price ""twelve"" is not a decimal number such as 12.99"\n`);

    const events = await FileEventStore.open(join(dataDir, 'events'), { fsync: false });
    const created = (await events.readStream(productStream(productIdForSku(`${tag}-1`))))[0];
    await events.close();
    expect(created?.data).toMatchObject({ sellerId: seller.userId, price: { amount: 1299, currency: 'EUR' }, description: 'Big, blue' });
    expect(created?.metadata.actor).toBe(seller.userId);

    const again = await runImport(dataDir, [csv, '--seller', seller.userId, '--json']);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.stdout)).toMatchObject({ rows: 3, created: 0, unchanged: 2, rejected: 1, seller: seller.userId });
    expect(again.stderr).toMatch(/line 3 \(.*-2\): price: price "twelve" is not a decimal number/);
  });

  it('refuses an unknown seller and a customer (exit 2)', async () => {
    expect(await runImport(dataDir, [csv, '--seller', 'nobody@example.test'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/no account has the email nobody@example\.test/) as string });
    const customer = await account(dataDir, 'CUSTOMER');
    expect(await runImport(dataDir, [csv, '--seller', customer.email])).toMatchObject({ code: 2, stderr: expect.stringMatching(/is a CUSTOMER, not a SELLER/) as string });
    expect((await runImport(dataDir, [csv])).code).toBe(2);
  });

  it('imports into a DATA_DIR another live process has open (a running system), which sees the products at once', async () => {
    const running = await FileEventStore.open(join(dataDir, 'events'), { fsync: false }); // stands for a running `npm start`
    try {
      const other = `${tag}-LIVE`;
      const liveCsv = join(dataDir, 'live.csv');
      writeFileSync(liveCsv, ['sku,name,description,category,price,currency,stock', `${other},Cup,,kitchen,3.50,EUR,2`, ''].join('\n'));
      const result = await runImport(dataDir, [liveCsv, '--seller', seller.email]);
      expect(result.code, result.stderr).toBe(0);
      expect((await running.readStream(productStream(productIdForSku(other)))).map((e) => e.type)).toEqual(['ProductCreated']);
    } finally {
      await running.close();
    }
  });
});
