/**
 * One lock per credential-store directory, held around every
 * read-modify-write of credentials.json and credentials.enc, so concurrent
 * `pgwarden creds` processes (six `creds add` at once, an `add` racing a
 * `rotate`) each see the others' changes instead of overwriting them.
 * Writes were already atomic (temporary file and rename); what was missing
 * is that two writers read the same old content.
 *
 * The lock is a file created with O_EXCL (`.credentials.lock`, 0600,
 * holding the owner's pid, host and start time: src/fs/lock-file.ts).
 * Waiters poll with jitter until `timeoutMs`, then fail with
 * `PGW_CREDS_STORE_BUSY`; nothing has changed then. A lock whose owner
 * process is gone (same host) is taken over. Within one process the lock is
 * re-entrant along one async call chain (the store holds it while its file
 * backend takes it again).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isLockStale,
  readLockHolder,
  releaseOnExit,
  takeOverStaleLock,
  tryCreateLock,
} from '../fs/lock-file.js';
import { CredsError } from './creds-error.js';
import { ensurePrivateDir } from './metadata-file.js';

export const STORE_LOCK_FILE = '.credentials.lock';
/** Default wait for a lock held by another process: longer than any change takes, even with a scrypt derivation. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

const held = new AsyncLocalStorage<ReadonlySet<string>>();

function tryCreate(path: string): boolean {
  try {
    return tryCreateLock(path);
  } catch (error) {
    throw new CredsError('PGW_CREDS_STORE_WRITE_FAILED', `The lock file ${path} cannot be created.`, {
      option: 'PGWARDEN_HOME',
      fix: 'Check that PGWARDEN_HOME is a writable directory owned by you.',
      cause: error,
    });
  }
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
    const holder = readLockHolder(path);
    // Judged on every poll: an owner may die while we wait.
    if (isLockStale(path, holder)) {
      takeOverStaleLock(path, holder);
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
  const release = releaseOnExit(path);
  try {
    return await held.run(new Set([...(mine ?? []), path]), fn);
  } finally {
    release();
  }
}
