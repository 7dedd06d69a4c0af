import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('a process shutting down', () => {
  it('exits within SHUTDOWN_TIMEOUT_SECONDS of a SIGTERM even when stopping hangs, saying so', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'platform/testing/fixtures/hanging-process.ts'], { env: { ...process.env, SHUTDOWN_TIMEOUT_SECONDS: '1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => output.includes('started') && resolve());
      child.once('exit', () => reject(new Error(`exited before it started: ${output}`)));
    });
    const signalled = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const seconds = (Date.now() - signalled) / 1000;
    expect(code).toBe(1);
    expect(seconds).toBeGreaterThanOrEqual(0.9);
    expect(seconds).toBeLessThan(5);
    expect(output).toMatch(/shutdown did not finish in time; exiting/);
  });
});
