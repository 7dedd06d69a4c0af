import { randomUUID } from 'node:crypto';
import { linkSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { link, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InfrastructureError } from '../errors.js';

/**
 * A holder on another machine (a shared volume) cannot be asked whether it lives: its lock is
 * taken as abandoned only when it is this old. A live holder keeps the lock for one write and
 * one fdatasync, milliseconds.
 */
const FOREIGN_STALE_MS = 30_000;
/** How long `acquire` waits for a live holder before it gives up with a coded error. */
const ACQUIRE_TIMEOUT_MS = 60_000;

/**
 * Tokens of the locks this process has open: a lock naming this process's pid but a token not
 * here was left by an earlier process that had the same pid (pid 1 in a restarted container).
 */
const liveTokens = new Set<string>();

interface Holder {
  pid: number;
  host: string;
  token: string;
}

/**
 * The cross-process mutex for appends to one event log directory, for processes on one machine.
 *
 * Node has no flock/fcntl, so the lock is a file, `append.lock`, holding `pid host token`:
 * - taking it is `link(own file, append.lock)`, atomic and failing if the lock exists, and the
 *   content is there from the first instant (no empty lock from a holder killed after a create);
 * - giving it back is unlinking it; nobody else touches a live holder's lock;
 * - a lock whose holder is dead is taken over under a second exclusive file named after that
 *   holder's token (`append.lock.takeover-<token>`): the one process that creates it checks
 *   that the lock still names the dead holder and renames its own file over it. Two processes
 *   cannot both take over the same dead holder's lock, and a fresh lock is never removed.
 * What this does not cover: a process killed while it holds a takeover file leaves that file
 * behind; it is removed when its own writer is seen dead, without the same protection (a crash
 * during a takeover, followed by a race of two takers, in the same millisecond).
 */
export class AppendLock {
  private readonly content: string;
  private held = false;

  private constructor(
    private readonly lockPath: string,
    private readonly ownPath: string,
    private readonly token: string,
  ) {
    this.content = `${process.pid} ${hostname()} ${token}`;
  }

  /** One per open store: writes the store's own file, which `acquire` links into place. */
  static async create(dir: string): Promise<AppendLock> {
    const token = randomUUID();
    const lock = new AppendLock(join(dir, 'append.lock'), join(dir, `append.lock.${token}`), token);
    await writeFile(lock.ownPath, lock.content, { flag: 'wx' });
    liveTokens.add(token);
    await lock.removeLeftovers(dir);
    return lock;
  }

  /** Own files of processes that died (killed, so they never disposed of them). */
  private async removeLeftovers(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      if (!/^append\.lock\.[0-9a-f-]{36}(\.take)?$/.test(name)) continue;
      const holder = await this.readHolder(join(dir, name));
      if (holder !== 'gone' && holder !== 'unreadable' && (await isAbandoned(holder, join(dir, name)))) await unlinkIfThere(join(dir, name));
    }
  }

  /**
   * Waits until this process holds the lock (polling a live holder: 1 ms, growing to 5 ms).
   * The uncontended case is one synchronous link(): a few microseconds on the event loop, where
   * a trip through libuv's thread pool would cost an append without fsync its throughput.
   */
  async acquire(): Promise<void> {
    if (this.held) throw new Error('append lock is already held by this store');
    try {
      linkSync(this.ownPath, this.lockPath);
      this.held = true;
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const deadline = Date.now() + ACQUIRE_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await link(this.ownPath, this.lockPath);
        this.held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const seen = await this.readHolder(this.lockPath);
      if (seen === 'gone') continue;
      if (seen === 'unreadable' || !(await isAbandoned(seen, this.lockPath))) {
        if (Date.now() > deadline) {
          const who = seen === 'unreadable' ? 'another process' : `process ${seen.pid} on ${seen.host}`;
          throw new InfrastructureError('event store', this.lockPath, `the append lock has been held by ${who} for over ${ACQUIRE_TIMEOUT_MS / 1000} s`);
        }
        await pause(attempt);
        continue;
      }
      if (await this.takeOver(seen)) {
        this.held = true;
        return;
      }
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    unlinkSync(this.lockPath);
  }

  /** Gives the lock back if held and removes this store's own file. */
  async dispose(): Promise<void> {
    this.release();
    liveTokens.delete(this.token);
    await unlink(this.ownPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  private async takeOver(dead: Holder): Promise<boolean> {
    const marker = `${this.lockPath}.takeover-${dead.token}`;
    try {
      await writeFile(marker, this.content, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const taker = await this.readHolder(marker);
      if (taker !== 'gone' && (taker === 'unreadable' || (await isAbandoned(taker, marker)))) await unlinkIfThere(marker);
      await pause(0);
      return false;
    }
    try {
      const now = await this.readHolder(this.lockPath);
      if (now === 'gone' || now === 'unreadable' || now.token !== dead.token) return false; // someone was faster
      const fresh = `${this.ownPath}.take`;
      await writeFile(fresh, this.content);
      await rename(fresh, this.lockPath);
      return true;
    } finally {
      await unlinkIfThere(marker);
    }
  }

  private async readHolder(path: string): Promise<Holder | 'gone' | 'unreadable'> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw error;
    }
    const [pid, host, token] = text.trim().split(' ');
    if (!pid || !host || !token || !Number.isInteger(Number(pid))) return 'unreadable';
    return { pid: Number(pid), host, token };
  }
}

async function isAbandoned(holder: Holder, path: string): Promise<boolean> {
  if (holder.host !== hostname()) {
    // link() and rename() set the inode's change time: the moment the lock was taken.
    const changed = await stat(path).then(
      (s) => s.ctimeMs,
      () => Date.now(),
    );
    return Date.now() - changed > FOREIGN_STALE_MS;
  }
  if (holder.pid === process.pid) return !liveTokens.has(holder.token);
  return !isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

function pause(attempt: number): Promise<void> {
  if (attempt < 4) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, Math.min(5, attempt - 3)));
}
