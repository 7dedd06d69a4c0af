import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import { createLogger } from '../platform/logging.js';
import { eventually } from '../platform/testing/eventually.js';
import { graphql, signUp, wsClient } from '../platform/testing/graphql-client.js';
import { allValue, alertSubject, dashboards, SCRAPE_SECONDS, substitute, TestPrometheus, withoutZeroFallback } from '../platform/testing/prometheus.js';
import { withAllServers } from '../platform/testing/servers.js';
import { collect, cursorOfResult } from '../platform/testing/subscription-client.js';
import { startSystemProcess, type SystemProcess } from '../platform/testing/system-process.js';
import { ORDER_TOPIC } from '../subgraphs/order/public-events.js';

const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } userErrors { code message } } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { product { id } userErrors { code message } } }';
const RESTOCK = 'mutation($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { product { stock } userErrors { code message } } }';
const PLACE = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code message } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { status } }';
const PAY = 'mutation($id: ID!, $payment: PaymentInput!) { payOrder(id: $id, payment: $payment) { order { status } userErrors { code message } } }';
const CATALOG = 'query Catalog($after: String) { products(first: 5, after: $after) { edges { node { id name price { amount currency } stock seller { id } } } pageInfo { endCursor } } }';
const PRODUCT_PAGE = 'query ProductPage($id: ID!) { product(id: $id) { id name description stock recommendations(first: 3) { id } } }';
const WATCH = 'subscription($ids: [ID!], $after: String) { stockChanged(productIds: $ids, after: $after) { cursor stock } }';

/** The operator's first day: the shipped dashboards and alert rules, evaluated by a real Prometheus scraping the running system. */
withAllServers('observability: every dashboard panel and alert rule evaluated by a real Prometheus', (servers) => {
  describe('on MongoDB (FerretDB), Redis and Kafka', () => {
    const adminToken = randomBytes(16).toString('hex');
    let system: SystemProcess;
    let prometheus: TestPrometheus;
    let workloadStarted = 0;

    beforeAll(async () => {
      system = await startSystemProcess({ ...servers, ADMIN_TOKEN: adminToken, RATE_LIMIT_PER_MINUTE: '100000', LOG_LEVEL: 'error' });
      const hostOf = (url: string) => new URL(url).host;
      prometheus = await TestPrometheus.start({
        gateway: hostOf(system.gatewayUrl),
        product: hostOf(system.productUrl),
        order: hostOf(system.orderUrl),
        user: hostOf(system.userUrl),
        recommendation: hostOf(system.recommendationUrl),
        notification: hostOf(system.notificationUrl),
        projector: hostOf(system.projectorUrl),
      });
    }, 180_000);
    afterAll(async () => {
      await prometheus?.stop();
      await system?.stop();
    }, 60_000);

    it('scrapes every service of the running system', async () => {
      await eventually(async () => expect(Object.values(await prometheus.targets()).every((health) => health === 'up'), JSON.stringify(await prometheus.targets())).toBe(true), 30_000, 500);
    }, 60_000);

    it('every panel of every dashboard returns data after a scripted workload, and every alert rule evaluates', async () => {
      workloadStarted = Date.now();
      await workload(system, servers, adminToken, prometheus);
      // Two scrapes and a rule evaluation after the last step, so its counters are seen.
      await new Promise((resolve) => setTimeout(resolve, 3 * SCRAPE_SECONDS * 1000));
      const end = Date.now();
      const range = end - workloadStarted;

      const failures: string[] = [];
      const legitimatelyEmpty: string[] = [];
      let evaluated = 0;
      for (const dashboard of dashboards()) {
        const variables: Record<string, string> = {};
        for (const v of dashboard.variables) variables[v.name] = await allValue(prometheus, v);
        for (const e of dashboard.expressions) {
          evaluated++;
          const where = `${dashboard.title} / ${e.panel} [${e.refId}]`;
          if (!e.description?.trim()) failures.push(`${where}: no description`);
          try {
            const query = substitute(e.expr, variables, range, SCRAPE_SECONDS);
            const series = await prometheus.queryRange(query, workloadStarted, end);
            if (series.length === 0) {
              failures.push(`${where}: no series for ${query}`);
              continue;
            }
            const bare = withoutZeroFallback(query);
            if (bare !== undefined && (await prometheus.queryRange(bare, workloadStarted, end)).length === 0) legitimatelyEmpty.push(where);
          } catch (error) {
            failures.push(`${where}: ${(error as Error).message}`);
          }
        }
      }

      const rules = await prometheus.alertRules();
      const alertsEmpty: string[] = [];
      for (const rule of rules) {
        evaluated++;
        try {
          // The rule as loaded must evaluate; what it compares must exist, or it could never fire.
          await prometheus.queryRange(rule.query, workloadStarted, end);
          const subject = alertSubject(rule.query);
          if ((await prometheus.queryRange(subject, workloadStarted, end)).length === 0) alertsEmpty.push(`${rule.name}: ${subject}`);
        } catch (error) {
          failures.push(`alert ${rule.name}: ${(error as Error).message}`);
        }
      }
      process.stderr.write(
        `observability: ${evaluated} expressions evaluated (${rules.length} alert rules) over ${(range / 1000).toFixed(0)} s of workload; ` +
          `empty in a healthy run, shown as 0 by 'or vector(0)': ${legitimatelyEmpty.join('; ') || 'none'}\n`,
      );
      expect(rules.length).toBeGreaterThan(0);
      expect(failures).toEqual([]);
      expect(alertsEmpty).toEqual([]);
    }, 300_000);
  });
});

/**
 * The scripted workload: catalog browsing, a product created, changed and restocked, a stock
 * subscription (and its resume from a cursor), an order through the saga to PAID, a declined and
 * a flaky payment, product views and recommendations, the seller's analytics, a replay, and a malformed integration
 * message that is dead-lettered.
 */
async function workload(system: SystemProcess, servers: Record<string, string>, adminToken: string, prometheus: TestPrometheus): Promise<void> {
  const gateway = system.gatewayUrl;
  const ok = <T>(r: { data?: T; raw: string }, pick: (d: T) => unknown) => {
    const value = r.data && pick(r.data);
    if (value === undefined || value === null) throw new Error(`unexpected answer: ${r.raw}`);
    return value;
  };
  const seller = await signUp(gateway, 'SELLER');
  const customer = await signUp(gateway, 'CUSTOMER');

  // Catalog browsing, twice (the second time from the gateway's response cache).
  for (let i = 0; i < 2; i++) {
    const page = await graphql<{ products: { pageInfo: { endCursor: string } } }>(gateway, CATALOG, {});
    await graphql(gateway, CATALOG, { after: ok(page, (d) => d.products.pageInfo.endCursor) });
  }

  const product = ok(
    await graphql<{ createProduct: { product: { id: string } | null } }>(gateway, CREATE, { input: { sku: `OBS-${randomUUID().slice(0, 8)}`, name: 'Observed lamp', category: 'observability', price: { amount: 1500, currency: 'EUR' }, initialStock: 10 } }, seller.headers),
    (d) => d.createProduct.product?.id,
  ) as string;

  // A stock subscription sees a restock; a second one resumes from its cursor and catches up.
  const watcher = wsClient(gateway);
  try {
    const live = collect(watcher, WATCH, { ids: [product] });
    await eventually(async () => {
      ok(await graphql<{ restockProduct: { product: { stock: number } | null } }>(gateway, RESTOCK, { id: product, quantity: 1 }, seller.headers), (d) => d.restockProduct.product?.stock);
      expect(live.results.length).toBeGreaterThan(0);
    }, 20_000, 300);
    const cursor = cursorOfResult(live.results[0]);
    live.stop();
    ok(await graphql<{ restockProduct: { product: { stock: number } | null } }>(gateway, RESTOCK, { id: product, quantity: 2 }, seller.headers), (d) => d.restockProduct.product?.stock);
    const resumed = collect(watcher, WATCH, { ids: [product], after: cursor });
    await eventually(() => expect(resumed.results.length).toBeGreaterThan(0), 20_000);
    resumed.stop();
  } finally {
    await watcher.dispose();
  }
  ok(await graphql<{ updateProduct: { product: { id: string } | null } }>(gateway, UPDATE, { id: product, input: { description: 'Seen by Prometheus' } }, seller.headers), (d) => d.updateProduct.product?.id);

  // Views and recommendations.
  for (let i = 0; i < 3; i++) await graphql(gateway, 'mutation($id: ID!) { recordProductView(productId: $id) }', { id: product }, customer.headers);
  await graphql(gateway, PRODUCT_PAGE, { id: product });
  await graphql(gateway, '{ trendingProducts(first: 3) { id } }', {});
  await graphql(gateway, '{ me { recommendations(first: 3) { id } } }', {}, customer.headers);
  // The seller's analytics (sales summary and per product).
  const today = new Date().toISOString().slice(0, 10);
  ok(await graphql<{ me: { salesSummary: { unitsSold: number } } }>(gateway, 'query($from: String!, $to: String!) { me { salesSummary(from: $from, to: $to) { unitsSold } } }', { from: today, to: today }, seller.headers), (d) => d.me.salesSummary);
  ok(await graphql<{ product: { analytics: { views: number } } }>(gateway, 'query($id: ID!, $from: String!, $to: String!) { product(id: $id) { analytics(from: $from, to: $to) { views } } }', { id: product, from: today, to: today }, seller.headers), (d) => d.product.analytics);

  // Orders through the saga: paid; declined; paid after transient provider failures.
  const order = async () => {
    const id = ok(await graphql<{ placeOrder: { order: { id: string } | null } }>(gateway, PLACE, { input: { items: [{ productId: product, quantity: 1 }] } }, customer.headers), (d) => d.placeOrder.order?.id) as string;
    await eventually(async () => expect((await graphql<{ order: { status: string } }>(gateway, ORDER, { id }, customer.headers)).data?.order.status).toBe('CONFIRMED'), 30_000, 100);
    return id;
  };
  const pay = async (id: string, token: string) =>
    (await graphql<{ payOrder: { order: { status: string } | null } }>(gateway, PAY, { id, payment: { token, idempotencyKey: `pay-${randomUUID()}` } }, customer.headers)).data?.payOrder.order?.status;
  expect(await pay(await order(), 'tok_visa')).toBe('PAID');
  expect(await pay(await order(), 'tok_declined')).toBe('PAYMENT_FAILED');
  expect(await pay(await order(), 'tok_flaky')).toBe('PAID');

  // A replay of the catalog (rebuilt aside, switched over).
  const started = await fetch(`${system.projectorUrl}/projections/rebuild?name=product-catalog`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  expect(started.status).toBe(202);
  await eventually(async () => {
    const status = (await (await fetch(`${system.projectorUrl}/projections`)).json()) as { name: string; rebuild: { state: string } }[];
    expect(status.find((p) => p.name === 'product-catalog')?.rebuild.state).toBe('done');
  }, 60_000, 200);

  // A malformed integration event on the bus: the saga's consumer dead-letters it.
  const bus = await KafkaBus.connect(servers.KAFKA_BROKERS!, { namespace: servers.NAMESPACE!, clientId: 'observability-test', logger: createLogger('observability-test', 'silent') });
  try {
    await bus.publish(ORDER_TOPIC, [{ id: randomUUID(), key: randomUUID(), type: 'OrderPlaced.v1', value: { orderId: 'x', items: 'all of them' } }]);
  } finally {
    await bus.close();
  }
  await eventually(async () => expect(await prometheus.query('sum(storefront_bus_messages_consumed_total{outcome="dead_letter"})')).toHaveLength(1), 60_000, 250);
}
