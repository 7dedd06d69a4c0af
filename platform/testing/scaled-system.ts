import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Role } from '../../launcher/roles.js';
import { hasExited, stopChild } from './child-process.js';
import { freePort } from './system-process.js';
import { testWebhookSecretKeys } from './test-config.js';

/** One `npm start -- --role <role>` process. */
export interface RoleProcess {
  role: Role;
  /** Its HTTP base (`/graphql`, `/metrics`, `/health/*`). */
  baseUrl: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

const PORT_VARIABLE: Record<Role, string> = { gateway: 'PORT', product: 'PRODUCT_PORT', order: 'ORDER_PORT', user: 'USER_PORT', recommendation: 'RECOMMENDATION_PORT', notification: 'NOTIFICATION_PORT', projector: 'PROJECTOR_PORT' };

/** Starts one role in its own process on a free port and waits until its `/health/ready` answers 200. */
export async function startRoleProcess(role: Role, env: Record<string, string>, options: { forwardStderr?: boolean } = {}): Promise<RoleProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'launcher/embedded.ts', '--role', role], { env: { ...process.env, ...env, [PORT_VARIABLE[role]]: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-100_000);
    if (options.forwardStderr !== false) process.stderr.write(`[${role}:${port}] ${chunk}`);
  });
  const gone = () => hasExited(child);
  const stop = async () => void (await stopChild(child));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (gone()) throw new Error(`the ${role} process exited (${child.exitCode ?? child.signalCode}) during start-up:\n${stderr}`);
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the ${role} process was not ready within 90 s:\n${stderr}`);
    }
    await sleep(100);
  }
  return { role, baseUrl, child, stderr: () => stderr, stop };
}

export interface ScaledSystem {
  /** Gateway i sends product operations to product process i (modulo their number). */
  gateways: RoleProcess[];
  products: RoleProcess[];
  others: RoleProcess[];
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The system as separate role processes on one machine, sharing the file event log in one
 * DATA_DIR and the real servers `env` names (MONGODB_URL, REDIS_URL, KAFKA_BROKERS, NAMESPACE):
 * `products` product subgraph processes, one each of order, user, recommendation, notification and projector,
 * and `gateways` gateways (one per product process by default), gateway i in front of product
 * process i modulo their number (so a test can send product mutations to each of them).
 */
export async function startScaledSystem(env: Record<string, string>, options: { products: number; gateways?: number; forwardStderr?: boolean }): Promise<ScaledSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'storefront-scaled-'));
  const common = { DATA_DIR: dataDir, JWT_SECRET: randomBytes(32).toString('hex'), WEBHOOK_SECRET_KEYS: testWebhookSecretKeys(dataDir), PASSWORD_HASH_COST: '10', NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env };
  const started: RoleProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  };
  const start = async (role: Role, extra: Record<string, string> = {}) => {
    const p = await startRoleProcess(role, { ...common, ...extra }, options);
    started.push(p);
    return p;
  };
  try {
    const settled = await Promise.allSettled([...Array.from({ length: options.products }, () => start('product')), start('order'), start('user'), start('recommendation'), start('notification'), start('projector')]);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [products, others] = [started.filter((p) => p.role === 'product'), started.filter((p) => p.role !== 'product')];
    const url = (role: Role) => `${others.find((p) => p.role === role)!.baseUrl}/graphql`;
    const gateways: RoleProcess[] = [];
    for (let i = 0; i < (options.gateways ?? products.length); i++) {
      const product = products[i % products.length]!;
      gateways.push(await start('gateway', { PRODUCT_SUBGRAPH_URL: `${product.baseUrl}/graphql`, ORDER_SUBGRAPH_URL: url('order'), USER_SUBGRAPH_URL: url('user'), RECOMMENDATION_SUBGRAPH_URL: url('recommendation'), NOTIFICATION_SUBGRAPH_URL: url('notification'), RATE_LIMIT_PER_MINUTE: '1000000000' }));
    }
    return { gateways, products, others, dataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
