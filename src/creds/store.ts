/**
 * The credential store behind `pgwarden creds`: metadata in
 * `$PGWARDEN_HOME/credentials.json`, passwords in the OS keychain (default)
 * or, by explicit choice, the encrypted file. Every change writes the
 * password first and the metadata second, and puts the old password back if
 * the metadata cannot be written, so the two never disagree.
 */
import { join } from 'node:path';
import type { Env } from '../config/env-source.js';
import { closestName } from '../config/suggest.js';
import type { Secret } from '../redact/secret.js';
import { readStorePassphrase, storePassphraseFromEnv } from '../secrets/encrypted-store-reader.js';
import { ENCRYPTED_STORE_FILE, pgwardenHome } from '../secrets/keychain-store-format.js';
import { CredsError } from './creds-error.js';
import {
  assertEnvironmentName,
  DEFAULT_EXPIRES_DAYS,
  expiryFields,
  toCredentialEnvironment,
  type CredentialEnvironment,
  type EnvironmentFields,
  storedEnvironmentSchema,
  type StoreKind,
  type StoredEnvironment,
} from './environment.js';
import { createEncryptedFileBackend, type FileBackend, type PassphraseSource } from './file-backend.js';
import { createKeychainBackend } from './keychain-backend.js';
import { readMetadata, writeMetadata, type MetadataFile } from './metadata-file.js';
import type { PasswordBackend } from './password-backend.js';
import { DEFAULT_LOCK_TIMEOUT_MS, withStoreLock } from './store-lock.js';

export { ENCRYPTED_STORE_FILE } from '../secrets/keychain-store-format.js';

export interface CredentialStoreOptions {
  /** The directory of credentials.json (and credentials.enc). Default `$PGWARDEN_HOME`, else `~/.config/pgwarden`. */
  home?: string;
  /** Environment variables to read (`PGWARDEN_HOME`, `PGWARDEN_KEYCHAIN_STORE`, `PGWARDEN_STORE_PASSPHRASE_FILE`, `PGWARDEN_STORE_PASSPHRASE`). Default `process.env`. */
  env?: Env;
  /** Password backend for `store: 'keychain'`. Default: the OS keychain (service `pgwarden`). */
  keychain?: PasswordBackend;
  /** Password backend for `store: 'file'`. Default: AES-256-GCM file `credentials.enc` in `home`. */
  file?: PasswordBackend;
  /** Passphrase of the encrypted file. Default: the file `PGWARDEN_STORE_PASSPHRASE_FILE` names, else `PGWARDEN_STORE_PASSPHRASE`, else `promptPassphrase`, else an error naming them. */
  passphrase?: PassphraseSource;
  /** Asked for the passphrase when neither variable gives it (the CLI prompts on a terminal). Not used with `passphrase`. */
  promptPassphrase?: PassphraseSource;
  /** The clock, for expiry. Default `() => new Date()`. */
  now?: () => Date;
  /** Writes credentials.json. Default: an atomic write (0600, directory 0700). Tests inject failures here. */
  writeMetadata?: (home: string, environments: MetadataFile) => void;
  /**
   * How long a change waits for another process holding the store lock
   * before failing with `PGW_CREDS_STORE_BUSY`. Default:
   * `PGWARDEN_LOCK_TIMEOUT_MS`, else 30 000 ms.
   */
  lockTimeoutMs?: number;
}

/** What {@link CredentialStore.add} needs besides the connection fields. */
export interface AddOptions {
  password: Secret;
  /** Default `keychain`. */
  store?: StoreKind;
  /** Days until the password should be rotated; 0 turns expiry off. Default 90. */
  expiresDays?: number;
  /** A fixed expiry instead of `expiresDays` (the `valid_until` of a roles file). */
  expiresAt?: Date;
}

export interface UpdateOptions {
  /** A new password (resets `updated_at` and `expires_at`). */
  password?: Secret;
  /** New expiry in days from now (0: off). Default: unchanged, or the previous period when the password changes. */
  expiresDays?: number;
}

/** Extra metadata a rotation records with the new password. */
export interface RotationRecord {
  password: Secret;
  /** When the password changed (the moment VALID UNTIL was computed from); default now. */
  changedAt?: Date;
  user?: string;
  strategy?: 'single' | 'alternating';
  baseUser?: string;
  groupRole?: string;
}

export class CredentialStore {
  /** The directory holding credentials.json. */
  readonly home: string;
  readonly #backends: Record<StoreKind, () => PasswordBackend>;
  readonly #now: () => Date;
  readonly #writeMetadata: (home: string, environments: MetadataFile) => void;
  readonly #lockTimeoutMs: number;

  constructor(options: CredentialStoreOptions = {}) {
    const env = options.env ?? process.env;
    this.home = options.home ?? pgwardenHome(env);
    this.#lockTimeoutMs = options.lockTimeoutMs ?? lockTimeoutFromEnv(env.PGWARDEN_LOCK_TIMEOUT_MS);
    this.#now = options.now ?? (() => new Date());
    this.#writeMetadata = options.writeMetadata ?? writeMetadata;
    const linuxStore = env.PGWARDEN_KEYCHAIN_STORE;
    if (linuxStore !== undefined && linuxStore !== 'secret-service' && linuxStore !== 'keyutils') {
      throw new CredsError(
        'PGW_CREDS_INVALID',
        'PGWARDEN_KEYCHAIN_STORE must be secret-service or keyutils.',
        {
          option: 'PGWARDEN_KEYCHAIN_STORE',
          fix: 'Unset it (Secret Service) or set keyutils to use the kernel keyring, which forgets at reboot.',
        },
      );
    }
    let keychain = options.keychain;
    let file = options.file;
    const passphrase =
      options.passphrase ??
      ((context) => {
        const source = storePassphraseFromEnv(env);
        if (source) return readStorePassphrase(source, 'keychain');
        if (options.promptPassphrase) return options.promptPassphrase(context);
        throw new CredsError('PGW_CREDS_STORE_LOCKED', 'The encrypted store needs its passphrase.', {
          option: 'PGWARDEN_STORE_PASSPHRASE_FILE',
          fix: 'Set PGWARDEN_STORE_PASSPHRASE_FILE to a 0600 file holding it (or PGWARDEN_STORE_PASSPHRASE).',
        });
      });
    // Backends are built on first use: listing metadata must not touch D-Bus or ask for a passphrase.
    this.#backends = {
      keychain: () => (keychain ??= createKeychainBackend(linuxStore ? { linuxStore } : {})),
      file: () =>
        (file ??= createEncryptedFileBackend({
          path: join(this.home, ENCRYPTED_STORE_FILE),
          passphrase,
          lock: { timeoutMs: this.#lockTimeoutMs },
        })),
    };
  }

  /** Every environment, sorted by name. Reads only metadata (no keychain, no passphrase). */
  async list(): Promise<CredentialEnvironment[]> {
    const all = await readMetadata(this.home);
    return Object.keys(all)
      .sort()
      .map((name) => toCredentialEnvironment(name, all[name] as StoredEnvironment));
  }

  /** One environment's metadata. @throws CredsError `PGW_CREDS_UNKNOWN_ENV` */
  async get(name: string): Promise<CredentialEnvironment> {
    const all = await readMetadata(this.home);
    return toCredentialEnvironment(name, this.#require(all, name));
  }

  async has(name: string): Promise<boolean> {
    return Object.hasOwn(await readMetadata(this.home), name);
  }

  /** The stored password. @throws CredsError `PGW_CREDS_STORE_UNAVAILABLE` when the store has no entry. */
  async password(name: string): Promise<Secret> {
    const environment = await this.get(name);
    const password = await this.#backends[environment.store]().get(name);
    if (!password) {
      throw new CredsError(
        'PGW_CREDS_STORE_UNAVAILABLE',
        `The ${environment.store === 'file' ? 'encrypted file' : 'OS keychain'} has no password for "${name}".`,
        { option: '<env>', fix: `Store one with: pgwarden creds update ${name} --password` },
      );
    }
    return password;
  }

  /** Throws unless `name` is a valid, unused environment name. */
  async assertCanAdd(name: string): Promise<void> {
    assertEnvironmentName(name);
    if (Object.hasOwn(await readMetadata(this.home), name)) {
      throw new CredsError('PGW_CREDS_ENV_EXISTS', `The environment "${name}" already exists.`, {
        option: '<env>',
        fix: `Change it with: pgwarden creds update ${name}`,
      });
    }
  }

  /** Adds an environment. @throws CredsError `PGW_CREDS_ENV_EXISTS` */
  async add(name: string, fields: EnvironmentFields, options: AddOptions): Promise<CredentialEnvironment> {
    await this.assertCanAdd(name);
    const store = options.store ?? 'keychain';
    const stored: StoredEnvironment = {
      ...fieldsToStored(fields),
      store,
      ...(options.expiresAt
        ? expiryFieldsUntil(this.#now(), options.expiresAt)
        : expiryFields(this.#now(), options.expiresDays ?? DEFAULT_EXPIRES_DAYS)),
    };
    await this.#locked(store, async () => {
      // Checked again under the lock: another process may have added it meanwhile.
      await this.assertCanAdd(name);
      await this.#write(name, stored, store, options.password);
    });
    return toCredentialEnvironment(name, stored);
  }

  /** Changes fields and/or the password of an environment. */
  async update(
    name: string,
    fields: EnvironmentFields,
    options: UpdateOptions = {},
  ): Promise<CredentialEnvironment> {
    const kind = (await this.get(name)).store;
    return this.#locked(kind, () => this.#update(name, fields, options));
  }

  async #update(
    name: string,
    fields: EnvironmentFields,
    options: UpdateOptions,
  ): Promise<CredentialEnvironment> {
    const all = await readMetadata(this.home);
    const current = this.#require(all, name);
    const next: StoredEnvironment = { ...current, ...fieldsToStored(fields) };
    const days = options.expiresDays ?? toCredentialEnvironment(name, current).expiresDays;
    if (options.password) Object.assign(next, expiryFields(this.#now(), days));
    else if (options.expiresDays !== undefined) {
      // Only the period changes: count it from the last password change.
      const since = current.updated_at ? new Date(current.updated_at) : this.#now();
      Object.assign(next, {
        ...expiryFields(since, days),
        updated_at: current.updated_at ?? since.toISOString(),
      });
    }
    await this.#write(name, next, next.store ?? 'keychain', options.password);
    return toCredentialEnvironment(name, next);
  }

  /** Records a rotated password (and, for the alternating strategy, the role now in use). */
  async recordRotation(name: string, record: RotationRecord): Promise<CredentialEnvironment> {
    const kind = (await this.get(name)).store;
    return this.#locked(kind, () => this.#recordRotation(name, record));
  }

  async #recordRotation(name: string, record: RotationRecord): Promise<CredentialEnvironment> {
    const all = await readMetadata(this.home);
    const current = this.#require(all, name);
    const days = toCredentialEnvironment(name, current).expiresDays;
    const next: StoredEnvironment = {
      ...current,
      ...(record.user ? { user: record.user } : {}),
      ...(record.strategy ? { strategy: record.strategy } : {}),
      ...(record.baseUser ? { base_user: record.baseUser } : {}),
      ...(record.groupRole ? { group_role: record.groupRole } : {}),
      // From the same moment as the server's VALID UNTIL, so the two expiries agree to the second.
      ...expiryFields(record.changedAt ?? this.#now(), days),
    };
    await this.#write(name, next, next.store ?? 'keychain', record.password);
    return toCredentialEnvironment(name, next);
  }

  /** Removes an environment and its password. */
  async remove(name: string): Promise<{ passwordDeleted: boolean }> {
    const kind = (await this.get(name)).store;
    return this.#locked(kind, async () => {
      const all = await readMetadata(this.home);
      const current = this.#require(all, name);
      const passwordDeleted = await this.#backends[current.store ?? 'keychain']().delete(name);
      delete all[name];
      this.#writeMetadata(this.home, all);
      return { passwordDeleted };
    });
  }

  /** The expiry date a password set at `changedAt` (default now) gets, for rotation's VALID UNTIL. */
  expiryFor(environment: CredentialEnvironment, changedAt = this.#now()): Date | undefined {
    const { expires_at: at } = expiryFields(changedAt, environment.expiresDays);
    return at === undefined ? undefined : new Date(at);
  }

  now(): Date {
    return this.#now();
  }

  /**
   * Runs a read-modify-write of credentials.json (and credentials.enc) under
   * the store lock, everything re-read inside it. The encrypted file's key
   * is derived before the lock is taken, so the lock is held briefly.
   */
  async #locked<T>(kind: StoreKind, fn: () => Promise<T>): Promise<T> {
    if (kind === 'file') await (this.#backends.file() as Partial<FileBackend>).prepare?.();
    return withStoreLock(this.home, fn, { timeoutMs: this.#lockTimeoutMs });
  }

  #require(all: Record<string, StoredEnvironment>, name: string): StoredEnvironment {
    // Own properties only: "__proto__" or "constructor" must not find Object.prototype's.
    const found = Object.hasOwn(all, name) ? all[name] : undefined;
    if (found) return found;
    const guess = closestName(name, Object.keys(all));
    throw new CredsError('PGW_CREDS_UNKNOWN_ENV', `No stored environment is called "${name.slice(0, 80)}".`, {
      option: '<env>',
      fix: guess
        ? `Did you mean "${guess}"? See: pgwarden creds list`
        : `Add it with: pgwarden creds add ${name.slice(0, 80)}`,
    });
  }

  /** Password first, then metadata; on a metadata failure the previous password is put back. */
  async #write(
    name: string,
    stored: StoredEnvironment,
    store: StoreKind,
    password: Secret | undefined,
  ): Promise<void> {
    const all = await readMetadata(this.home);
    const backend = this.#backends[store]();
    let previous: Secret | undefined;
    if (password) {
      previous = await backend.get(name);
      await backend.set(name, password).catch((error: unknown) => {
        throw asWriteError(error, `Storing the password of "${name}" failed.`);
      });
    }
    try {
      this.#writeMetadata(this.home, { ...all, [name]: stored });
    } catch (error) {
      if (password) {
        try {
          if (previous) await backend.set(name, previous);
          else await backend.delete(name);
        } catch {
          throw new CredsError(
            'PGW_CREDS_STORE_WRITE_FAILED',
            `Writing the metadata of "${name}" failed, and so did restoring its previous password, so the store now holds the NEW password.`,
            {
              option: 'PGWARDEN_HOME',
              fix: `Fix PGWARDEN_HOME, then run pgwarden creds show ${name}.`,
              cause: error,
            },
          );
        }
      }
      throw error;
    }
  }
}

function lockTimeoutFromEnv(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_LOCK_TIMEOUT_MS;
  const ms = Number(value);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new CredsError(
      'PGW_CREDS_INVALID',
      'PGWARDEN_LOCK_TIMEOUT_MS must be a whole number of milliseconds.',
      {
        option: 'PGWARDEN_LOCK_TIMEOUT_MS',
        fix: 'Unset it (30 000 ms) or set e.g. PGWARDEN_LOCK_TIMEOUT_MS=60000.',
      },
    );
  }
  return ms;
}

/** The metadata of a password set at `now` that expires at a fixed moment (a roles file's valid_until). */
function expiryFieldsUntil(
  now: Date,
  until: Date,
): Pick<StoredEnvironment, 'updated_at' | 'expires_at' | 'expires_days'> {
  const days = Math.max(0, Math.ceil((until.getTime() - now.getTime()) / 86_400_000));
  return {
    updated_at: now.toISOString(),
    expires_at: until.toISOString(),
    expires_days: Math.min(days, 36_500),
  };
}

function asWriteError(error: unknown, message: string): CredsError {
  if (error instanceof CredsError) return error;
  return new CredsError('PGW_CREDS_STORE_WRITE_FAILED', message, {
    option: '--store',
    fix: 'See the cause and retry.',
    cause: error,
  });
}

const FIELD_OPTIONS: Record<string, string> = {
  host: '--host',
  port: '--port',
  database: '--database',
  user: '--user',
  sslmode: '--sslmode',
  sslrootcert: '--sslrootcert',
};

/** Converts and validates; a bad field is a coded error naming its flag. */
function fieldsToStored(fields: EnvironmentFields): Partial<StoredEnvironment> {
  const out = collectFields(fields);
  const result = storedEnvironmentSchema.partial().safeParse(out);
  if (!result.success) {
    const key = String(result.error.issues[0]?.path[0] ?? '');
    throw new CredsError(
      'PGW_CREDS_INVALID',
      `The ${key || 'environment'} value is invalid: ${result.error.issues[0]?.message ?? ''}.`,
      {
        option: FIELD_OPTIONS[key] ?? key,
        fix:
          key === 'port'
            ? 'Pass a port from 1 to 65535.'
            : key === 'sslmode'
              ? 'Use disable, allow, prefer, require, verify-ca or verify-full.'
              : 'Pass a non-empty value.',
      },
    );
  }
  return out;
}

function collectFields(fields: EnvironmentFields): Partial<StoredEnvironment> {
  const out: Partial<StoredEnvironment> = {};
  if (fields.host !== undefined) out.host = fields.host;
  if (fields.port !== undefined) out.port = fields.port;
  if (fields.database !== undefined) out.database = fields.database;
  if (fields.user !== undefined) out.user = fields.user;
  if (fields.sslMode !== undefined) out.sslmode = fields.sslMode;
  if (fields.sslRootCert !== undefined) out.sslrootcert = fields.sslRootCert;
  if (fields.production !== undefined) out.production = fields.production;
  return out;
}
