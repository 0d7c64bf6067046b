/**
 * One lock per credential-store directory, held around every
 * read-modify-write of credentials.json and credentials.enc, so concurrent
 * `pgwarden creds` processes (six `creds add` at once, an `add` racing a
 * `rotate`) each see the others' changes instead of overwriting them.
 * Writes were already atomic (temporary file and rename); what was missing
 * is that two writers read the same old content.
 *
 * The lock is a file created with O_EXCL (`.credentials.lock`, 0600,
 * holding the owner's pid, host and start time). Waiters poll with jitter
 * until `timeoutMs`, then fail with `PGW_CREDS_STORE_BUSY`; nothing has
 * changed then. A lock whose owner process is gone (same host) is taken
 * over. Within one process the lock is re-entrant along one async call
 * chain (the store holds it while its file backend takes it again).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CredsError } from './creds-error.js';
import { ensurePrivateDir } from './metadata-file.js';

export const STORE_LOCK_FILE = '.credentials.lock';
/** Default wait for a lock held by another process: longer than any change takes, even with a scrypt derivation. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

const held = new AsyncLocalStorage<ReadonlySet<string>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof info.pid === 'number' && typeof info.host === 'string' ? (info as Holder) : undefined;
  } catch {
    return undefined;
  }
}

function isStale(path: string, holder: Holder | undefined): boolean {
  if (holder) return holder.host === hostname() && !alive(holder.pid);
  // Unreadable: a writer died between create and write, or is writing now. Give it a minute.
  try {
    return Date.now() - statSync(path).mtimeMs > 60_000;
  } catch {
    return false;
  }
}

/**
 * Removes a stale lock without removing a live one that replaced it in the
 * meantime: the lock is renamed away (atomic, so only one taker wins), and
 * put back if what was renamed is not the lock judged stale.
 */
function takeOver(path: string, stale: Holder | undefined): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // another waiter took it over first
  }
  const moved = readHolder(aside);
  if (stale && moved && (moved.pid !== stale.pid || moved.startedAt !== stale.startedAt)) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone locked again in between; the live lock we moved is lost, which is the rare race left.
    }
  }
  rmSync(aside, { force: true });
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new CredsError('PGW_CREDS_STORE_WRITE_FAILED', `The lock file ${path} cannot be created.`, {
      option: 'PGWARDEN_HOME',
      fix: 'Check that PGWARDEN_HOME is a writable directory owned by you.',
      cause: error,
    });
  }
  try {
    const holder: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

export interface StoreLockOptions {
  /** How long to wait for another process's lock. Default {@link DEFAULT_LOCK_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Runs `fn` holding the lock of the store directory `dir`. */
export async function withStoreLock<T>(
  dir: string,
  fn: () => Promise<T>,
  options: StoreLockOptions = {},
): Promise<T> {
  const path = join(dir, STORE_LOCK_FILE);
  const mine = held.getStore();
  if (mine?.has(path)) return fn();
  ensurePrivateDir(dir);
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  while (!tryCreate(path)) {
    const holder = readHolder(path);
    // Judged on every poll: an owner may die while we wait.
    if (isStale(path, holder)) {
      takeOver(path, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CredsError(
        'PGW_CREDS_STORE_BUSY',
        `The credential store in ${dir} is locked by another pgwarden process${holder ? ` (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})` : ''}; waited ${timeoutMs} ms and changed nothing.`,
        {
          option: 'PGWARDEN_HOME',
          fix: `Retry when the other command has finished; if no such process exists, remove ${path}.`,
        },
      );
    }
    await sleep(15 + Math.floor(Math.random() * 35));
  }
  const onExit = () => release();
  const release = () => {
    process.removeListener('exit', onExit);
    if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  process.once('exit', onExit);
  try {
    return await held.run(new Set([...(mine ?? []), path]), fn);
  } finally {
    release();
  }
}
