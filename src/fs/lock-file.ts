/**
 * A lock file: created with O_EXCL (mode 0600), holding its owner's pid,
 * host and start time as one JSON line. Shared by the backup directory's
 * lock (fail fast) and the credential store's (wait and retry); each
 * decides how long to try and what its refusal says.
 *
 * A lock whose owner process is gone, on this host, is stale; a lock from
 * another host is never judged (its pid means nothing here). A stale lock is
 * taken over by renaming it aside, so of several processes that judged it
 * stale at once only one removes it, and a live lock that replaced it in the
 * meantime is put back.
 */
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

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** What the holder is doing (the backup lock's `create`, `cleanup`). */
  readonly command?: string;
}

/** How long a lock file without a readable holder counts as being written, not abandoned. */
const UNREADABLE_GRACE_MS = 60_000;

/**
 * Creates the lock at `path` with this process as its holder. False when
 * it exists already; any other failure is thrown as it came (the caller
 * gives it its code), with no file left behind.
 */
export function tryCreateLock(path: string, extra: { command?: string } = {}): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    ...extra,
  };
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } catch (error) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw error;
  }
  closeSync(fd);
  return true;
}

export function readLockHolder(path: string): LockHolder | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    return typeof info.pid === 'number' && typeof info.host === 'string' ? (info as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock `holder` was read from may be taken over (see the module comment). */
export function isLockStale(path: string, holder: LockHolder | undefined): boolean {
  if (holder) return holder.host === hostname() && !alive(holder.pid);
  // Unreadable: its writer died between create and write, or is writing now. Give it a minute.
  try {
    return Date.now() - statSync(path).mtimeMs > UNREADABLE_GRACE_MS;
  } catch {
    return true; // gone: nothing to take over, the next create decides
  }
}

/**
 * Removes the stale lock judged from `stale`, without removing a live one
 * that replaced it in the meantime: the file is renamed aside (atomic, so
 * only one taker wins), and linked back if what was renamed is not the
 * lock judged stale.
 */
export function takeOverStaleLock(path: string, stale: LockHolder | undefined): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // another taker moved it first
  }
  const moved = readLockHolder(aside);
  // (A holder now readable where none was: its writer was slow, not dead.)
  if (moved && (!stale || moved.pid !== stale.pid || moved.startedAt !== stale.startedAt)) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone locked again in between; the live lock we moved is lost, which is the rare race left.
    }
  }
  rmSync(aside, { force: true });
}

/**
 * The release of a lock this process created: removes the file while it is
 * still this process's, at the call or at the latest when the process exits.
 */
export function releaseOnExit(path: string): () => void {
  const onExit = () => release();
  const release = () => {
    process.removeListener('exit', onExit);
    if (readLockHolder(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  process.once('exit', onExit);
  return release;
}
