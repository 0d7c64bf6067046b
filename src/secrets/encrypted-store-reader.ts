/**
 * Reads one password from the encrypted credential store
 * (`$PGWARDEN_HOME/credentials.enc`, written by `pgwarden creds --store
 * file`) for the `keychain` backend, so an application reads what the CLI
 * stored in either store with one setting (`SECRETS_BACKEND=keychain`).
 *
 * The key is derived from the passphrase once and kept for the file's
 * header: a cache refresh re-reads and decrypts the file (a rotation is seen
 * at once) but does not pay scrypt again. The passphrase comes from
 * `PGWARDEN_STORE_PASSPHRASE` or, better, `PGWARDEN_STORE_PASSPHRASE_FILE`
 * (a 0600 file such as a mounted secret), read once.
 */
import { readFile, stat } from 'node:fs/promises';
import type { SecretError } from '../errors.js';
import type { Secret } from '../redact/secret.js';
import { Secret as SecretValue } from '../redact/secret.js';
import { backendError } from './backend-error.js';
import {
  decryptStore,
  deriveStoreKey,
  EncryptedStoreFormatError,
  parseEncryptedStore,
  storeHeader,
} from './encrypted-store-format.js';
import { storePassphraseVariable } from '../config/store-passphrase-variable.js';
import type { EnvSource } from './env-source.js';
import { isPrivateEnough, readSecretFile, trimTrailingNewlines } from './secret-file.js';

/** Where the passphrase comes from. */
export type StorePassphrase =
  | { readonly from: 'PGWARDEN_STORE_PASSPHRASE'; readonly value: Secret }
  | { readonly from: 'PGWARDEN_STORE_PASSPHRASE_FILE'; readonly path: string };

/** `PGWARDEN_STORE_PASSPHRASE_FILE` (preferred) or `PGWARDEN_STORE_PASSPHRASE`; undefined when neither is set. */
export function storePassphraseFromEnv(env: EnvSource): StorePassphrase | undefined {
  const from = storePassphraseVariable(env);
  if (from === 'PGWARDEN_STORE_PASSPHRASE_FILE') return { from, path: env[from]! };
  if (from === 'PGWARDEN_STORE_PASSPHRASE') return { from, value: new SecretValue(env[from]!) };
  return undefined;
}

/**
 * The passphrase itself: the value of `PGWARDEN_STORE_PASSPHRASE`, or the
 * content of the `PGWARDEN_STORE_PASSPHRASE_FILE` file (refused when group
 * or others can read it; trailing newlines dropped). The application's
 * reader and the CLI's store both take it from here.
 */
export async function readStorePassphrase(passphrase: StorePassphrase, backend: string): Promise<Secret> {
  if (passphrase.from === 'PGWARDEN_STORE_PASSPHRASE') return passphrase.value;
  const file = await readSecretFile(passphrase.path, { backend, option: passphrase.from });
  if (!isPrivateEnough(file.mode, file.uid)) {
    throw backendError(
      'PGW_SECRET_FILE_PERMISSIONS',
      backend,
      `${passphrase.path} (PGWARDEN_STORE_PASSPHRASE_FILE) is accessible to group or others (mode ${file.mode.toString(8)}).`,
      { option: passphrase.from, fix: `chmod 600 ${passphrase.path}` },
    );
  }
  return new SecretValue(trimTrailingNewlines(file.text));
}

export interface EncryptedStoreReader {
  /** The password of `environment`. Throws coded `PGW_SECRET_*` errors naming the setting. */
  password(environment: string): Promise<Secret>;
  /** How many times scrypt ran (1 for the life of a provider, unless the file's header changes). */
  readonly keyDerivations: number;
}

export function createEncryptedStoreReader(
  path: string,
  passphrase: StorePassphrase | undefined,
  backend: string,
): EncryptedStoreReader {
  let key: { header: string; value: Buffer } | undefined;
  let phrase: Promise<Secret> | undefined;
  let derivations = 0;

  const fail = (
    code: Parameters<typeof backendError>[0],
    message: string,
    option: string,
    fix: string,
  ): SecretError => backendError(code, backend, message, { option, fix });

  const getPassphrase = (): Promise<Secret> => {
    if (!passphrase) {
      return Promise.reject(
        fail(
          'PGW_SECRET_CONFIG',
          `the password is in the encrypted store ${path}, and no passphrase is set.`,
          'PGWARDEN_STORE_PASSPHRASE_FILE',
          'Set PGWARDEN_STORE_PASSPHRASE_FILE to a 0600 file holding the passphrase (or PGWARDEN_STORE_PASSPHRASE).',
        ),
      );
    }
    phrase ??= readStorePassphrase(passphrase, backend).catch((error: unknown) => {
      phrase = undefined;
      throw error;
    });
    return phrase;
  };

  return {
    get keyDerivations() {
      return derivations;
    },
    async password(environment) {
      let text: string;
      try {
        const info = await stat(path);
        if ((info.mode & 0o077) !== 0) {
          throw backendError(
            'PGW_SECRET_FILE_PERMISSIONS',
            backend,
            `${path} is readable by group or others.`,
            {
              option: 'PGWARDEN_HOME',
              fix: `chmod 600 ${path}`,
            },
          );
        }
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as { code?: unknown }).code === 'PGW_SECRET_FILE_PERMISSIONS') throw error;
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        throw backendError(
          missing ? 'PGW_SECRET_NOT_FOUND' : 'PGW_SECRET_BACKEND_UNAVAILABLE',
          backend,
          `the encrypted store ${path} ${missing ? 'does not exist' : 'cannot be read'}.`,
          {
            option: 'PGWARDEN_HOME',
            fix: missing
              ? `Store the password with: pgwarden creds add ${environment} --store file`
              : `Check that ${path} belongs to the user running the application.`,
            cause: error,
          },
        );
      }
      let passwords: Map<string, Secret> | undefined;
      try {
        const file = parseEncryptedStore(text);
        const header = storeHeader(file.kdf);
        if (key?.header !== header) {
          derivations += 1;
          key = { header, value: await deriveStoreKey(await getPassphrase(), file.kdf) };
        }
        passwords = decryptStore(file, key.value);
      } catch (error) {
        if (!(error instanceof EncryptedStoreFormatError)) throw error;
        throw backendError('PGW_SECRET_MALFORMED', backend, `${path}: ${error.message}.`, {
          option: 'PGWARDEN_HOME',
          fix: 'Restore the file from a backup, or store the password again with pgwarden creds.',
        });
      }
      if (!passwords) {
        key = undefined;
        phrase = undefined;
        throw backendError(
          'PGW_SECRET_ACCESS_DENIED',
          backend,
          `the passphrase does not open ${path} (or the file was altered).`,
          {
            option: passphrase?.from ?? 'PGWARDEN_STORE_PASSPHRASE_FILE',
            fix: 'Give the passphrase the store was created with.',
          },
        );
      }
      const password = passwords.get(environment);
      // The other environments' passwords were decrypted too: stop tracking them at once.
      for (const [name, secret] of passwords) if (name !== environment) secret.retire();
      if (!password) {
        throw backendError(
          'PGW_SECRET_NOT_FOUND',
          backend,
          `the encrypted store ${path} has no password for "${environment}".`,
          {
            option: 'DB_PROFILE',
            fix: `Store one with: pgwarden creds update ${environment} --password`,
          },
        );
      }
      return password;
    },
  };
}
