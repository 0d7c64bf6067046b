/**
 * Passwords in the OS credential store through `@napi-rs/keyring`: macOS
 * Keychain, Windows Credential Manager, the Secret Service (GNOME Keyring,
 * KWallet) on Linux. Service `pgwarden`, account `<environment>`: exactly what
 * the `keychain` secrets backend reads.
 *
 * On Linux the entry is pinned to the Secret Service: the library would
 * otherwise fall back to the kernel keyring, which forgets everything at
 * reboot, and a credential store must never degrade silently.
 */
import { Secret } from '../redact/secret.js';
import { KEYCHAIN_SERVICE } from '../secrets/keychain-store-format.js';
import { CredsError } from './creds-error.js';
import type { PasswordBackend } from './password-backend.js';

/** The part of an `@napi-rs/keyring` AsyncEntry this backend uses. */
export interface KeyringEntry {
  getPassword(): Promise<string | null>;
  setPassword(password: string): Promise<void>;
  deletePassword(): Promise<boolean>;
}

export interface KeychainBackendOptions {
  /** Keychain service name. Default `pgwarden`. */
  service?: string;
  /**
   * Linux store: `secret-service` (default) or `keyutils` (the kernel keyring,
   * lost at reboot; only by explicit choice). Default from
   * `PGWARDEN_KEYCHAIN_STORE`, else `secret-service`.
   */
  linuxStore?: 'secret-service' | 'keyutils';
  /** Opens entries. Default: `@napi-rs/keyring`'s `AsyncEntry`. */
  openEntry?: (service: string, account: string) => KeyringEntry | Promise<KeyringEntry>;
}

export function createKeychainBackend(options: KeychainBackendOptions = {}): PasswordBackend {
  const service = options.service ?? KEYCHAIN_SERVICE;
  const linuxStore = options.linuxStore ?? 'secret-service';
  const openEntry =
    options.openEntry ??
    (async (svc: string, account: string): Promise<KeyringEntry> => {
      const { AsyncEntry } = await import('@napi-rs/keyring');
      return new AsyncEntry(svc, account, { linux: { store: linuxStore } });
    });

  async function run<T>(
    environment: string,
    action: string,
    fn: (entry: KeyringEntry) => Promise<T>,
  ): Promise<T> {
    try {
      return await fn(await openEntry(service, environment));
    } catch (error) {
      throw keyringError(error, action, environment);
    }
  }

  return {
    kind: 'keychain',
    get: (environment) =>
      run(environment, 'read', async (entry) => {
        const value = await entry.getPassword();
        return value === null || value === '' ? undefined : new Secret(value);
      }),
    set: (environment, password) =>
      run(environment, 'write', (entry) => entry.setPassword(password.reveal())),
    delete: (environment) => run(environment, 'delete', (entry) => entry.deletePassword()),
  };
}

/** Maps the keyring crate's errors, which arrive as message text, to coded errors with a fix. */
export function keyringError(error: unknown, action: string, environment: string): CredsError {
  if (error instanceof CredsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/unlock prompt|locked|dismissed/i.test(message)) {
    return new CredsError(
      'PGW_CREDS_STORE_LOCKED',
      `The OS keychain is locked (${action} "${environment}").`,
      {
        option: '--store',
        fix: 'Unlock the login keychain (log in to the desktop session, or run gnome-keyring-daemon --unlock) and retry.',
        cause: error,
      },
    );
  }
  if (/platform storage|platform failure|dbus|secret service|no storage|unavailable/i.test(message)) {
    return new CredsError(
      'PGW_CREDS_STORE_UNAVAILABLE',
      `The OS keychain cannot be reached (${action} "${environment}"): no Secret Service on this session.`,
      {
        option: '--store',
        fix: 'Start a desktop or D-Bus session with a Secret Service (GNOME Keyring, KWallet), or choose the encrypted file explicitly with --store file.',
        cause: error,
      },
    );
  }
  return new CredsError(
    action === 'read' ? 'PGW_CREDS_STORE_UNAVAILABLE' : 'PGW_CREDS_STORE_WRITE_FAILED',
    `The OS keychain failed to ${action} the entry of "${environment}".`,
    {
      option: '--store',
      fix: 'See the cause; check the keychain with: secret-tool search service pgwarden',
      cause: error,
    },
  );
}
