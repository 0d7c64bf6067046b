/**
 * A lock file per backup directory, so a cron or timer run that overlaps the
 * previous one (or a cleanup during a create) fails fast instead of racing.
 * A lock left by a dead process on this host is taken over, one held by a
 * live process (or another host) is not (src/fs/lock-file.ts).
 */
import { join } from 'node:path';
import {
  isLockStale,
  readLockHolder,
  releaseOnExit,
  takeOverStaleLock,
  tryCreateLock,
} from '../fs/lock-file.js';
import { BackupError, ioError } from './backup-error.js';

export const LOCK_FILE = '.pgwarden-backup.lock';

export interface BackupLock {
  readonly path: string;
  release(): void;
}

export function acquireLock(dir: string, command: string): BackupLock {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let created: boolean;
    try {
      created = tryCreateLock(path, { command });
    } catch (error) {
      throw ioError(error, `creating the lock file ${path}`);
    }
    if (created) return { path, release: releaseOnExit(path) };
    const holder = readLockHolder(path);
    if (attempt === 0 && isLockStale(path, holder)) {
      takeOverStaleLock(path, holder);
      continue;
    }
    throw new BackupError(
      'PGW_BACKUP_LOCKED',
      holder
        ? `Another run (${holder.command ?? 'unknown command'}, pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}) holds ${path}.`
        : `${path} is held by another run.`,
      {
        fix: 'Let it finish (a schedule should not start runs closer together than a run takes); if no such process exists, remove the lock file.',
      },
    );
  }
  throw new BackupError('PGW_BACKUP_LOCKED', `${path} could not be taken.`, { fix: 'Retry.' });
}
