import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../platform/testing/system-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `npm run replay -- <args>` as the script does, and collects what it says and how it exits. */
function replay(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { ADMIN_TOKEN: _token, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'projections/replay.ts', ...args], { cwd: root, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the replay CLI', () => {
  it('says that the projector is not reachable, at which URL and why, and how to start it, when nothing listens', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await replay(['product-catalog'], { PROJECTOR_PORT: String(port) });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`replay: the projector is not reachable at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(stderr).toContain('npm start');
    expect(stderr).toContain('PROJECTOR_PORT');
    expect(stderr).not.toMatch(/fetch failed/);
  });
});
