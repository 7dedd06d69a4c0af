import type { ChildProcess } from 'node:child_process';

/** True once the child has exited (by itself or by a signal). */
export const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/**
 * Stops a child the way an operator would: SIGTERM (a graceful shutdown), then SIGKILL if it is
 * still there after `graceMs`. Resolves with its exit code, or the signal that ended it.
 */
export function stopChild(child: ChildProcess, graceMs = 15_000): Promise<number | NodeJS.Signals | null> {
  if (hasExited(child)) return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
    child.kill('SIGTERM');
  });
}

/** Kills the child at once (SIGKILL: no shutdown, as a crash) and waits until it is gone. */
export function killChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
