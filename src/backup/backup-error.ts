import { PgwardenError, type ErrorCode, type PgwardenErrorOptions } from '../errors.js';

/** The codes of the backup area (`PGW_BACKUP_*`). */
export type BackupErrorCode = Extract<ErrorCode, `PGW_BACKUP_${string}`>;

/**
 * Errors of `pgwarden backup`. Corruption (`PGW_BACKUP_CORRUPT`) and a wrong
 * key (`PGW_BACKUP_WRONG_KEY`) are distinct codes on purpose: the first means
 * the backup is lost or tampered with, the second that the operator should
 * find the right key.
 */
export class BackupError extends PgwardenError {
  constructor(code: BackupErrorCode, message: string, options: PgwardenErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Shorthand for the most frequent error: an integrity failure. */
export function corrupt(message: string, fix?: string): BackupError {
  return new BackupError('PGW_BACKUP_CORRUPT', message, {
    fix:
      fix ??
      'Do not restore from this copy: use another backup or a replica of this one, and find out how it was altered (storage, transfer, tampering).',
  });
}

/** Maps a file-system error while writing to NO_SPACE or IO_FAILED. */
export function ioError(error: unknown, what: string): BackupError {
  if (error instanceof PgwardenError) return error as BackupError;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BackupError('PGW_BACKUP_NO_SPACE', `No space left on the device while writing ${what}.`, {
      fix: 'Free space in the backup directory (pgwarden backup cleanup) or point --dir at a larger volume.',
      cause: error,
    });
  }
  return new BackupError(
    'PGW_BACKUP_IO_FAILED',
    `${what}: ${(error as Error)?.message ?? String(error)}${code ? ` (${code})` : ''}.`,
    { fix: 'Check the path, its permissions and the health of the disk.', cause: error },
  );
}
