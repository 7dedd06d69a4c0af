import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  private readonly runDir = mkdtempSync(join(tmpdir(), 'own-server-'));

  constructor(
    private readonly name: 'redis' | 'kafka',
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

  async dispose(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
