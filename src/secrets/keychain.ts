import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Secret } from '../redact/secret.js';
import { abortedError, backendError } from './backend-error.js';
import { readVar, requireVar, type EnvSource } from './env-source.js';
import {
  ENVIRONMENT_NAME,
  KEYCHAIN_SERVICE,
  ENCRYPTED_STORE_FILE,
  KEYCHAIN_STORE_FILE,
  KeychainStoreFormatError,
  parseKeychainStore,
  pgwardenHome,
  type KeychainEnvironmentMetadata,
} from './keychain-store-format.js';
import {
  createEncryptedStoreReader,
  storePassphraseFromEnv,
  type EncryptedStoreReader,
  type StorePassphrase,
} from './encrypted-store-reader.js';
import { defaultSecretLogger, logSecretEvent, type SecretLogger } from './logger.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import { ConfigError, type SecretError } from '../errors.js';

const BACKEND = 'keychain';

/** The part of a keyring entry this backend uses; tests substitute it. */
export interface KeychainEntry {
  getPassword(signal?: AbortSignal): Promise<string | null>;
}

/** Opens the entry of `service`/`account` in the OS credential store. */
export type KeychainEntryFactory = (
  service: string,
  account: string,
) => KeychainEntry | Promise<KeychainEntry>;

/** Settings of the `keychain` backend. */
export interface KeychainSettings {
  /** The profile name (`creds add NAME`), which is the keychain account (`DB_PROFILE`). Required. */
  environment: string;
  /** The keychain service. Default: `pgwarden`. */
  service?: string | undefined;
  /** The directory holding credentials.json. Default: `$PGWARDEN_HOME`, else `~/.config/pgwarden`. */
  home?: string | undefined;
  /**
   * The Linux store: `secret-service` (GNOME Keyring, KWallet) or `keyutils`
   * (the kernel keyring, lost at reboot). Default: `secret-service`, as
   * `pgwarden creds` writes: never the library's silent keyutils fallback,
   * which would turn "no Secret Service" into a misleading "no entry".
   */
  linuxStore?: 'secret-service' | 'keyutils' | undefined;
  /** Opens keychain entries. Default: `@napi-rs/keyring`'s `AsyncEntry`, loaded on first use. */
  openEntry?: KeychainEntryFactory | undefined;
  /** Receives the expired-password warning. Default: {@link defaultSecretLogger}. */
  logger?: SecretLogger | undefined;
  /**
   * The passphrase of the encrypted store, used when credentials.json says
   * the environment's password is in `credentials.enc` (`creds add --store
   * file`). Default: none; from the environment,
   * `PGWARDEN_STORE_PASSPHRASE_FILE` (preferred) or `PGWARDEN_STORE_PASSPHRASE`.
   */
  storePassphrase?: StorePassphrase | undefined;
}

/**
 * Reads `DB_PROFILE` (required; `DB_CREDENTIALS_ENV` is its deprecated
 * spelling, with one warning to `logger`), `PGWARDEN_HOME`,
 * `PGWARDEN_KEYCHAIN_STORE`, and for a profile kept in the encrypted file
 * `PGWARDEN_STORE_PASSPHRASE_FILE` or `PGWARDEN_STORE_PASSPHRASE`.
 */
export function keychainSettingsFromEnv(
  env: EnvSource,
  logger: SecretLogger = defaultSecretLogger,
): KeychainSettings {
  const store = readVar(env, 'PGWARDEN_KEYCHAIN_STORE');
  if (store !== undefined && store !== 'secret-service' && store !== 'keyutils') {
    throw backendError(
      'PGW_SECRET_CONFIG',
      BACKEND,
      'PGWARDEN_KEYCHAIN_STORE must be secret-service or keyutils.',
      {
        option: 'PGWARDEN_KEYCHAIN_STORE',
        fix: 'Unset it to let the library choose, or set secret-service.',
      },
    );
  }
  const passphrase = storePassphraseFromEnv(env);
  return {
    environment: profileFromEnv(env, logger),
    home: pgwardenHome(env),
    linuxStore: store,
    ...(passphrase ? { storePassphrase: passphrase } : {}),
  };
}

/** `DB_PROFILE`, else the deprecated `DB_CREDENTIALS_ENV` (warned); both and different is a conflict. */
function profileFromEnv(env: EnvSource, logger: SecretLogger): string {
  const profile = readVar(env, 'DB_PROFILE');
  const legacy = readVar(env, 'DB_CREDENTIALS_ENV');
  if (legacy !== undefined) {
    if (profile !== undefined && profile !== legacy) {
      throw new ConfigError(
        'PGW_CONFIG_CONFLICT',
        'DB_PROFILE and DB_CREDENTIALS_ENV name different profiles.',
        {
          option: 'DB_PROFILE',
          fix: 'Keep DB_PROFILE and unset DB_CREDENTIALS_ENV, its deprecated spelling.',
        },
      );
    }
    logSecretEvent(logger, {
      level: 'warn',
      backend: BACKEND,
      code: 'PGW_CONFIG_DEPRECATED',
      message: 'DB_CREDENTIALS_ENV is deprecated: set DB_PROFILE (the same value) instead.',
    });
  }
  return (
    profile ?? legacy ?? requireVar(env, 'DB_PROFILE', BACKEND, 'the profile (keychain account) to read')
  );
}

/**
 * The `keychain` backend: what `pgwarden creds` stored, from either store.
 * The password comes from the OS credential store (macOS Keychain, Windows
 * Credential Manager, Secret Service on Linux), or from the encrypted file
 * `credentials.enc` when credentials.json says `"store": "file"` (headless
 * servers: `creds add --store file`); user, host, port and database from
 * credentials.json, if present. Meant for workstations and servers where no
 * secrets manager runs.
 */
export function createKeychainProvider(settings: KeychainSettings): SecretProvider {
  const environment = settings.environment;
  if (!ENVIRONMENT_NAME.test(environment)) {
    throw backendError('PGW_SECRET_CONFIG', BACKEND, 'DB_PROFILE is not a valid profile name.', {
      option: 'DB_PROFILE',
      fix: 'Use letters, digits, ".", "_" and "-" (at most 64), e.g. DB_PROFILE=prod.',
    });
  }
  const service = settings.service ?? KEYCHAIN_SERVICE;
  const home = settings.home ?? pgwardenHome(process.env);
  const metadataFile = join(home, KEYCHAIN_STORE_FILE);
  let fileStore: EncryptedStoreReader | undefined;
  const logger = settings.logger ?? defaultSecretLogger;
  const openEntry =
    settings.openEntry ??
    (async (svc: string, account: string): Promise<KeychainEntry> => {
      const { AsyncEntry } = await import('@napi-rs/keyring');
      return new AsyncEntry(svc, account, { linux: { store: settings.linuxStore ?? 'secret-service' } });
    });
  let lastMetadata: KeychainEnvironmentMetadata | undefined;
  let expiryWarned = false;

  return {
    name: BACKEND,
    async fetch(signal?: AbortSignal): Promise<Credentials> {
      if (signal?.aborted) throw abortedError(BACKEND, signal);
      const metadata = await readMetadata(metadataFile, environment);
      lastMetadata = metadata;
      let secret: Secret;
      if (metadata?.store === 'file') {
        // One reader for the provider's life: the key is derived once, not on every refresh.
        fileStore ??= createEncryptedStoreReader(
          join(home, ENCRYPTED_STORE_FILE),
          settings.storePassphrase,
          BACKEND,
        );
        secret = await fileStore.password(environment);
      } else {
        let password: string | null;
        try {
          const entry = await openEntry(service, environment);
          password = await entry.getPassword(signal);
        } catch (error) {
          if (signal?.aborted) throw abortedError(BACKEND, signal);
          throw mapKeyringError(error, service, environment);
        }
        if (password === null || password === '') throw noEntryError(service, environment);
        secret = new Secret(password);
      }

      const credentials: Credentials = { password: secret };
      if (metadata?.user) credentials.user = metadata.user;
      if (metadata?.host) credentials.host = metadata.host;
      if (metadata?.port) credentials.port = metadata.port;
      if (metadata?.database) credentials.database = metadata.database;
      if (metadata?.sslmode) credentials.sslMode = metadata.sslmode;
      if (metadata?.sslrootcert) credentials.sslRootCert = metadata.sslrootcert;
      if (metadata?.updated_at) credentials.version = metadata.updated_at;
      const expires = metadata?.expires_at ? new Date(metadata.expires_at) : undefined;
      if (expires && expires.getTime() > Date.now()) {
        credentials.expiresAt = expires;
      } else if (expires && !expiryWarned) {
        // A rotation deadline, not a hard end: the server may still accept the
        // password, so warn instead of failing (and do not set expiresAt, which
        // would make the cache refetch on every call).
        expiryWarned = true;
        logSecretEvent(logger, {
          level: 'warn',
          backend: BACKEND,
          message: `the password of "${environment}" passed its rotation date (${expires.toISOString()}). Fix: pgwarden creds rotate ${environment}`,
        });
      }
      return credentials;
    },
    describe(): ProviderDescription {
      return {
        backend: BACKEND,
        service,
        environment,
        metadataFile,
        store: lastMetadata?.store ?? 'keychain',
        ...(lastMetadata?.store === 'file'
          ? {
              passphraseSource: settings.storePassphrase?.from ?? 'none',
              keyDerivations: fileStore?.keyDerivations ?? 0,
            }
          : {}),
        user: lastMetadata?.user,
        host: lastMetadata?.host,
        sslmode: lastMetadata?.sslmode,
        production: lastMetadata?.production,
      };
    },
  };
}

/**
 * The metadata of `environment` from credentials.json, or undefined when the
 * file or the environment is absent (the keychain entry alone is enough).
 */
export async function readMetadata(
  file: string,
  environment: string,
): Promise<KeychainEnvironmentMetadata | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw backendError('PGW_SECRET_BACKEND_UNAVAILABLE', BACKEND, `${file} could not be read.`, {
      option: 'PGWARDEN_HOME',
      fix: `Check the permissions of ${file}.`,
      cause: error,
    });
  }
  try {
    const { environments } = parseKeychainStore(text);
    // Own properties only: "constructor" must not find Object.prototype's.
    return Object.hasOwn(environments, environment) ? environments[environment] : undefined;
  } catch (error) {
    if (!(error instanceof KeychainStoreFormatError)) throw error;
    throw backendError(
      'PGW_SECRET_MALFORMED',
      BACKEND,
      `${file} is not a valid credentials file: ${error.message}.`,
      {
        option: 'PGWARDEN_HOME',
        fix: `Rewrite it with pgwarden creds add, or fix it by hand (see docs/secrets.md).`,
      },
    );
  }
}

function noEntryError(service: string, environment: string): SecretError {
  return backendError(
    'PGW_SECRET_NOT_FOUND',
    BACKEND,
    `the OS keychain has no entry for service "${service}", account "${environment}".`,
    { option: 'DB_PROFILE', fix: `Store it with: pgwarden creds add ${environment}` },
  );
}

/** Maps `keyring` crate errors, which arrive as message text, to coded errors with fixes. */
export function mapKeyringError(error: unknown, service: string, environment: string): SecretError {
  const message = error instanceof Error ? error.message : String(error);
  if (/no matching entry/i.test(message)) return noEntryError(service, environment);
  if (/unlock prompt|locked|dismissed/i.test(message)) {
    return backendError('PGW_SECRET_ACCESS_DENIED', BACKEND, 'the OS keychain is locked.', {
      option: 'DB_PROFILE',
      fix: 'Unlock the login keychain (log in to the desktop session, or gnome-keyring-daemon --unlock) and retry.',
      cause: error,
    });
  }
  if (/ambiguous/i.test(message)) {
    return backendError(
      'PGW_SECRET_MALFORMED',
      BACKEND,
      `the OS keychain holds several entries for service "${service}", account "${environment}".`,
      {
        option: 'DB_PROFILE',
        fix: `Delete the duplicates, then run pgwarden creds add ${environment}.`,
        cause: error,
      },
    );
  }
  if (/platform storage|platform failure|dbus|secret service|no storage/i.test(message)) {
    return backendError(
      'PGW_SECRET_BACKEND_UNAVAILABLE',
      BACKEND,
      "the OS keychain cannot be reached (Couldn't access platform storage).",
      {
        option: 'SECRETS_BACKEND',
        fix: 'On Linux start a D-Bus session with a Secret Service (GNOME Keyring, KWallet); on headless servers use SECRETS_BACKEND=file, vault or aws-secrets-manager.',
        cause: error,
      },
    );
  }
  return backendError('PGW_SECRET_BACKEND_UNAVAILABLE', BACKEND, 'reading the OS keychain failed.', {
    option: 'SECRETS_BACKEND',
    fix: 'See the cause; check that the OS keychain works (secret-tool search service pgwarden on Linux).',
    cause: error,
  });
}
