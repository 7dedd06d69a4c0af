import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../platform/bus/kafka-bus.js';
import { createLogger } from '../platform/logging.js';
import { graphql, signUp } from '../platform/testing/graphql-client.js';
import { TestPrometheus, type AlertRule } from '../platform/testing/prometheus.js';
import { startScaledSystem, type ScaledSystem } from '../platform/testing/scaled-system.js';
import { dropTestDatabase, withAllServers } from '../platform/testing/servers.js';
import { ORDER_TOPIC } from '../subgraphs/order/public-events.js';

const CREATE = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }';
const RESTOCK = 'mutation($id: ID!) { restockProduct(id: $id, quantity: 1) { product { stock } userErrors { code } } }';

/** An alert that must fire, and the labels that say where. */
interface Expected {
  alert: string;
  labels: Record<string, string>;
  fault: string;
}

/**
 * The shipped alert rules against faults an operator meets, with the system as separate role
 * processes (as deployed) on the real servers and a real Prometheus evaluating the rules: none
 * fires during a healthy workload; then, at once, a subgraph stopped, the projector frozen while
 * writes continue, and a malformed message dead-lettered — each must fire its alert.
 */
withAllServers('alerts fire when they should (role processes, real Prometheus)', (servers) => {
  describe('on MongoDB (FerretDB), Redis and Kafka', () => {
    let system: ScaledSystem;
    let prometheus: TestPrometheus;

    beforeAll(async () => {
      system = await startScaledSystem({ ...servers, RATE_LIMIT_PER_MINUTE: '1000000' }, { products: 1, forwardStderr: false });
      const host = (url: string) => new URL(url).host;
      const role = (name: string) => system.others.find((p) => p.role === name)!.baseUrl;
      prometheus = await TestPrometheus.start({
        gateway: host(system.gateways[0]!.baseUrl),
        product: host(system.products[0]!.baseUrl),
        order: host(role('order')),
        user: host(role('user')),
        recommendation: host(role('recommendation')),
        notification: host(role('notification')),
        projector: host(role('projector')),
      });
    }, 240_000);
    afterAll(async () => {
      const projector = system?.others.find((p) => p.role === 'projector');
      if (projector?.child.pid && projector.child.exitCode === null) process.kill(projector.child.pid, 'SIGCONT');
      await prometheus?.stop();
      await system?.stop();
      await dropTestDatabase(servers.MONGODB_URL);
    }, 90_000);

    it('none fires during a healthy workload; a stopped subgraph, a frozen projector under writes and a dead letter fire theirs', async () => {
      const gateway = `${system.gateways[0]!.baseUrl}/graphql`;
      const seller = await signUp(gateway, 'SELLER');
      const created = await graphql<{ createProduct: { product: { id: string } } }>(gateway, CREATE, { input: { sku: `ALERT-${randomUUID().slice(0, 8)}`, name: 'Alarm clock', category: 'alerts', price: { amount: 900, currency: 'EUR' }, initialStock: 1 } }, seller.headers);
      const productId = created.data!.createProduct.product.id;
      const restock = async () => {
        const r = await graphql<{ restockProduct: { product: { stock: number } | null } }>(gateway, RESTOCK, { id: productId }, seller.headers);
        if (!r.data?.restockProduct.product) throw new Error(`restock failed: ${r.raw}`);
      };

      // Healthy: every target up, writes projected, several rule evaluations, and nothing pending or firing.
      const healthyUntil = Date.now() + 12_000;
      while (Date.now() < healthyUntil) {
        await restock();
        await sleep(200);
      }
      expect(Object.values(await prometheus.targets()).every((h) => h === 'up'), JSON.stringify(await prometheus.targets())).toBe(true);
      const active = (rules: AlertRule[]) => rules.flatMap((r) => r.alerts.map((a) => `${r.name} ${a.state} ${JSON.stringify(a.labels)}`));
      expect(active(await prometheus.alertRules())).toEqual([]);

      // The faults, at once.
      const faultAt = Date.now();
      await system.others.find((p) => p.role === 'recommendation')!.stop();
      const projector = system.others.find((p) => p.role === 'projector')!;
      process.kill(projector.child.pid!, 'SIGSTOP');
      const bus = await KafkaBus.connect(servers.KAFKA_BROKERS!, { namespace: servers.NAMESPACE!, clientId: 'alerts-test', logger: createLogger('alerts-test', 'silent') });
      try {
        await bus.publish(ORDER_TOPIC, [{ id: randomUUID(), key: randomUUID(), type: 'OrderPlaced.v1', value: { orderId: 'x', items: 'all of them' } }]);
      } finally {
        await bus.close();
      }
      for (let i = 0; i < 150; i++) await restock(); // the projector is frozen: the read models fall behind

      const expected: Expected[] = [
        { alert: 'StorefrontTargetDown', labels: { job: 'recommendation' }, fault: 'recommendation subgraph stopped' },
        { alert: 'StorefrontTargetDown', labels: { job: 'projector' }, fault: 'projector frozen (SIGSTOP)' },
        { alert: 'StorefrontReadModelBehind', labels: { service: 'product', read_model: 'product-catalog' }, fault: 'projector frozen under writes' },
        { alert: 'StorefrontDeadLetters', labels: { service: 'product', group: 'product.reservations' }, fault: 'malformed OrderPlaced.v1 dead-lettered' },
      ];
      const seen = new Map<Expected, { pending?: number; firing?: number }>(expected.map((e) => [e, {}]));
      const deadline = Date.now() + 150_000;
      while (Date.now() < deadline && [...seen.values()].some((s) => s.firing === undefined)) {
        const rules = await prometheus.alertRules();
        for (const e of expected) {
          const alert = rules.find((r) => r.name === e.alert)?.alerts.find((a) => Object.entries(e.labels).every(([k, v]) => a.labels[k] === v));
          const s = seen.get(e)!;
          if (alert && s.pending === undefined) s.pending = (Date.now() - faultAt) / 1000;
          if (alert?.state === 'firing' && s.firing === undefined) s.firing = (Date.now() - faultAt) / 1000;
        }
        await sleep(500);
      }
      const report = expected.map((e) => {
        const s = seen.get(e)!;
        return `${e.alert} ${JSON.stringify(e.labels)} after "${e.fault}": pending at ${s.pending?.toFixed(1) ?? '-'} s, firing at ${s.firing?.toFixed(1) ?? '-'} s`;
      });
      process.stderr.write(`alert timings (seconds from the faults):\n  ${report.join('\n  ')}\n`);
      for (const e of expected) expect(seen.get(e)!.firing, `${e.alert} ${JSON.stringify(e.labels)}: ${report.join('; ')}`).toBeDefined();
    }, 300_000);
  });
});
