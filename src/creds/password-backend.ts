import type { Secret } from '../redact/secret.js';
import type { StoreKind } from './environment.js';

/**
 * Where passwords are kept: the OS keychain or the encrypted file. The
 * library accepts any implementation (`CredentialStoreOptions.keychain` /
 * `.file`), which is also how tests inject a failing store.
 */
export interface PasswordBackend {
  readonly kind: StoreKind;
  /** The stored password, or undefined when there is none. */
  get(environment: string): Promise<Secret | undefined>;
  /** Stores (or replaces) the password. */
  set(environment: string, password: Secret): Promise<void>;
  /** Deletes the password; false when there was none. */
  delete(environment: string): Promise<boolean>;
}
