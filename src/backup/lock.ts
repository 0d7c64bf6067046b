/**
 * A lock file per backup directory, so a cron or timer run that overlaps the
 * previous one (or a cleanup during a create) fails fast instead of racing.
 * Created with O_EXCL; a lock left by a dead process on this host is taken
 * over, one held by a live process (or another host) is not.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BackupError, ioError } from './backup-error.js';

export const LOCK_FILE = '.pgwarden-backup.lock';

export interface BackupLock {
  readonly path: string;
  release(): void;
}

interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof info.pid === 'number' && typeof info.host === 'string' ? (info as LockInfo) : undefined;
  } catch {
    return undefined;
  }
}

function isStale(path: string, info: LockInfo | undefined): boolean {
  if (info) return info.host === hostname() && !alive(info.pid);
  // Unreadable: a writer died between create and write. Give a live writer a minute.
  try {
    return Date.now() - statSync(path).mtimeMs > 60_000;
  } catch {
    return true;
  }
}

export function acquireLock(dir: string, command: string): BackupLock {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw ioError(error, `creating the lock file ${path}`);
      const holder = readLock(path);
      if (attempt === 0 && isStale(path, holder)) {
        rmSync(path, { force: true });
        continue;
      }
      throw new BackupError(
        'PGW_BACKUP_LOCKED',
        holder
          ? `Another run (${holder.command}, pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}) holds ${path}.`
          : `${path} is held by another run.`,
        {
          fix: 'Let it finish (a schedule should not start runs closer together than a run takes); if no such process exists, remove the lock file.',
        },
      );
    }
    try {
      writeSync(fd, `${JSON.stringify(info)}\n`);
    } finally {
      closeSync(fd);
    }
    const onExit = () => release();
    const release = () => {
      process.removeListener('exit', onExit);
      if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
    };
    process.once('exit', onExit);
    return { path, release };
  }
  throw new BackupError('PGW_BACKUP_LOCKED', `${path} could not be taken.`, { fix: 'Retry.' });
}
