import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A private instance of a real server (started with the project's scripts/servers scripts on its
 * own ports and run directory), for tests that stop and restart it without disturbing the shared
 * servers other suites use. Stopped by PID through stop.sh, never by name.
 */
export class OwnServer {
  private readonly runDir = OwnServer.makeRunDir();

  /** Reachable by the `postgres` user: FerretDB's private PostgreSQL runs as that user when the tests run as root. */
  private static makeRunDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'own-server-'));
    chmodSync(dir, 0o755);
    return dir;
  }

  constructor(
    private readonly name: 'redis' | 'kafka' | 'ferretdb' | 'prometheus' | 'mailpit',
    private readonly ports: Record<string, string>,
  ) {}

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.ports, STOREFRONT_RUN: this.runDir, STOP_TIMEOUT: '30' };
  }

  async start(): Promise<void> {
    await run('bash', ['scripts/servers/start.sh', this.name], { env: this.env, timeout: 180_000 });
  }

  async stop(): Promise<void> {
    await run('bash', ['scripts/servers/stop.sh', this.name], { env: this.env, timeout: 60_000 });
  }

  /** The server's process id, from the pid file its start script wrote. */
  private pid(): number {
    const pid = Number(readFileSync(join(this.runDir, `${this.name}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid for the private ${this.name}`);
    return pid;
  }

  /** Freezes the server (SIGSTOP): it keeps its connections and answers nothing, as a hung server does. */
  pause(): void {
    process.kill(this.pid(), 'SIGSTOP');
  }

  resume(): void {
    process.kill(this.pid(), 'SIGCONT');
  }

  async dispose(): Promise<void> {
    try {
      this.resume(); // a frozen server cannot stop
    } catch {
      // not running
    }
    await this.stop().catch(() => undefined);
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
