import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface SystemProcess {
  gatewayUrl: string;
  productUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Server variables a child system must not inherit from the caller's environment. */
const SERVER_VARIABLES = ['EVENTSTORE_URL', 'MONGODB_URL', 'REDIS_URL', 'KAFKA_BROKERS'] as const;

/**
 * Starts `npm start`'s launcher in its own process (so the load generator does not share its
 * event loop), on free ports and a fresh data directory, and waits until the gateway answers.
 * It runs on the embedded adapters unless `env` names servers: a shell that sourced
 * scripts/servers/env.sh does not silently turn an "embedded" run into a real-server one.
 */
export async function startSystemProcess(env: Record<string, string> = {}): Promise<SystemProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'storefront-bench-'));
  const [gateway, product, order, user, projector] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'launcher/embedded.ts'], {
    env: { ...withoutServers(process.env), PORT: String(gateway), PRODUCT_PORT: String(product), ORDER_PORT: String(order), USER_PORT: String(user), PROJECTOR_PORT: String(projector), PASSWORD_HASH_COST: '10', JWT_SECRET: randomBytes(32).toString('hex'), DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    process.stderr.write(chunk);
  });
  const gatewayUrl = `http://127.0.0.1:${gateway}/graphql`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the system exited with code ${child.exitCode} during start-up:\n${stderr}`);
    try {
      const response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ products(first: 1) { totalCount } }' }) });
      const body = (await response.json()) as { data?: { products?: { totalCount: number } } };
      if ((body.data?.products?.totalCount ?? 0) > 0) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the system did not become ready within 60 s');
    }
    await sleep(200);
  }
  return { gatewayUrl, productUrl: `http://127.0.0.1:${product}/graphql`, child, stop };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const fmt = (n: number, digits = 2) => n.toFixed(digits);

function withoutServers(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SERVER_VARIABLES) delete copy[name];
  return copy;
}
