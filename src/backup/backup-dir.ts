/**
 * The backup directory: created 0700, refused when group or others can
 * enter it. Each backup is `<id>.pgwb` plus `<id>.manifest.json`; a backup
 * in progress is the hidden `.<id>.pgwb.tmp`, renamed only on success.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BackupError, ioError } from './backup-error.js';
import { BACKUP_FILE_SUFFIX, MANIFEST_SUFFIX } from './format/constants.js';

export const TEMP_SUFFIX = `${BACKUP_FILE_SUFFIX}.tmp`;

/** Creates the directory (0700) when missing; checks its mode when present. Returns its absolute path. */
export function ensureBackupDir(dir: string, create: boolean): string {
  const path = resolve(dir);
  if (create && !existsSync(path)) {
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw ioError(error, `creating the backup directory ${path}`);
    }
  }
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BackupError('PGW_BACKUP_NOT_FOUND', `The backup directory ${path} does not exist.`, {
        option: '--dir',
        fix: 'Pass the directory backups were written to.',
      });
    }
    throw ioError(error, `reading the backup directory ${path}`);
  }
  if (!stat.isDirectory()) {
    throw new BackupError('PGW_BACKUP_DIR_UNSAFE', `${path} is not a directory.`, {
      option: '--dir',
      fix: 'Point --dir at a directory.',
    });
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new BackupError(
      'PGW_BACKUP_DIR_UNSAFE',
      `The backup directory ${path} is accessible to group or others (mode ${(stat.mode & 0o777).toString(8)}).`,
      { option: '--dir', fix: `chmod 700 ${path}` },
    );
  }
  return path;
}

/** `20251122T101500Z-app-3f9c1a`: sorts by time, names the database, unique. */
export function newBackupId(database: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const name = database.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40) || 'db';
  return `${stamp}-${name}-${randomBytes(3).toString('hex')}`;
}

export interface BackupPaths {
  readonly dir: string;
  readonly id: string;
  readonly file: string;
  readonly manifest: string;
  readonly temp: string;
}

export function backupPaths(dir: string, id: string): BackupPaths {
  return {
    dir,
    id,
    file: join(dir, `${id}${BACKUP_FILE_SUFFIX}`),
    manifest: join(dir, `${id}${MANIFEST_SUFFIX}`),
    temp: join(dir, `.${id}${TEMP_SUFFIX}`),
  };
}
