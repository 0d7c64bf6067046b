import type { SecretError } from '../errors.js';
import { Secret } from '../redact/secret.js';
import { backendError, isSecretError } from './backend-error.js';
import { readVar, requireVar, type EnvSource } from './env-source.js';
import { defaultSecretLogger, logSecretEvent, type SecretLogger } from './logger.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';
import { VaultClient, VaultHttpError } from './vault-client.js';
import { encodeSegments } from './vault-path.js';
import { VaultSession } from './vault-session.js';
import { vaultConnectionFromEnv, type VaultConnectionSettings } from './vault-settings.js';

const BACKEND = 'vault-database';

/** Settings of the `vault-database` backend (dynamic credentials). */
export interface VaultDatabaseSettings extends VaultConnectionSettings {
  /** The database secrets engine role (`VAULT_DB_ROLE`). Required. */
  role: string;
  /** Where the engine is mounted (`VAULT_DB_MOUNT`). Default: `database`. */
  mount?: string | undefined;
  /** The fraction of a lease's TTL after which it is renewed (or replaced). Default: 2/3. */
  renewFraction?: number | undefined;
  /**
   * Called with the new credentials each time the provider rolls to a new
   * lease before the old one ends. Default: none; `onRotate()` and
   * `CachedCredentials`'s `rotate` event give the same news.
   */
  onRotate?: ((credentials: Credentials) => void) | undefined;
}

/** Reads the connection variables plus `VAULT_DB_ROLE` (required) and `VAULT_DB_MOUNT`. */
export function vaultDatabaseSettingsFromEnv(env: EnvSource): VaultDatabaseSettings {
  return {
    ...vaultConnectionFromEnv(env, BACKEND),
    role: requireVar(env, 'VAULT_DB_ROLE', BACKEND, 'the database secrets engine role'),
    mount: readVar(env, 'VAULT_DB_MOUNT'),
  };
}

interface Lease {
  id: string;
  /** The TTL Vault first granted: the increment asked for at renewal. */
  grantedSeconds: number;
  /** Epoch ms; Infinity for a lease without TTL. */
  expiresAt: number;
  renewable: boolean;
  credentials: Credentials;
}

/**
 * The `vault-database` backend: short-lived PostgreSQL roles created by
 * Vault's database secrets engine for this process alone.
 *
 * Lifecycle of a lease: renewed at about 2/3 of its TTL; when Vault grants
 * less than asked (the role's max_ttl is near) or the lease is not
 * renewable, NEW credentials are fetched while the old ones still work, and
 * `onRotate` listeners hear about it so the pool opens new connections as the
 * new user and drains the old ones. The old lease is left to run out (Vault
 * then drops the role); `close()` revokes every lease still held.
 * `expiresAt` of the credentials is the lease's end.
 */
export function createVaultDatabaseProvider(settings: VaultDatabaseSettings): SecretProvider {
  if (settings.role.trim() === '') {
    throw backendError('PGW_SECRET_CONFIG', BACKEND, 'VAULT_DB_ROLE is empty.', {
      option: 'VAULT_DB_ROLE',
      fix: 'Set VAULT_DB_ROLE to a role of the database secrets engine.',
    });
  }
  return new VaultDatabaseProvider(settings);
}

class VaultDatabaseProvider implements SecretProvider {
  readonly name = BACKEND;
  readonly #settings: VaultDatabaseSettings;
  readonly #client: VaultClient;
  readonly #session: VaultSession;
  readonly #logger: SecretLogger;
  readonly #credsPath: string;
  readonly #renewFraction: number;
  readonly #listeners = new Set<(credentials: Credentials) => void>();
  /** Leases not yet ended, revoked by close(); the current one among them. */
  readonly #held = new Map<string, Lease>();
  #current: Lease | undefined;
  #acquiring: Promise<Lease> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #revoking = new Set<Promise<void>>();
  #warnedNotRenewable = false;

  constructor(settings: VaultDatabaseSettings) {
    this.#settings = settings;
    this.#logger = settings.logger ?? defaultSecretLogger;
    this.#client = new VaultClient(settings, BACKEND);
    this.#session = new VaultSession(this.#client, settings.auth, {
      backend: BACKEND,
      logger: this.#logger,
      pathOption: 'VAULT_DB_ROLE',
    });
    this.#credsPath = `${encodeSegments(settings.mount ?? 'database')}/creds/${encodeSegments(settings.role)}`;
    this.#renewFraction = settings.renewFraction ?? 2 / 3;
    if (settings.onRotate) this.#listeners.add(settings.onRotate);
  }

  async fetch(signal?: AbortSignal): Promise<Credentials> {
    if (this.#closed) throw this.#closedError();
    this.#prune();
    const current = this.#current;
    if (current && this.#usable(current)) return current.credentials;
    return (await this.#acquire(signal)).credentials;
  }

  invalidate(): void {
    // The server rejected these credentials: never hand them out again. The
    // lease stays held so close() still revokes it.
    clearTimeout(this.#timer);
    this.#current = undefined;
  }

  onRotate(listener: (credentials: Credentials) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#current = undefined;
    await this.#acquiring?.catch(() => undefined);
    await Promise.all(this.#revoking);
    const leases = [...this.#held.values()].filter((l) => l.expiresAt > Date.now());
    this.#held.clear();
    // One at a time: Vault's revocation statements run DROP OWNED BY, and two of those
    // touching one grant at once fail in PostgreSQL with "tuple concurrently updated".
    let failed = 0;
    for (const lease of leases) {
      await this.#session
        .request('PUT', 'sys/leases/revoke', { body: { lease_id: lease.id } })
        .catch(() => failed++);
    }
    if (failed > 0) {
      logSecretEvent(this.#logger, {
        level: 'warn',
        backend: BACKEND,
        message: `${failed} of ${leases.length} lease(s) could not be revoked; Vault drops them when they expire.`,
      });
    }
    this.#listeners.clear();
    await this.#session.close();
  }

  describe(): ProviderDescription {
    return {
      backend: BACKEND,
      address: this.#client.address.origin,
      namespace: this.#client.namespace,
      mount: this.#settings.mount ?? 'database',
      role: this.#settings.role,
      auth: this.#session.authMethod,
      tls: this.#client.tls,
      user: this.#current?.credentials.user,
      leaseExpiresAt: this.#current?.credentials.expiresAt?.toISOString(),
      leasesHeld: this.#held.size,
    };
  }

  /** Enough life left to hand out: more than half of the post-renewal window. */
  #usable(lease: Lease): boolean {
    const remaining = lease.expiresAt - Date.now();
    return remaining > Math.max(1000, (lease.grantedSeconds * 1000 * (1 - this.#renewFraction)) / 2);
  }

  /** New credentials from Vault, one request at a time. */
  #acquire(signal?: AbortSignal): Promise<Lease> {
    this.#acquiring ??= this.#requestLease(signal)
      .then((lease) => this.#install(lease))
      .finally(() => {
        this.#acquiring = undefined;
      });
    return this.#acquiring;
  }

  async #requestLease(signal?: AbortSignal): Promise<Lease> {
    let answer: unknown;
    try {
      answer = await this.#session.request('GET', this.#credsPath, { signal });
    } catch (error) {
      throw this.#credsError(error);
    }
    const body = (answer ?? {}) as {
      lease_id?: unknown;
      lease_duration?: unknown;
      renewable?: unknown;
      data?: { username?: unknown; password?: unknown };
    };
    const where = `Vault role ${this.#settings.mount ?? 'database'}/creds/${this.#settings.role}`;
    if (typeof body.data?.password !== 'string' || body.data.password === '') {
      throw backendError('PGW_SECRET_FIELD_MISSING', BACKEND, `${where} answered no password.`, {
        option: 'VAULT_DB_ROLE',
        fix: 'Check that VAULT_DB_MOUNT is a database secrets engine and the role is a dynamic role.',
      });
    }
    if (typeof body.data.username !== 'string' || typeof body.lease_id !== 'string') {
      throw backendError('PGW_SECRET_FIELD_MISSING', BACKEND, `${where} answered no username or lease_id.`, {
        option: 'VAULT_DB_ROLE',
        fix: 'Check that VAULT_DB_ROLE is a dynamic role (static roles are read at static-creds/).',
      });
    }
    const seconds = typeof body.lease_duration === 'number' ? body.lease_duration : 0;
    const expiresAt = seconds > 0 ? Date.now() + seconds * 1000 : Number.POSITIVE_INFINITY;
    const lease: Lease = {
      id: body.lease_id,
      grantedSeconds: seconds,
      expiresAt,
      renewable: body.renewable === true,
      credentials: {
        user: body.data.username,
        password: new Secret(body.data.password),
        version: body.lease_id,
        ...(seconds > 0 ? { expiresAt: new Date(expiresAt) } : {}),
      },
    };
    if (!lease.renewable) this.#warnNotRenewable(lease);
    return lease;
  }

  /** Makes `lease` current, schedules its renewal, tells listeners when it replaces another. */
  #install(lease: Lease): Lease {
    if (this.#closed) {
      void this.#revoke(lease);
      throw this.#closedError();
    }
    const previous = this.#current;
    this.#held.set(lease.id, lease);
    this.#current = lease;
    this.#schedule(lease);
    if (previous && previous.id !== lease.id) {
      for (const listener of this.#listeners) {
        try {
          listener(lease.credentials);
        } catch {
          // A listener's bug must not stop the rotation.
        }
      }
    }
    return lease;
  }

  #schedule(lease: Lease, delayMs?: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!Number.isFinite(lease.expiresAt) || this.#closed) return;
    const remaining = lease.expiresAt - Date.now();
    const wait = delayMs ?? remaining * this.#renewFraction;
    this.#timer = setTimeout(
      () => {
        const next = lease.renewable ? this.#renew(lease) : this.#roll(lease, 'the lease is not renewable');
        next.catch(() => undefined);
      },
      Math.max(0, wait),
    );
    this.#timer.unref();
  }

  async #renew(lease: Lease): Promise<void> {
    if (this.#current !== lease || this.#closed) return;
    let answer: unknown;
    try {
      answer = await this.#session.request('PUT', 'sys/leases/renew', {
        body: { lease_id: lease.id, increment: lease.grantedSeconds },
      });
    } catch (error) {
      if (error instanceof VaultHttpError && error.says(/not renewable/i)) {
        lease.renewable = false;
        this.#warnNotRenewable(lease);
        return this.#roll(lease, 'the lease is not renewable');
      }
      if (error instanceof VaultHttpError && error.status === 400) {
        // "lease not found" / "invalid lease": Vault already revoked it.
        return this.#roll(lease, 'Vault no longer knows the lease');
      }
      logSecretEvent(this.#logger, {
        level: 'warn',
        backend: BACKEND,
        code: isSecretError(error) ? error.pgwardenCode : 'PGW_SECRET_BACKEND_UNAVAILABLE',
        message: `renewing the lease of ${lease.credentials.user} failed; retrying before it ends.`,
      });
      return this.#retry(lease, () => this.#renew(lease));
    }
    if (this.#current !== lease || this.#closed) return;
    const body = (answer ?? {}) as { lease_duration?: unknown; renewable?: unknown };
    const granted = typeof body.lease_duration === 'number' ? body.lease_duration : 0;
    lease.expiresAt = Date.now() + granted * 1000;
    lease.renewable = body.renewable !== false;
    lease.credentials = { ...lease.credentials, expiresAt: new Date(lease.expiresAt) };
    if (granted < lease.grantedSeconds || !lease.renewable) {
      // max_ttl is in sight: the role's end is fixed, switch users while it still works.
      return this.#roll(
        lease,
        `Vault granted ${granted} s of the ${lease.grantedSeconds} s asked (max_ttl reached)`,
      );
    }
    this.#schedule(lease);
  }

  /** Replaces `lease` with new credentials before it ends. */
  async #roll(lease: Lease, reason: string): Promise<void> {
    if (this.#current !== lease || this.#closed) return;
    try {
      const next = await this.#acquire();
      logSecretEvent(this.#logger, {
        level: 'info',
        backend: BACKEND,
        message: `switched from ${lease.credentials.user} to ${next.credentials.user}: ${reason}; the old lease ends at ${new Date(lease.expiresAt).toISOString()}.`,
      });
    } catch (error) {
      if (this.#closed) return;
      logSecretEvent(this.#logger, {
        level: 'warn',
        backend: BACKEND,
        code: isSecretError(error) ? error.pgwardenCode : 'PGW_SECRET_BACKEND_UNAVAILABLE',
        message: `getting new credentials failed (${reason}); retrying before ${lease.credentials.user} expires.`,
      });
      this.#retry(lease, () => this.#roll(lease, reason));
    }
  }

  /** Tries again at a third of the remaining lifetime, while there is any. */
  #retry(lease: Lease, action: () => Promise<void>): void {
    const remaining = lease.expiresAt - Date.now();
    if (remaining <= 500 || this.#closed || this.#current !== lease) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void action().catch(() => undefined), Math.max(250, remaining / 3));
    this.#timer.unref();
  }

  #warnNotRenewable(lease: Lease): void {
    if (this.#warnedNotRenewable) return;
    this.#warnedNotRenewable = true;
    logSecretEvent(this.#logger, {
      level: 'warn',
      backend: BACKEND,
      code: 'PGW_SECRET_LEASE_NOT_RENEWABLE',
      message: `the lease of ${lease.credentials.user} cannot be renewed; new credentials will be fetched before it ends. Fix: if unintended, check the role's default_ttl/max_ttl (vault read ${this.#settings.mount ?? 'database'}/roles/${this.#settings.role}).`,
    });
  }

  async #revoke(lease: Lease): Promise<void> {
    this.#held.delete(lease.id);
    const revoking = this.#session.request('PUT', 'sys/leases/revoke', { body: { lease_id: lease.id } }).then(
      () => undefined,
      () => undefined,
    );
    // close() waits for these too: a lease that arrived during close is revoked before close returns.
    this.#revoking.add(revoking);
    await revoking;
    this.#revoking.delete(revoking);
  }

  /** Forgets leases that have ended: Vault revoked them itself. */
  #prune(): void {
    const now = Date.now();
    for (const [id, lease] of this.#held) if (lease.expiresAt <= now) this.#held.delete(id);
  }

  #credsError(error: unknown): SecretError {
    if (isSecretError(error)) return error;
    const mount = this.#settings.mount ?? 'database';
    // Vault answers 400 "unknown role: <name>" for a missing role; 404 when the mount is missing.
    if (error instanceof VaultHttpError && (error.status === 404 || error.says(/unknown role/i))) {
      return backendError(
        'PGW_SECRET_NOT_FOUND',
        BACKEND,
        `Vault has no database role "${this.#settings.role}" at ${mount}/creds/.`,
        {
          option: 'VAULT_DB_ROLE',
          fix: `Check VAULT_DB_ROLE and VAULT_DB_MOUNT (vault list ${mount}/roles).`,
        },
      );
    }
    if (error instanceof VaultHttpError) {
      return backendError(
        'PGW_SECRET_BACKEND_UNAVAILABLE',
        BACKEND,
        `Vault could not create credentials for role "${this.#settings.role}" (HTTP ${error.status}${error.errors.length > 0 ? `: ${error.errors.join('; ')}` : ''}).`,
        {
          option: 'VAULT_DB_ROLE',
          fix: "Check the role's creation statements and the engine's connection to PostgreSQL (vault read <mount>/config/<db>).",
        },
      );
    }
    return backendError('PGW_SECRET_BACKEND_UNAVAILABLE', BACKEND, 'requesting credentials failed.', {
      option: 'VAULT_ADDR',
      fix: 'See the cause.',
      cause: error,
    });
  }

  #closedError(): SecretError {
    return backendError('PGW_SECRET_BACKEND_UNAVAILABLE', BACKEND, 'the provider is closed.', {
      fix: 'Create a new provider after close().',
    });
  }
}
