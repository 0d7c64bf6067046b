/**
 * Key files: 32 random bytes, base64, in a file only its owner can read.
 * The key is a key-encryption key: it wraps each backup's own data key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { BackupError, corrupt } from '../backup-error.js';
import { KEY_LENGTH } from '../format/constants.js';
import type { KeyWrap } from '../format/header.js';
import { Secret } from '../../redact/secret.js';
import { unwrapKey, wrapKey } from './aes-wrap.js';
import type { KeySource, WrappedDataKey } from './key-source.js';
import { isPrivateEnough, readSecretFileSync } from '../../secrets/secret-file.js';

const STRICT_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * A public fingerprint of a key-encryption key: a domain-separated SHA-256,
 * truncated. It tells "wrong key file" apart from "altered wrapped key"
 * without revealing anything usable about the key.
 */
export function keyFingerprint(kek: Buffer): string {
  return createHash('sha256').update('pgwarden-backup/1 key-id\0').update(kek).digest('hex').slice(0, 16);
}

/** Parses key-file contents: base64 of exactly 32 bytes, surrounding whitespace ignored. */
export function parseKeyFile(text: Secret, option: string): Buffer {
  const trimmed = text.reveal().trim();
  if (!STRICT_BASE64.test(trimmed)) {
    throw new BackupError(
      'PGW_BACKUP_KEY_INVALID',
      `The key file given by ${option} does not hold 32 bytes in base64 (44 characters ending in "=").`,
      {
        option,
        fix: 'Create one with `pgwarden backup keygen --out FILE` (or `openssl rand -base64 32 > FILE; chmod 600 FILE`).',
      },
    );
  }
  return Buffer.from(trimmed, 'base64');
}

/** Writes a new key file (mode 0600, never overwriting). Returns its fingerprint. */
export function generateKeyFile(path: string): string {
  const key = randomBytes(KEY_LENGTH);
  const text = new Secret(`${key.toString('base64')}\n`);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    const exists = (error as NodeJS.ErrnoException).code === 'EEXIST';
    throw new BackupError(
      'PGW_BACKUP_KEY_INVALID',
      exists ? `${path} already exists; a key file is never overwritten.` : `${path} cannot be created.`,
      {
        option: '--out',
        fix: exists ? 'Choose another path, or delete the old file deliberately.' : 'Check the directory.',
        cause: error,
      },
    );
  }
  try {
    writeSync(fd, text.reveal());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const id = keyFingerprint(key);
  key.fill(0);
  return id;
}

/**
 * Reads a key or passphrase file through the one secret-file reader
 * (src/secrets/secret-file.ts: fstat on the descriptor read, size bound),
 * with the backup's codes, and libpq's permission rule: refused when group
 * or others may read it (0640 is tolerated for root-owned files).
 */
export function readPrivateFile(path: string, option: string, what: string): Secret {
  const file = readSecretFileSync(path, {
    backend: 'backup',
    option,
    fail: (problem, detail) =>
      new BackupError(
        'PGW_BACKUP_KEY_INVALID',
        `The ${what} ${path} (${option}) ${
          problem === 'missing'
            ? 'does not exist'
            : problem === 'too-large'
              ? `is ${detail.size ?? '?'} bytes, too large for a ${what}`
              : problem === 'not-file' || problem === 'directory'
                ? 'is not a regular file'
                : 'cannot be read'
        }.`,
        {
          option,
          fix:
            problem === 'denied' || problem === 'unreadable'
              ? `Make ${path} readable by the user running pgwarden.`
              : `Point ${option} at the ${what}.`,
          ...(detail.cause === undefined ? {} : { cause: detail.cause }),
        },
      ),
  });
  if (!isPrivateEnough(file.mode, file.uid)) {
    throw new BackupError(
      'PGW_BACKUP_KEY_PERMISSIONS',
      `The ${what} ${path} (${option}) is accessible to group or others (mode ${file.mode.toString(8)}).`,
      { option, fix: `chmod 600 ${path}` },
    );
  }
  return new Secret(file.text);
}

export class KeyFileSource implements KeySource {
  readonly kind = 'key-file' as const;
  readonly description: string;
  readonly #kek: Buffer;
  readonly #keyId: string;

  /** Reads and checks the key file at once, so a bad file fails before any work. */
  constructor(path: string, option = '--key-file') {
    this.#kek = parseKeyFile(readPrivateFile(path, option, 'key file'), option);
    this.#keyId = keyFingerprint(this.#kek);
    this.description = `key file ${path} (key id ${this.#keyId})`;
  }

  get keyId(): string {
    return this.#keyId;
  }

  async createDataKey(backupId: string): Promise<WrappedDataKey> {
    const dataKey = randomBytes(KEY_LENGTH);
    return {
      dataKey,
      wrap: { type: 'key-file', keyId: this.#keyId, ...wrapKey(this.#kek, dataKey, backupId) },
    };
  }

  async openDataKey(wrap: KeyWrap, backupId: string): Promise<Buffer> {
    if (wrap.type !== 'key-file') throw new Error(`key-file source given a ${wrap.type} wrap`);
    if (wrap.keyId !== this.#keyId) {
      throw new BackupError(
        'PGW_BACKUP_WRONG_KEY',
        `This backup was encrypted with key file id ${wrap.keyId}; the ${this.description} is another key.`,
        { option: '--key-file', fix: `Pass the key file whose id is ${wrap.keyId}.` },
      );
    }
    const dataKey = unwrapKey(this.#kek, wrap.nonce, wrap.wrapped, backupId);
    // Same key id, yet the wrap does not open: the header was altered.
    if (!dataKey) throw corrupt('The wrapped data key in the backup header failed authentication.');
    return dataKey;
  }
}
