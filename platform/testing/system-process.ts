import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasExited, killChild, stopChild } from './child-process.js';
import { testWebhookSecretKeys } from './test-config.js';

/**
 * A port no one listens on, for a child process to listen on. It is taken from below the kernel's
 * ephemeral range (`ip_local_port_range`): a port from that range, free when checked, can be taken
 * as the source port of any outgoing connection (a Kafka or Redis client of a test running beside
 * this one) before the child binds it — CI saw `EADDRINUSE` that way. Ports handed out by this
 * process are not handed out again.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

const handedOut = new Set<number>();

function portRange(): [number, number] {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: the IANA ephemeral range starts at 49152, so 32768 is below it too
  }
  return [Math.max(1_024, ephemeralLow - 12_000), ephemeralLow];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

export interface SystemProcess {
  gatewayUrl: string;
  productUrl: string;
  orderUrl: string;
  userUrl: string;
  recommendationUrl: string;
  notificationUrl: string;
  /** The projector's HTTP base (`/projections`, `/metrics`, `/health/*`). */
  projectorUrl: string;
  dataDir: string;
  child: ChildProcess;
  /** SIGTERM (SIGKILL after 15 s); removes the data directory unless it was given in the options. */
  stop(): Promise<void>;
  /** kill -9: no shutdown at all; resolves once the process is gone. Keeps the data directory. */
  kill(): Promise<void>;
  /** The last 100 kB the child wrote to stderr (its log at LOG_LEVEL, warn by default). */
  stderr(): string;
  /** What the child wrote to stdout (its JSON log lines), when `captureStdout` was asked for; else empty. */
  stdout(): string;
}

export interface SystemProcessOptions {
  /** Run on this data directory (kept when the system stops) instead of a fresh one: to start a system again on the same event log. */
  dataDir?: string;
  /**
   * What to wait for before resolving: `gateway` (the default) until the gateway answers a catalog
   * query with at least one product; `projector` until the projector's `/projections` answers;
   * `none` not at all (the process is spawned).
   */
  waitFor?: 'gateway' | 'projector' | 'none';
  /** Copy the child's stderr to this process's stderr (the default). */
  forwardStderr?: boolean;
  /** Node options for the child (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  nodeArgs?: readonly string[];
  /** Keep what the child writes to stdout (its log lines; at most the last 64 MB), for `stdout()`. */
  captureStdout?: boolean;
}

/** Server variables a child system must not inherit from the caller's environment. */
const SERVER_VARIABLES = ['EVENTSTORE_URL', 'MONGODB_URL', 'REDIS_URL', 'KAFKA_BROKERS'] as const;

/**
 * Starts `npm start`'s launcher in its own process (so the load generator does not share its
 * event loop), on free ports and a fresh data directory (or the one given), and waits until the
 * gateway answers (or what `options.waitFor` names).
 * It runs on the embedded adapters unless `env` names servers: a shell that sourced
 * scripts/servers/env.sh does not silently turn an "embedded" run into a real-server one.
 */
export async function startSystemProcess(env: Record<string, string> = {}, options: SystemProcessOptions = {}): Promise<SystemProcess> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'storefront-bench-'));
  const [gateway, product, order, user, recommendation, notification, projector] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'launcher/embedded.ts'], {
    env: { ...withoutServers(process.env), PORT: String(gateway), PRODUCT_PORT: String(product), ORDER_PORT: String(order), USER_PORT: String(user), RECOMMENDATION_PORT: String(recommendation), NOTIFICATION_PORT: String(notification), PROJECTOR_PORT: String(projector), PASSWORD_HASH_COST: '10', JWT_SECRET: randomBytes(32).toString('hex'), WEBHOOK_SECRET_KEYS: testWebhookSecretKeys(dataDir), DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'production', ...env },
    stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout = (stdout + chunk).slice(-64_000_000);
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-100_000);
    if (options.forwardStderr !== false) process.stderr.write(chunk);
  });
  const gatewayUrl = `http://127.0.0.1:${gateway}/graphql`;
  const projectorUrl = `http://127.0.0.1:${projector}`;
  const gone = () => hasExited(child);
  const stop = async () => {
    await stopChild(child);
    if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const kill = () => killChild(child);
  const waitFor = options.waitFor ?? 'gateway';
  const up = async (): Promise<boolean> => {
    if (waitFor === 'projector') return (await fetch(`${projectorUrl}/projections`)).ok;
    const response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ products(first: 1) { totalCount } }' }) });
    const body = (await response.json()) as { data?: { products?: { totalCount: number } } };
    return (body.data?.products?.totalCount ?? 0) > 0;
  };
  const deadline = Date.now() + 60_000;
  while (waitFor !== 'none') {
    if (gone()) throw new Error(`the system exited (${child.exitCode ?? child.signalCode}) during start-up:\n${stderr}`);
    try {
      if (await up()) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the system did not become ready within 60 s (waiting for the ${waitFor}):\n${stderr}`);
    }
    await sleep(waitFor === 'projector' ? 20 : 200);
  }
  return { gatewayUrl, productUrl: `http://127.0.0.1:${product}/graphql`, orderUrl: `http://127.0.0.1:${order}/graphql`, userUrl: `http://127.0.0.1:${user}/graphql`, recommendationUrl: `http://127.0.0.1:${recommendation}/graphql`, notificationUrl: `http://127.0.0.1:${notification}/graphql`, projectorUrl, dataDir, child, stop, kill, stderr: () => stderr, stdout: () => stdout };
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

/**
 * A process's CPU time so far (user + system, ms) and its command name, from `/proc/<pid>/stat`
 * (clock ticks of 10 ms, USER_HZ on Linux); undefined once it has ended.
 */
export function processCpu(pid: number): { name: string; ms: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: (Number(fields[11]) + Number(fields[12])) * 10 }; // utime, stime
}

/** The CPU time (ms) a process has used so far; throws once it has ended. */
export function cpuMs(pid: number): number {
  const cpu = processCpu(pid);
  if (!cpu) throw new Error(`process ${pid} has ended`);
  return cpu.ms;
}
