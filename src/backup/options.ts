/** Option checks shared by the backup operations; each error names the option. */
import type { Env } from '../config/env-source.js';
import type { ConfigOptions } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { BackupError } from './backup-error.js';
import { COMPRESSIONS, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, type Compression } from './format/constants.js';
import type { KeySource } from './keys/key-source.js';
import type { BackupKeyOptions } from './keys/select.js';

/** How to reach the database, resolved exactly as `createPool()` resolves it. */
export interface ConnectionInput {
  /** Connection options (`url`, `host`, `sslMode`, …); unset ones come from DATABASE_URL, DB_*, PG*. */
  connection?: ConfigOptions;
  /** Environment to read instead of `process.env` (also the base of pg_dump's environment). */
  env?: Env;
}

export function isKeySource(value: BackupKeyOptions | KeySource): value is KeySource {
  // `value` may be missing in a JavaScript caller: that is "no key source", reported by the key selection.
  return typeof (value as KeySource | undefined)?.createDataKey === 'function';
}

export function checkCompression(value: string): Compression {
  if (!(COMPRESSIONS as readonly string[]).includes(value)) {
    throw new ConfigError(
      'PGW_CONFIG_INVALID',
      `Compression "${value}" is not one of ${COMPRESSIONS.join(', ')}.`,
      {
        option: '--compress',
        fix: 'Use zstd-frames (the default where Node has zstd), brotli (the default elsewhere), gzip, none, or zstd (pg_dump 16+ compresses).',
      },
    );
  }
  return value as Compression;
}

export function checkInteger(value: number, option: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      'PGW_CONFIG_INVALID',
      `${option} must be an integer from ${min} to ${max}, got ${value}.`,
      {
        option,
        fix: `Pass ${option} between ${min} and ${max}.`,
      },
    );
  }
  return value;
}

export function checkChunkSize(value: number): number {
  checkInteger(value, 'chunkSize', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  return value;
}

export function checkRetentionClass(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(value)) {
    throw new ConfigError(
      'PGW_CONFIG_INVALID',
      `Retention class "${value}" must be 1-32 letters, digits, "_" or "-".`,
      {
        option: '--retention-class',
        fix: 'Use a short name such as daily, weekly or monthly.',
      },
    );
  }
  return value;
}

export function interrupted(what: string): BackupError {
  return new BackupError(
    'PGW_BACKUP_INTERRUPTED',
    `The ${what} was interrupted; partial files were removed.`,
    {
      fix: 'Run it again.',
    },
  );
}

/** Rejects with INTERRUPTED as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(interrupted(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
