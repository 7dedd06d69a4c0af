import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { withAllServers } from '../platform/testing/servers.js';
import { stopChild } from '../platform/testing/child-process.js';
import { freePort } from '../platform/testing/system-process.js';

// `npm start -- --role …`: one service per process (launcher/roles.ts).

const SERVERS = ['EVENTSTORE_URL', 'MONGODB_URL', 'REDIS_URL', 'KAFKA_BROKERS'];
const withoutServers = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !SERVERS.includes(name)));

function launch(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'launcher/embedded.ts', ...args], { env, timeout: 30_000 }, (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }));
  });
}

/** A launcher still running when a test ends (a timed-out test never reaches its `finally`): SIGTERM, which it passes on to its children. */
let launched: ChildProcess | undefined;
afterEach(async () => {
  const launcher = launched;
  launched = undefined;
  if (launcher) await stopChild(launcher);
}, 20_000);

describe('npm start -- --role', () => {
  it('refuses a service role without the shared servers, in one line naming what is missing', async () => {
    const { code, stderr } = await launch(['--role', 'product'], { ...withoutServers(), REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr.trim()).toMatch(/^storefront: --role product needs MONGODB_URL, REDIS_URL and KAFKA_BROKERS \(missing MONGODB_URL, KAFKA_BROKERS\)/);
  });

  it('refuses an unknown role and an unknown option, in one line each', async () => {
    const unknown = await launch(['--role', 'product,warehouse'], withoutServers());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('storefront: --role takes gateway|product|order|user|recommendation|notification|projector (comma-separated for several); got "product,warehouse"');
    const option = await launch(['--rol', 'product'], withoutServers());
    expect(option.code).toBe(1);
    expect(option.stderr.trim().split('\n')).toHaveLength(1);
    expect(option.stderr).toMatch(/^storefront: Unknown option '--rol'/);
  });

  withAllServers('a list of roles on the real servers', (servers) => {
    it('runs each role of a list in its own process on its port, and stops them all on SIGTERM (exit 0)', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'roles-'));
      const [orderPort, userPort] = [await freePort(), await freePort()];
      const launcher = spawn(process.execPath, ['--import', 'tsx', 'launcher/embedded.ts', '--role', 'order,user'], {
        env: { ...process.env, ...servers, DATA_DIR: dataDir, ORDER_PORT: String(orderPort), USER_PORT: String(userPort), JWT_SECRET: randomBytes(32).toString('hex'), NODE_ENV: 'production', LOG_LEVEL: 'warn', PASSWORD_HASH_COST: '10' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      launched = launcher;
      const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
      try {
        const ready = async (port: number) => fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
        const deadline = Date.now() + 60_000;
        while (!((await ready(orderPort)) && (await ready(userPort)))) {
          expect(launcher.exitCode).toBeNull();
          expect(Date.now()).toBeLessThan(deadline);
          await sleep(200);
        }
        // Two processes, children of the launcher (Linux lists a process's children in /proc).
        const children = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim().split(/\s+/);
        expect(children).toHaveLength(2);
        launcher.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(await ready(orderPort)).toBe(false);
        expect(await ready(userPort)).toBe(false);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }, 120_000);
  });
});
