import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ConfigError } from '../platform/config.js';

/**
 * `npm start -- --role <role>[,<role>…]`: one service per process, each the entry point docker
 * compose runs (so there is one wiring per service, here and there). Without `--role`, `npm start`
 * runs the whole system in one process.
 */
export const ROLES = {
  gateway: () => import('../gateway/index.js'),
  product: () => import('../subgraphs/product/index.js'),
  order: () => import('../subgraphs/order/index.js'),
  user: () => import('../subgraphs/user/index.js'),
  recommendation: () => import('../subgraphs/recommendation/index.js'),
  notification: () => import('../subgraphs/notification/index.js'),
  projector: () => import('../projections/index.js'),
} as const;

export type Role = keyof typeof ROLES;

const isRole = (name: string): name is Role => Object.hasOwn(ROLES, name);

/** The roles asked for on the command line; empty when none (the whole system in one process). */
export function parseRoles(args: readonly string[]): Role[] {
  let values: { role?: string };
  try {
    ({ values } = parseArgs({ args: [...args], options: { role: { type: 'string' } }, strict: true }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}; usage: npm start [-- --role ${Object.keys(ROLES).join('|')}[,…]]`);
  }
  if (values.role === undefined) return [];
  const names = values.role.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const unknown = names.filter((n) => !isRole(n));
  if (names.length === 0 || unknown.length > 0) throw new ConfigError(`--role takes ${Object.keys(ROLES).join('|')} (comma-separated for several); got ${JSON.stringify(values.role)}`);
  return [...new Set(names)] as Role[];
}

/**
 * The servers that separate processes share their state through. A service process on the
 * embedded adapters would keep its read models, notifications and integration events to itself
 * (the projector's read models unseen by the subgraphs, the saga's messages by the other side).
 * The event store may stay embedded: the file log in DATA_DIR takes several processes on one
 * machine. The gateway holds no such state (it finds the subgraphs by *_SUBGRAPH_URL).
 */
export function checkRoleServers(roles: readonly Role[], env: NodeJS.ProcessEnv): void {
  if (roles.every((r) => r === 'gateway')) return;
  const missing = ['MONGODB_URL', 'REDIS_URL', 'KAFKA_BROKERS'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(`--role ${roles.join(',')} needs MONGODB_URL, REDIS_URL and KAFKA_BROKERS (missing ${missing.join(', ')}): separate processes share read models, live notifications and integration events only through those servers; without them run \`npm start\` alone (everything in one process)`);
  }
}

/** One role: its entry point runs in this process (it reads the configuration and handles signals). */
export async function runRole(role: Role): Promise<void> {
  await ROLES[role]();
}

/**
 * Several roles: one child process each (this launcher again, with one role), sharing this
 * terminal. A signal is passed on to every child; when one child ends on its own the others are
 * stopped, and the launcher exits with the first failure's status.
 */
export function runRoles(roles: readonly Role[]): void {
  const children = new Map<Role, ChildProcess>();
  let exitCode = 0;
  let stopping = false;
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const role of roles) {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--role', role], { stdio: 'inherit' });
    children.set(role, child);
    child.once('exit', (code, signal) => {
      children.delete(role);
      if (exitCode === 0 && code !== 0) exitCode = code ?? 1;
      if (!stopping) {
        console.error(`storefront: the ${role} process ended (${signal ?? `exit ${code}`}); stopping the others`);
        if (exitCode === 0) exitCode = 1;
        stopAll('SIGTERM');
      }
      if (children.size === 0) process.exit(exitCode);
    });
  }
  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
}
