// The shape lives with the config it overlays (config/credentials.ts), so
// config never imports from secrets; backends keep importing it from here.
import type { Credentials } from '../config/credentials.js';

export type { Credentials };

/** A non-secret description of a provider for doctor output and logs. */
export type ProviderDescription = Record<string, string | number | boolean | undefined>;

/**
 * A source of database credentials. Implementations live one per file in
 * src/secrets/ and are selected by `SECRETS_BACKEND` or the `secrets` option.
 * Caching, single-flight and stale-if-error are handled once, by the cache
 * around a provider, not by each provider.
 */
export interface SecretProvider {
  /** The backend name as written in SECRETS_BACKEND, e.g. `vault`. */
  readonly name: string;
  /** Fetches current credentials. Throws a `SecretError` (`PGW_SECRET_*`) on failure. */
  fetch(signal?: AbortSignal): Promise<Credentials>;
  /**
   * Credentials that were current before the last rotation, if the backend
   * keeps them (AWSPREVIOUS). Read after an authentication failure, at most
   * once per rotation.
   */
  fetchPrevious?(signal?: AbortSignal): Promise<Credentials | undefined>;
  /** Stops timers and revokes leases. */
  close?(): Promise<void>;
  /**
   * Forgets the credentials the provider holds itself, because the server
   * rejected them; the next fetch gets new ones. Only providers that keep
   * state between fetches (dynamic leases) implement it. Added by the
   * providers layer: `CachedCredentials.invalidate()` calls it.
   */
  invalidate?(): void;
  /**
   * Subscribes to credentials the provider switched to on its own (a Vault
   * database lease rolled before expiry). Returns the unsubscribe function.
   * `CachedCredentials` subscribes, so the pool sees one `rotate` event.
   */
  onRotate?(listener: (credentials: Credentials) => void): () => void;
  describe(): ProviderDescription;
}
