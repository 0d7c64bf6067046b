/**
 * What `verify` and `restore` are pointed at: a backup id (with a
 * directory), the path of a `.pgwb` file or of its manifest, or `latest`,
 * the newest complete backup of a directory.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { backupPaths, type BackupPaths } from './backup-dir.js';
import { BackupError } from './backup-error.js';
import { BACKUP_FILE_SUFFIX, MANIFEST_SUFFIX } from './format/constants.js';
import { listBackups, type BackupList } from './list.js';

/** The target that names the newest complete backup of `--dir`. */
export const LATEST = 'latest';

/**
 * The newest complete backup of `dir`, by the creation time its manifest
 * records: a readable manifest and a backup file of the size it states.
 * Backups in progress (hidden temporary files), files without a manifest,
 * manifests that do not parse and backups whose file is missing or
 * truncated are passed over. Backups of every database in the directory
 * count; a recorded verification result does not matter (`verify latest`
 * must look at the newest backup even when an earlier check failed).
 *
 * @throws BackupError `PGW_BACKUP_NOT_FOUND` when the directory holds none.
 */
export function latestBackup(dir: string): BackupPaths {
  const list = listBackups(dir);
  const newest = list.backups.find(
    (b) => b.status === 'ok' && b.manifest.file === `${b.id}${BACKUP_FILE_SUFFIX}`,
  );
  if (!newest) {
    throw new BackupError(
      'PGW_BACKUP_NOT_FOUND',
      `No complete backup in ${list.dir} (latest)${passedOver(list)}.`,
      {
        option: '--dir',
        fix: 'Run `pgwarden backup create --dir DIR` first, or check the directory with `pgwarden backup list --dir DIR`.',
      },
    );
  }
  return backupPaths(list.dir, newest.id);
}

/** What the directory holds that is not a complete backup, for the error message. */
function passedOver(list: BackupList): string {
  const counts = new Map<string, number>();
  const add = (what: string): void => void counts.set(what, (counts.get(what) ?? 0) + 1);
  for (const b of list.backups) add(b.status === 'file-missing' ? 'manifest without its file' : 'truncated');
  for (const p of list.problems) {
    add(
      p.kind === 'temp-file'
        ? 'in progress or interrupted'
        : p.kind === 'orphan-file'
          ? 'file without a manifest'
          : 'unreadable manifest',
    );
  }
  if (counts.size === 0) return '';
  return `; passed over: ${[...counts].map(([what, n]) => `${n} ${what}`).join(', ')}`;
}

/**
 * Finds a backup from an id (with `dir`), `latest` (with `dir`), the path of
 * its `.pgwb` file or of its manifest. The manifest may be missing (the
 * caller decides whether that is acceptable); the backup file may not.
 */
export function locateBackup(target: string, dir: string | undefined): BackupPaths {
  let paths: BackupPaths;
  if (target.endsWith(BACKUP_FILE_SUFFIX) || target.endsWith(MANIFEST_SUFFIX) || target.includes('/')) {
    const absolute = resolve(target);
    const name = basename(absolute);
    const id = name.endsWith(MANIFEST_SUFFIX)
      ? name.slice(0, -MANIFEST_SUFFIX.length)
      : name.endsWith(BACKUP_FILE_SUFFIX)
        ? name.slice(0, -BACKUP_FILE_SUFFIX.length)
        : name;
    paths = backupPaths(dirname(absolute), id);
  } else {
    if (!dir) {
      throw new BackupError(
        'PGW_BACKUP_NOT_FOUND',
        target === LATEST
          ? '"latest" names the newest backup of a directory, but no directory was given.'
          : `"${target}" is a backup id, but no directory was given.`,
        {
          option: '--dir',
          fix: 'Pass --dir with the backup directory, or give the path of the .pgwb file.',
        },
      );
    }
    if (target === LATEST) return latestBackup(dir);
    paths = backupPaths(resolve(dir), target);
  }
  if (!existsSync(paths.file)) {
    throw new BackupError('PGW_BACKUP_NOT_FOUND', `No backup file ${paths.file} exists.`, {
      fix: 'Check the id with `pgwarden backup list --dir DIR`, give the path of the .pgwb file, or use `latest`.',
    });
  }
  return paths;
}
