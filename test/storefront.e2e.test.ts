import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { testSystemConfig } from '../platform/testing/test-config.js';
import { startSystem, type RunningSystem } from '../launcher/system.js';

// The storefront (storefront/) in headless Chromium (Debian's `chromium`, driven by playwright-core)
// against the whole embedded system: everything the pages do goes through the public GraphQL API
// and graphql-ws. Screenshots of every page go to .run/storefront-*.png, the measurements to
// .run/storefront-metrics.json.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AXE_SOURCE = (createRequire(import.meta.url)('axe-core') as { source: string }).source;
const RUN_DIR = join(import.meta.dirname, '..', '.run');
const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const RESTOCK = 'mutation($id: ID!, $q: Int!) { restockProduct(id: $id, quantity: $q) { product { stock } userErrors { code message } } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { version } userErrors { code message } } }';

// Without chromium the suite cannot run: it fails in CI (.ci/run installs chromium), and is skipped elsewhere.
const suite = existsSync(CHROMIUM) || process.env.CI ? describe : describe.skip;

interface Watched {
  page: Page;
  consoleErrors: string[];
  /** A page whose token is refused or whose connection is cut on purpose: the browser itself logs the 401 or the failed reconnections. */
  errorsExpected?: boolean;
}

suite('storefront in a real browser', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'storefront-e2e-'));
  const run = randomUUID().slice(0, 6);
  let system: RunningSystem;
  let browser: Browser;
  let base: string;
  let seller: { headers: Record<string, string> };
  const contexts: BrowserContext[] = [];
  const watched: Watched[] = [];
  const axeFindings: { page: string; id: string; impact: string; help: string; nodes: string[] }[] = [];
  const metrics: Record<string, unknown> = {};
  const products: Record<string, string> = {};
  let adaOrder = '';

  const call = <T>(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) => graphql<T>(system.gatewayUrl, query, variables, headers);
  const createProduct = async (name: string, category: string, amount: number, stock: number) => {
    const r = await call<{ createProduct: { product: { id: string } | null } }>(CREATE, { input: { sku: `SF-${randomUUID().slice(0, 8)}`, name, category, price: { amount, currency: 'EUR' }, initialStock: stock } }, seller.headers);
    const id = r.data?.createProduct.product?.id;
    if (!id) throw new Error(`createProduct failed: ${r.raw}`);
    await eventually(async () => expect((await call<{ product: { id: string } | null }>('query($id: ID!) { product(id: $id) { id } }', { id })).data?.product).not.toBeNull());
    return id;
  };
  const newPage = async (): Promise<Watched> => {
    // bypassCSP: axe-core is injected as an inline script, which the storefront's CSP forbids.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    const w: Watched = { page, consoleErrors: [] };
    page.on('console', (m) => m.type() === 'error' && w.consoleErrors.push(`${page.url()}: ${m.text()}`));
    page.on('pageerror', (e) => w.consoleErrors.push(`${page.url()}: ${e.message}`));
    watched.push(w);
    return w;
  };
  /** axe-core on the page as it is (serious and critical findings fail the suite), then a screenshot. */
  const inspect = async (page: Page, name: string) => {
    await page.addScriptTag({ content: AXE_SOURCE });
    const result = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
      return axe.run();
    });
    for (const v of result.violations) axeFindings.push({ page: name, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) });
    await page.screenshot({ path: join(RUN_DIR, `storefront-${name}.png`), fullPage: true });
  };
  const card = (page: Page, id: string) => page.locator(`[data-product-id="${id}"]`);

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/servers/install.sh chromium installs Debian's (or set CHROMIUM_PATH)`).toBe(true);
    mkdirSync(RUN_DIR, { recursive: true });
    system = await startSystem(testSystemConfig(dataDir, { RATE_LIMIT_PER_MINUTE: '100000' }), { logger: createLogger('storefront-e2e', 'silent') });
    base = system.gatewayUrl.replace(/\/graphql$/, '');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    seller = await signUp(system.gatewayUrl, 'SELLER');
    products.lamp = await createProduct(`Desk lamp ${run}`, 'lamps', 2500, 5);
    products.floor = await createProduct(`Floor lamp ${run}`, 'lamps', 8900, 12);
    products.book = await createProduct(`Cookbook ${run}`, 'books', 1999, 3);
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (Object.keys(metrics).length > 0) writeFileSync(join(RUN_DIR, 'storefront-metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    writeFileSync(join(RUN_DIR, 'storefront-axe.json'), JSON.stringify(axeFindings, null, 2) + '\n');
  });

  it('serves the app at / with hashed, immutable, compressed assets and index.html for other paths', async () => {
    const index = await fetch(`${base}/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const script = /src="(\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}${script}`, { headers: { 'accept-encoding': 'br' } });
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('content-encoding')).toBe('br');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${base}/orders/123`)).headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(`${base}/assets/nothing.js`)).status).toBe(404);
    expect((await fetch(`${base}/assets/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(200);
  });

  it('(1) anonymous: browses, searches, filters by category and sorts; measures the first load', async () => {
    const { page } = await newPage();
    const transferred = { js: 0, css: 0 };
    const sizes: Promise<void>[] = [];
    page.on('response', (response) => {
      const url = response.url();
      const kind = url.endsWith('.js') ? 'js' : url.endsWith('.css') ? 'css' : undefined;
      if (kind) sizes.push(response.request().sizes().then((s) => void (transferred[kind] += s.responseBodySize + s.responseHeadersSize)));
    });
    const started = Date.now();
    await page.goto(`${base}/`);
    await card(page, products.book!).waitFor();
    metrics.catalogVisibleMs = Date.now() - started;
    await Promise.all(sizes);
    metrics.firstLoadTransferredBytes = transferred;
    await expect(card(page, products.lamp!).textContent()).resolves.toContain('5 left');
    await expect(card(page, products.lamp!).textContent()).resolves.toMatch(/€\s?25\.00|25\.00\s?€/);
    await expect(card(page, products.book!).textContent()).resolves.toContain('3 left');
    await inspect(page, 'catalog');

    await page.getByLabel('Search products').fill('lamp');
    await card(page, products.book!).waitFor({ state: 'detached' });
    expect(await page.locator('[data-product-id]').count()).toBe(2);
    await page.getByLabel('Search products').fill('');
    await card(page, products.book!).waitFor();
    await page.getByLabel('Category').selectOption('books');
    await card(page, products.lamp!).waitFor({ state: 'detached' });
    expect(await page.locator('[data-product-id]').count()).toBe(1);
    await page.getByLabel('Category').selectOption('');
    await page.getByLabel('Sort by').selectOption('PRICE_DESC');
    await eventually(async () => expect(await page.locator('.products h2').allTextContents()).toEqual([`Floor lamp ${run}`, `Desk lamp ${run}`, `Cookbook ${run}`]), 10_000);

    await page.getByRole('link', { name: `Cookbook ${run}` }).click();
    await page.getByRole('heading', { level: 1, name: `Cookbook ${run}` }).waitFor();
    expect(await page.textContent('main')).toContain('Test seller');
    await inspect(page, 'product');
  });

  it('(2, 3) a customer registers, orders and pays; PAID arrives live and another page sees the stock drop without reloading', async () => {
    const watcher = await newPage();
    await watcher.page.goto(`${base}/`);
    await card(watcher.page, products.lamp!).getByText('5 left').waitFor();
    await watcher.page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    const { page } = await newPage();
    await page.goto(`${base}/#/register`);
    await inspect(page, 'register');
    await page.getByLabel('Name').fill('Ada Shopper');
    await page.getByLabel('Email').fill(`ada-${run}@example.test`);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByLabel('shop (customer account)').check();
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Signed in as Ada Shopper').waitFor();

    await page.getByRole('link', { name: `Desk lamp ${run}` }).click();
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'Cart (2)' }).click();
    await page.getByRole('heading', { name: 'Cart' }).waitFor();
    await inspect(page, 'cart');
    // A double click places one order (one idempotency key per checkout).
    await page.getByRole('button', { name: 'Place order' }).dblclick();
    await page.getByRole('heading', { name: /^Order / }).waitFor();
    adaOrder = decodeURIComponent(page.url().split('#/order/')[1]!);
    await page.locator('.order-status').getByText('CONFIRMED', { exact: true }).waitFor({ timeout: 20_000 });

    // Two of five reserved: the other page's badge follows without a reload.
    await card(watcher.page, products.lamp!).getByText('3 left').waitFor({ timeout: 10_000 });
    expect(await watcher.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);

    await inspect(page, 'order');
    await page.getByLabel(/Test Visa card/).check();
    await page.getByRole('button', { name: 'Pay now' }).click();
    await page.locator('.order-status').getByText('PAID', { exact: true }).waitFor({ timeout: 20_000 });

    await page.getByRole('link', { name: 'My orders' }).click();
    await page.getByRole('heading', { name: 'My orders' }).waitFor();
    await page.locator('.orders li').first().waitFor();
    expect(await page.locator('.orders li').count()).toBe(1);
    expect(await page.textContent('.orders')).toContain('PAID');
    await inspect(page, 'orders');

    // The confirmation and the payment reached the inbox while the pages were open: the
    // navigation counts them (notificationReceived) without a reload.
    await page.getByRole('link', { name: 'Notifications (2 unread)' }).waitFor({ timeout: 20_000 });
    await page.getByRole('link', { name: 'Notifications (2 unread)' }).click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    const short = adaOrder.slice(0, 8);
    await page.getByRole('link', { name: `Order ${short} paid` }).waitFor();
    await page.getByRole('link', { name: `Order ${short} confirmed` }).waitFor();
    expect(await page.locator('.notifications li.unread').count()).toBe(2);
    await inspect(page, 'notifications');
    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await page.getByText('Nothing unread.').waitFor();
    await page.getByRole('link', { name: 'Notifications', exact: true }).waitFor();
    // Preferences: no more e-mail when an order ships, kept across a reload.
    const shippedByEmail = page.getByLabel('Order shipped: By e-mail');
    expect(await shippedByEmail.isChecked()).toBe(true);
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('SetNotificationPreference')), shippedByEmail.uncheck()]);
    await page.reload();
    await page.getByLabel('Order shipped: In the app').waitFor();
    expect(await page.getByLabel('Order shipped: By e-mail').isChecked()).toBe(false);
    expect(await page.getByLabel('Order shipped: In the app').isChecked()).toBe(true);
  });

  it('(7) a declined card shows PAYMENT_FAILED and the units come back', async () => {
    const { page } = await newPage();
    await page.goto(`${base}/#/register`);
    await page.getByLabel('Name').fill('Bob Declined');
    await page.getByLabel('Email').fill(`bob-${run}@example.test`);
    // A userError is shown next to its field.
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    const passwordField = page.locator('.field', { has: page.getByLabel('Password') });
    await passwordField.locator('.field-error').getByText(/at least 8 characters \(INVALID_INPUT\)/).waitFor();
    expect(await page.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');
    await inspect(page, 'register-errors');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Signed in as Bob Declined').waitFor();
    await page.goto(`${base}/#/product/${products.book}`);
    await page.getByText('3 left').waitFor();
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'Cart (1)' }).click();
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.locator('.order-status').getByText('CONFIRMED', { exact: true }).waitFor({ timeout: 20_000 });
    await page.getByLabel(/Test declined card/).check();
    await page.getByRole('button', { name: 'Pay now' }).click();
    await page.locator('.order-status').getByText('PAYMENT_FAILED', { exact: true }).waitFor({ timeout: 20_000 });
    await page.getByRole('link', { name: `Cookbook ${run}` }).click();
    await page.getByText('3 left').waitFor({ timeout: 10_000 });

    // Cancelling a confirmed order gives its units back too.
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'Cart (1)' }).click();
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.locator('.order-status').getByText('CONFIRMED', { exact: true }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Cancel order' }).click();
    await page.locator('.order-status').getByText('CANCELLED', { exact: true }).waitFor({ timeout: 20_000 });
    await page.goto(`${base}/#/product/${products.book}`);
    await page.getByText('3 left').waitFor({ timeout: 10_000 });

    // Someone else's order: not a userError, so a banner with the error's code.
    await page.goto(`${base}/#/order/${adaOrder}`);
    const banner = page.getByRole('alert').filter({ hasText: /^Error [A-Z_]+:/ });
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/Error (FORBIDDEN|NOT_FOUND)/);
  });

  it('(4) a seller creates, edits (with a version conflict) and restocks a product; another page sees it', async () => {
    const watcher = await newPage();
    await watcher.page.goto(`${base}/`);
    await card(watcher.page, products.book!).waitFor();

    const { page } = await newPage();
    await page.goto(`${base}/#/register`);
    await page.getByLabel('Name').fill('Sam Seller');
    await page.getByLabel('Email').fill(`sam-${run}@example.test`);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByLabel('sell (seller account)').check();
    await page.getByLabel('Time zone').selectOption('Europe/Paris');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'My products' }).waitFor();
    await page.getByRole('link', { name: 'Create a product' }).click();
    await page.getByRole('heading', { name: 'Create a product' }).waitFor();
    await inspect(page, 'new-product');
    await page.getByLabel('SKU').fill(`SAM-${run}`);
    await page.getByLabel('Name').fill(`Teapot ${run}`);
    await page.getByLabel('Description').fill('Cast iron, 1 litre.');
    await page.getByLabel('Category').fill('kitchen');
    await page.getByLabel('Price').fill('12.5');
    await page.getByLabel('Initial stock').fill('2');
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByRole('heading', { name: 'My products' }).waitFor();
    const teapot = page.locator('.seller-products [data-product-id]').filter({ hasText: `Teapot ${run}` });
    await teapot.waitFor({ timeout: 10_000 });
    const teapotId = (await teapot.getAttribute('data-product-id'))!;
    await inspect(page, 'sell');

    // The other page lists the new product (newest first) without a reload.
    await card(watcher.page, teapotId).getByText('2 left').waitFor({ timeout: 10_000 });

    await teapot.getByLabel(`Units to add to Teapot ${run}`).fill('5');
    await teapot.getByRole('button', { name: 'Restock' }).click();
    await teapot.getByText('7 in stock').waitFor({ timeout: 10_000 });
    await card(watcher.page, teapotId).getByText('7 in stock').waitFor({ timeout: 10_000 });

    // A customer buys two teapots and pays: the seller's sales figures follow without a reload
    // (refetched on the SOLD stock change), and the product's row counts the sale.
    const sales = page.locator('.seller-analytics');
    expect(await sales.locator('[data-figure="units"]').textContent()).toBe('0');
    const customer = await signUp(system.gatewayUrl, 'CUSTOMER');
    const placed = await call<{ placeOrder: { order: { id: string } | null } }>(
      'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code message } } }',
      { input: { items: [{ productId: teapotId, quantity: 2 }] } },
      customer.headers,
    );
    const orderId = placed.data?.placeOrder.order?.id ?? '';
    await eventually(async () => expect((await call<{ order: { status: string } | null }>('query($id: ID!) { order(id: $id) { status } }', { id: orderId }, customer.headers)).data?.order?.status).toBe('CONFIRMED'), 20_000);
    const paid = await call<{ payOrder: { order: { status: string } | null } }>('mutation($id: ID!) { payOrder(id: $id, payment: { token: "tok_visa" }) { order { status } } }', { id: orderId }, customer.headers);
    expect(paid.data?.payOrder.order?.status).toBe('PAID');
    await sales.locator('[data-figure="units"]').getByText('2', { exact: true }).waitFor({ timeout: 10_000 });
    expect(await sales.locator('[data-figure="orders"]').textContent()).toBe('1');
    expect(await sales.locator('[data-figure="revenue"]').textContent()).toContain('25.00');
    expect(await sales.textContent()).toContain('days in Europe/Paris'); // chosen when registering
    const row = sales.locator(`tr[data-product-id="${teapotId}"] td`);
    expect((await row.allTextContents()).map((t) => t.trim())).toEqual(['0', '2', expect.stringContaining('25.00'), '—']);
    await inspect(page, 'sell-analytics');
    // Only its seller (or an admin) reads a product's analytics; the seller's answer is never
    // served to anyone else from the gateway's response cache.
    const ANALYTICS = 'query($id: ID!) { product(id: $id) { analytics(from: "2026-01-01", to: "2026-12-31") { unitsSold } } }';
    const samToken = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('storefront.session') ?? '{}') as { token: string }).token);
    for (let i = 0; i < 2; i++) {
      const own = await call<{ product: { analytics: { unitsSold: number } } }>(ANALYTICS, { id: teapotId }, { authorization: `Bearer ${samToken}` });
      expect(own.data?.product.analytics.unitsSold).toBe(2);
    }
    const codes = async (headers: Record<string, string>) => (await call<unknown>(ANALYTICS, { id: teapotId }, headers)).errors?.map((e) => e.extensions?.code);
    expect(await codes(seller.headers)).toEqual(['FORBIDDEN']);
    expect(await codes(customer.headers)).toEqual(['FORBIDDEN']);
    expect(await codes({})).toEqual(['UNAUTHENTICATED']);

    // Edit the price; then a change made elsewhere meanwhile makes the next save a visible conflict.
    await teapot.getByRole('link', { name: /Edit/ }).click();
    await page.getByLabel('Price').fill('14.00');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    const token = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('storefront.session') ?? '{}') as { token: string }).token);
    const other = await call<{ updateProduct: { product: { version: number } | null } }>(UPDATE, { id: teapotId, input: { description: 'Changed elsewhere' } }, { authorization: `Bearer ${token}` });
    expect(other.data?.updateProduct.product).not.toBeNull();
    await page.getByLabel('Name').fill(`Big teapot ${run}`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Someone changed this product since you opened it').waitFor();
    await inspect(page, 'edit-conflict');
    await page.getByRole('button', { name: 'Load the latest version' }).click();
    await eventually(async () => expect(await page.getByLabel('Description').inputValue()).toBe('Changed elsewhere'), 10_000);

    // Discontinue (after a confirmation dialog).
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('link', { name: 'Back to my products' }).click();
    await teapot.getByRole('button', { name: /Discontinue/ }).click();
    await teapot.getByText('Discontinued').waitFor({ timeout: 10_000 });
  });

  it('works with the keyboard alone: from the catalog through a product to the cart', async () => {
    const { page } = await newPage();
    await page.goto(`${base}/`);
    await card(page, products.floor!).waitFor();
    /** Presses Tab until the focused element's accessible text matches (at most 40 times). */
    const tabTo = async (text: RegExp) => {
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          const label = el?.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : undefined;
          return `${el?.textContent ?? ''} ${label ?? ''} ${el?.getAttribute('aria-label') ?? ''}`;
        });
        if (text.test(focused)) return;
      }
      throw new Error(`Tab never reached ${String(text)}`);
    };
    /**
     * A new page moves the focus to its main region once rendered (an effect, which runs late on a
     * loaded machine): tabbing before that would be undone by it, and Enter would press nothing.
     */
    const arrived = () => page.waitForFunction(() => document.activeElement?.id === 'main');
    await tabTo(/Skip to content/);
    await tabTo(new RegExp(`Floor lamp ${run}`));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: `Floor lamp ${run}` }).waitFor();
    await arrived();
    await tabTo(/Quantity/);
    await page.keyboard.press('ArrowUp');
    await eventually(async () => expect(await page.getByLabel('Quantity').inputValue()).toBe('2'), 5000);
    await tabTo(/Add to cart/);
    await page.keyboard.press('Enter');
    await page.getByText(`Added 2 × Floor lamp ${run} to the cart.`).waitFor();
    await tabTo(/Go to the cart/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Cart' }).waitFor();
    await arrived();
    expect(await page.locator('table.cart tbody tr').count()).toBe(1);
    await tabTo(/Remove/);
    await page.keyboard.press('Enter');
    await page.getByText('Your cart is empty.').waitFor();
  });

  it('signs in, and a refused token sends the user back to sign in with a message', async () => {
    const w = await newPage();
    const { page } = w;
    await page.goto(`${base}/#/signin`);
    await inspect(page, 'signin');
    await page.getByLabel('Email').fill(`ada-${run}@example.test`);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as Ada Shopper').waitFor();
    // The token goes bad (expired, or signed with a rotated key): the next request is refused.
    w.errorsExpected = true;
    await page.evaluate(() => {
      const session = JSON.parse(sessionStorage.getItem('storefront.session')!) as { token: string };
      sessionStorage.setItem('storefront.session', JSON.stringify({ ...session, token: `${session.token.slice(0, -4)}AAAA` }));
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('Your session has expired or was refused').waitFor();
  });

  it('says when the connection drops, reconnects by itself and catches up on what changed meanwhile', async () => {
    // The page talks to the gateway through a TCP relay the test can cut, like a network outage.
    const gatewayPort = Number(new URL(base).port);
    const sockets = new Set<Socket>();
    const relay = (): Server =>
      createServer((client) => {
        const upstream = connect(gatewayPort, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined).on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
    let server = relay();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const w = await newPage();
      w.errorsExpected = true;
      const { page } = w;
      // What the page sends over its WebSockets: a resubscription names the last cursor it got.
      const subscribes: { query: string; variables: Record<string, unknown> }[] = [];
      page.on('websocket', (socket) =>
        socket.on('framesent', ({ payload }) => {
          const message = JSON.parse(String(payload)) as { type: string; payload?: { query: string; variables: Record<string, unknown> } };
          if (message.type === 'subscribe' && message.payload) subscribes.push(message.payload);
        }),
      );
      await page.goto(`http://127.0.0.1:${port}/`);
      await card(page, products.floor!).getByText('12 in stock').waitFor();
      await call(RESTOCK, { id: products.floor, q: 1 }, seller.headers);
      await card(page, products.floor!).getByText('13 in stock').waitFor({ timeout: 10_000 });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await page.getByText('Connection lost').waitFor({ timeout: 10_000 });
      await inspect(page, 'outage');
      // Changed while the page could not hear it.
      await call(RESTOCK, { id: products.floor, q: 3 }, seller.headers);
      server = relay();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      await page.getByText('Connection lost').waitFor({ state: 'detached', timeout: 15_000 });
      await card(page, products.floor!).getByText('16 in stock').waitFor({ timeout: 10_000 });
      // The stock feed was subscribed again from the cursor of the last change the page had heard.
      const stock = subscribes.filter((s) => s.query.includes('stockChanged'));
      expect(stock[0]?.variables.after ?? null).toBeNull();
      expect(stock.at(-1)?.variables.after).toEqual(expect.stringMatching(/^c1\./));
      // …and hears live changes again.
      await call(RESTOCK, { id: products.floor, q: 1 }, seller.headers);
      await card(page, products.floor!).getByText('17 in stock').waitFor({ timeout: 10_000 });
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('measures the delay from a restock returning to the badge changing in another page (p50 of 20)', async () => {
    const id = await createProduct(`Latency probe ${run}`, 'probes', 100, 1);
    const { page } = await newPage();
    await page.goto(`${base}/`);
    await page.getByLabel('Search products').fill(`Latency probe ${run}`);
    await card(page, id).getByText('1 left').waitFor();
    await page.evaluate((productId) => {
      const w = window as unknown as { badgeChanges: { text: string; at: number }[] };
      w.badgeChanges = [];
      new MutationObserver(() => {
        const text = document.querySelector(`[data-product-id="${productId}"] .badge`)?.textContent ?? '';
        if (w.badgeChanges.at(-1)?.text !== text) w.badgeChanges.push({ text, at: performance.timeOrigin + performance.now() });
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    }, id);
    const fromReturn: number[] = [];
    const fromSend: number[] = [];
    let stock = 1;
    for (let i = 0; i < 20; i++) {
      const sent = performance.timeOrigin + performance.now();
      const r = await call<{ restockProduct: { product: { stock: number } } }>(RESTOCK, { id, q: 1 }, seller.headers);
      const returned = performance.timeOrigin + performance.now();
      stock = r.data!.restockProduct.product.stock;
      const expected = stock <= 5 ? `${stock} left` : `${stock} in stock`;
      const seen = await eventually(async () => {
        const changes = await page.evaluate(() => (window as unknown as { badgeChanges: { text: string; at: number }[] }).badgeChanges);
        const change = changes.find((c) => c.text === expected);
        expect(change).toBeDefined();
        return change!.at;
      }, 10_000, 5);
      // Negative: the badge changed before the mutation's HTTP answer was read (the event overtook it).
      fromReturn.push(seen - returned);
      fromSend.push(seen - sent);
    }
    const summary = (ms: number[]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      const r = (x: number) => Math.round(x * 10) / 10;
      return { p50: r((sorted[9]! + sorted[10]!) / 2), min: r(sorted[0]!), max: r(sorted[sorted.length - 1]!), samples: sorted.length };
    };
    metrics.restockReturnedToBadgeMs = summary(fromReturn);
    metrics.restockSentToBadgeMs = summary(fromSend);
    console.log(`storefront metrics: ${JSON.stringify(metrics)}`);
  });

  it('(5, 6) no page has a serious or critical axe-core violation, and none logged a console error', () => {
    const bad = axeFindings.filter((f) => f.impact === 'serious' || f.impact === 'critical');
    expect(bad).toEqual([]);
    expect(watched.filter((w) => !w.errorsExpected).flatMap((w) => w.consoleErrors)).toEqual([]);
  });
});
