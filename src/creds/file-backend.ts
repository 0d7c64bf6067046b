/**
 * Passwords in one encrypted file, `$PGWARDEN_HOME/credentials.enc` (format:
 * src/secrets/encrypted-store-format.ts). Only used when chosen explicitly
 * (`--store file`), for machines without an OS keychain; pgwarden never
 * falls back to it on its own.
 *
 * Every change is a read-modify-write under the store lock
 * (src/creds/store-lock.ts): the file is re-read inside the lock, so a
 * concurrent process's change is kept, never overwritten with stale content.
 * The key is derived once per header and kept, and can be derived before the
 * lock is taken ({@link FileBackend.prepare}), so the lock is held for
 * milliseconds, not for a scrypt run.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Secret } from '../redact/secret.js';
import {
  decryptStore,
  DEFAULT_SCRYPT_COST,
  deriveStoreKey,
  EncryptedStoreFormatError,
  encryptStore,
  MIN_SCRYPT_COST,
  newStoreKdf,
  parseEncryptedStore,
  storeHeader,
  type EncryptedStoreFile,
  type StoreKdf,
} from '../secrets/encrypted-store-format.js';
import { PgwardenError } from '../errors.js';
import { CredsError } from './creds-error.js';
import { ensurePrivateDir, writeFileAtomic } from './metadata-file.js';
import type { PasswordBackend } from './password-backend.js';
import { withStoreLock, type StoreLockOptions } from './store-lock.js';

export { DEFAULT_SCRYPT_COST } from '../secrets/encrypted-store-format.js';
/** A new file's passphrase must be at least this long. */
export const MIN_PASSPHRASE_LENGTH = 12;

export interface EncryptedFileBackendOptions {
  /** The file. */
  path: string;
  /**
   * Supplies the passphrase when the file is first opened (a prompt,
   * `PGWARDEN_STORE_PASSPHRASE`…); `creating` is true when the file does not
   * exist yet, so a prompt can ask twice.
   */
  passphrase: PassphraseSource;
  /** scrypt cost N for a new file (a power of two, at least 2^14). Default 2^17. */
  scryptCost?: number;
  /** Waiting for another process's lock. Default: 30 s. */
  lock?: StoreLockOptions;
}

export type PassphraseSource = (context: { creating: boolean; path: string }) => Promise<Secret> | Secret;

/** The encrypted file backend; `prepare()` derives the key ahead of a locked change. */
export interface FileBackend extends PasswordBackend {
  prepare(): Promise<void>;
}

interface Unlocked {
  key: Buffer;
  kdf: StoreKdf;
  passwords: Map<string, Secret>;
}

export function createEncryptedFileBackend(options: EncryptedFileBackendOptions): FileBackend {
  const { path } = options;
  const cost = options.scryptCost ?? DEFAULT_SCRYPT_COST;
  if (!Number.isInteger(Math.log2(cost)) || cost < MIN_SCRYPT_COST) {
    throw new CredsError('PGW_CREDS_INVALID', 'scryptCost must be a power of two of at least 16384.', {
      option: 'scryptCost',
    });
  }
  // The passphrase is asked once per backend and the derived key kept for the
  // header it belongs to; the file itself is re-read on every call.
  let passphraseOnce: Promise<Secret> | undefined;
  let cachedKey: { header: string; key: Buffer } | undefined;
  /** The header a new file gets: fixed per backend, so prepare() and set() agree. */
  let newKdf: StoreKdf | undefined;

  async function getPassphrase(creating: boolean): Promise<Secret> {
    passphraseOnce ??= Promise.resolve()
      .then(() => options.passphrase({ creating, path }))
      .catch((error: unknown) => {
        passphraseOnce = undefined;
        // A coded error (a passphrase file group or others can read) already names its fix.
        if (error instanceof PgwardenError) throw error;
        throw new CredsError('PGW_CREDS_STORE_LOCKED', `The passphrase of ${path} could not be read.`, {
          option: 'PGWARDEN_STORE_PASSPHRASE_FILE',
          fix: 'Run on a terminal to be prompted, or set PGWARDEN_STORE_PASSPHRASE_FILE to a 0600 file holding it (or PGWARDEN_STORE_PASSPHRASE).',
          cause: error,
        });
      });
    const passphrase = await passphraseOnce;
    if (creating && passphrase.length < MIN_PASSPHRASE_LENGTH) {
      passphraseOnce = undefined;
      throw new CredsError(
        'PGW_CREDS_INVALID',
        `The passphrase of a new encrypted store must have at least ${MIN_PASSPHRASE_LENGTH} characters.`,
        { option: 'PGWARDEN_STORE_PASSPHRASE', fix: 'Choose a longer passphrase (a few random words).' },
      );
    }
    return passphrase;
  }

  async function keyFor(kdf: StoreKdf, creating: boolean): Promise<Buffer> {
    const id = storeHeader(kdf);
    if (cachedKey?.header === id) return cachedKey.key;
    let key: Buffer;
    try {
      key = await deriveStoreKey(await getPassphrase(creating), kdf);
    } catch (error) {
      if (error instanceof EncryptedStoreFormatError) throw malformed(path, error.message);
      throw error;
    }
    cachedKey = { header: id, key };
    return key;
  }

  async function unlock(): Promise<Unlocked> {
    const file = await readEncrypted(path);
    if (!file) {
      newKdf ??= newStoreKdf(cost);
      return { key: await keyFor(newKdf, true), kdf: newKdf, passwords: new Map() };
    }
    const key = await keyFor(file.kdf, false);
    let passwords: Map<string, Secret> | undefined;
    try {
      passwords = decryptStore(file, key);
    } catch (error) {
      if (error instanceof EncryptedStoreFormatError) throw malformed(path, error.message);
      throw error;
    }
    if (!passwords) {
      // A wrong passphrase must be asked again, not reused.
      cachedKey = undefined;
      passphraseOnce = undefined;
      throw new CredsError(
        'PGW_CREDS_STORE_LOCKED',
        `The passphrase of ${path} is wrong, or the file was altered.`,
        {
          option: 'PGWARDEN_STORE_PASSPHRASE',
          fix: 'Retry with the right passphrase; if the file was altered, restore it from a backup.',
        },
      );
    }
    return { key, kdf: file.kdf, passwords };
  }

  function save(state: Unlocked, passwords: Map<string, Secret>): void {
    ensurePrivateDir(dirname(path));
    writeFileAtomic(path, encryptStore(state.kdf, state.key, passwords));
  }

  const locked = <T>(fn: () => Promise<T>): Promise<T> => withStoreLock(dirname(path), fn, options.lock);

  return {
    kind: 'file',
    async prepare() {
      const file = await readEncrypted(path);
      if (file) await keyFor(file.kdf, false);
      else {
        newKdf ??= newStoreKdf(cost);
        await keyFor(newKdf, true);
      }
    },
    async get(environment) {
      if (!(await readEncrypted(path))) return undefined;
      return (await unlock()).passwords.get(environment);
    },
    set: (environment, password) =>
      locked(async () => {
        const state = await unlock();
        save(state, new Map([...state.passwords, [environment, password]]));
      }),
    delete: (environment) =>
      locked(async () => {
        if (!(await readEncrypted(path))) return false;
        const state = await unlock();
        if (!state.passwords.has(environment)) return false;
        const next = new Map(state.passwords);
        next.delete(environment);
        save(state, next);
        return true;
      }),
  };
}

async function readEncrypted(path: string): Promise<EncryptedStoreFile | undefined> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new CredsError('PGW_CREDS_METADATA_INVALID', `${path} is readable by group or others.`, {
        option: 'PGWARDEN_HOME',
        fix: `chmod 600 ${path}`,
      });
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof CredsError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredsError('PGW_CREDS_STORE_UNAVAILABLE', `${path} cannot be read.`, {
      option: 'PGWARDEN_HOME',
      fix: `Check that ${path} belongs to you and is readable.`,
      cause: error,
    });
  }
  try {
    return parseEncryptedStore(text);
  } catch (error) {
    if (error instanceof EncryptedStoreFormatError) throw malformed(path, error.message);
    throw error;
  }
}

function malformed(path: string, reason: string): CredsError {
  return new CredsError('PGW_CREDS_METADATA_INVALID', `${path}: ${reason}.`, {
    option: 'PGWARDEN_HOME',
    fix: 'Restore the file from a backup, or move it away and add the environments again.',
  });
}
