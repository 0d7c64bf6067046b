/**
 * Reads a key or passphrase file the way libpq reads a client key: refused
 * when group or others may read it (0640 is tolerated for root-owned files).
 */
import { readFileSync, statSync } from 'node:fs';
import { BackupError } from '../backup-error.js';
import { Secret } from '../../redact/secret.js';

export function readSecretFile(path: string, option: string, what: string): Secret {
  let mode: number;
  let uid: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    mode = stat.mode;
    uid = stat.uid;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BackupError(
      'PGW_BACKUP_KEY_INVALID',
      `The ${what} ${path} (${option}) ${code === 'ENOENT' ? 'does not exist' : 'cannot be read'}.`,
      { option, fix: `Point ${option} at the ${what}.`, cause: error },
    );
  }
  const ownedByUs = typeof process.getuid === 'function' && uid === process.getuid();
  const tooOpen = ownedByUs || uid !== 0 ? (mode & 0o077) !== 0 : (mode & 0o037) !== 0;
  if (tooOpen) {
    throw new BackupError(
      'PGW_BACKUP_KEY_PERMISSIONS',
      `The ${what} ${path} (${option}) is accessible to group or others (mode ${(mode & 0o777).toString(8)}).`,
      { option, fix: `chmod 600 ${path}` },
    );
  }
  try {
    return new Secret(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new BackupError('PGW_BACKUP_KEY_INVALID', `The ${what} ${path} (${option}) cannot be read.`, {
      option,
      fix: `Make ${path} readable by the user running pgwarden.`,
      cause: error,
    });
  }
}
