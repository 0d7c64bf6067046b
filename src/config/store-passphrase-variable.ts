import type { Env } from './env-source.js';

/** The two variables that can hold the encrypted credential store's passphrase. */
export type StorePassphraseVariable = 'PGWARDEN_STORE_PASSPHRASE_FILE' | 'PGWARDEN_STORE_PASSPHRASE';

/**
 * Which variable gives the encrypted credential store's passphrase: the file
 * variable wins over the plaintext one, and an empty value counts as unset
 * (orchestrators render an unset value as `""`). One rule for the strict
 * policy, which judges the choice (config/resolve.ts), and for the reader
 * that uses it (secrets/encrypted-store-reader.ts).
 */
export function storePassphraseVariable(env: Env): StorePassphraseVariable | undefined {
  if (env.PGWARDEN_STORE_PASSPHRASE_FILE) return 'PGWARDEN_STORE_PASSPHRASE_FILE';
  if (env.PGWARDEN_STORE_PASSPHRASE) return 'PGWARDEN_STORE_PASSPHRASE';
  return undefined;
}
