import type { SecretError } from '../errors.js';
import type { Secret } from '../redact/secret.js';
import { backendError, isSecretError } from './backend-error.js';
import { logSecretEvent, type SecretLogger } from './logger.js';
import { tokenFromAuth, vaultLogin, type VaultAuthSettings, type VaultTokenInfo } from './vault-auth.js';
import { VaultHttpError, type VaultClient } from './vault-client.js';

/** Options of a {@link VaultSession}. */
export interface VaultSessionOptions {
  backend: string;
  logger: SecretLogger;
  /** The fraction of a token's TTL after which it is renewed. Default: 2/3. */
  renewFraction?: number | undefined;
  /** The variable naming the path read, for access-denied errors. Default: `VAULT_PATH`. */
  pathOption?: string | undefined;
}

interface CurrentToken extends VaultTokenInfo {
  obtainedAt: number;
  /** The TTL the token started with: the increment asked for at renewal. */
  initialTtlSeconds: number;
  /** Created by our login (AppRole, Kubernetes), so ours to revoke and to replace. */
  ownLogin: boolean;
}

/**
 * An authenticated conversation with Vault: holds the token, renews it at
 * about 2/3 of its TTL on an unref'ed timer, logs in again (AppRole,
 * Kubernetes) when renewal is no longer possible, and turns Vault's
 * ambiguous 403 into the right code.
 *
 * Vault answers 403 "permission denied" both for a dead token and for a
 * live token whose policy does not cover the path. The session asks
 * `auth/token/lookup-self` (allowed by the default policy) to tell them
 * apart: `PGW_SECRET_TOKEN_EXPIRED` or `PGW_SECRET_ACCESS_DENIED`.
 */
export class VaultSession {
  readonly #client: VaultClient;
  readonly #auth: VaultAuthSettings;
  readonly #backend: string;
  readonly #logger: SecretLogger;
  readonly #renewFraction: number;
  readonly #pathOption: string;
  #current: CurrentToken | undefined;
  #pending: Promise<Secret> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #warnedStaticExpiry = false;

  constructor(client: VaultClient, auth: VaultAuthSettings, options: VaultSessionOptions) {
    this.#client = client;
    this.#auth = auth;
    this.#backend = options.backend;
    this.#logger = options.logger;
    this.#renewFraction = options.renewFraction ?? 2 / 3;
    this.#pathOption = options.pathOption ?? 'VAULT_PATH';
  }

  get authMethod(): VaultAuthSettings['method'] {
    return this.#auth.method;
  }

  /** When the current token expires, if known and finite. */
  get tokenExpiresAt(): Date | undefined {
    const c = this.#current;
    return c && c.ttlSeconds > 0 ? new Date(c.obtainedAt + c.ttlSeconds * 1000) : undefined;
  }

  /**
   * An authenticated request. A 403 is retried once after a fresh login
   * when the session can log in by itself, then classified.
   */
  async request(
    method: string,
    path: string,
    options: { body?: unknown; signal?: AbortSignal | undefined } = {},
  ): Promise<unknown> {
    const token = await this.#token();
    try {
      return await this.#client.request(method, path, { ...options, token });
    } catch (error) {
      if (!is403(error)) throw error;
      if (this.#auth.method === 'token') throw await this.#classify403(token, method, path);
      // The token died between renewals (revoked, Vault restored from a snapshot): log in again, once.
      this.#forget(token);
      const fresh = await this.#token();
      try {
        return await this.#client.request(method, path, { ...options, token: fresh });
      } catch (again) {
        if (!is403(again)) throw again;
        throw await this.#classify403(fresh, method, path);
      }
    }
  }

  /** Stops renewal and revokes the token if this session created it by logging in. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    const current = this.#current;
    this.#current = undefined;
    if (current?.ownLogin) {
      await this.#client
        .request('POST', 'auth/token/revoke-self', { token: current.token })
        .catch(() => undefined);
      current.token.retire();
    }
    await this.#client.close();
  }

  /** The current token, obtaining one (single flight) when there is none or it expired. */
  #token(): Promise<Secret> {
    if (this.#closed) {
      return Promise.reject(
        backendError('PGW_SECRET_BACKEND_UNAVAILABLE', this.#backend, 'the Vault session is closed.', {
          fix: 'Create a new provider after close().',
        }),
      );
    }
    const current = this.#current;
    if (
      current &&
      (current.ttlSeconds === 0 || Date.now() < current.obtainedAt + current.ttlSeconds * 1000 - 1000)
    ) {
      return Promise.resolve(current.token);
    }
    this.#pending ??= this.#obtain().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #obtain(): Promise<Secret> {
    let info: VaultTokenInfo;
    const auth = this.#auth;
    if (auth.method === 'token') {
      info = await this.#lookupSelf(auth.token);
    } else {
      info = await vaultLogin(this.#client, auth, this.#backend);
    }
    if (this.#closed) {
      // Closed while logging in: do not leave a live token behind.
      if (auth.method !== 'token') {
        await this.#client
          .request('POST', 'auth/token/revoke-self', { token: info.token })
          .catch(() => undefined);
      }
      throw backendError('PGW_SECRET_BACKEND_UNAVAILABLE', this.#backend, 'the Vault session is closed.', {
        fix: 'Create a new provider after close().',
      });
    }
    // A token replaced by a new login is dead to Vault: stop matching it, so
    // redaction does not grow with every login of a long-lived process.
    const replaced = this.#current;
    if (replaced?.ownLogin && replaced.token !== info.token) replaced.token.retire();
    this.#current = {
      ...info,
      obtainedAt: Date.now(),
      initialTtlSeconds: info.ttlSeconds,
      ownLogin: auth.method !== 'token',
    };
    this.#schedule();
    return info.token;
  }

  /** Validates a static token and learns its TTL. */
  async #lookupSelf(token: Secret): Promise<VaultTokenInfo> {
    let answer: unknown;
    try {
      answer = await this.#client.request('GET', 'auth/token/lookup-self', { token });
    } catch (error) {
      if (is403(error)) throw this.#expiredError();
      throw error;
    }
    const data = (answer as { data?: { ttl?: unknown; renewable?: unknown } } | undefined)?.data;
    return {
      token,
      ttlSeconds: typeof data?.ttl === 'number' ? data.ttl : 0,
      renewable: data?.renewable === true,
    };
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const current = this.#current;
    if (!current || current.ttlSeconds === 0 || this.#closed) return;
    const delayMs = current.ttlSeconds * 1000 * this.#renewFraction;
    let action: () => Promise<void>;
    if (current.renewable) {
      action = () => this.#renew(current);
    } else if (current.ownLogin) {
      action = () => this.#relogin(current, 'the token is not renewable');
    } else {
      this.#warnStaticExpiry(current, 'VAULT_TOKEN is not renewable');
      return;
    }
    this.#timer = setTimeout(() => {
      action().catch(() => undefined);
    }, delayMs);
    this.#timer.unref();
  }

  async #renew(current: CurrentToken): Promise<void> {
    if (this.#current !== current || this.#closed) return;
    let renewed: VaultTokenInfo | undefined;
    try {
      const answer = await this.#client.request('POST', 'auth/token/renew-self', {
        token: current.token,
        body: { increment: `${current.initialTtlSeconds}s` },
      });
      renewed = tokenFromAuth(
        (answer as { auth?: Parameters<typeof tokenFromAuth>[0] } | undefined)?.auth,
        current.token,
      );
    } catch (error) {
      if (current.ownLogin) return this.#relogin(current, `renewal failed (${describeError(error)})`);
      logSecretEvent(this.#logger, {
        level: 'warn',
        backend: this.#backend,
        code: isSecretError(error) ? error.pgwardenCode : 'PGW_SECRET_TOKEN_EXPIRED',
        message: `renewing VAULT_TOKEN failed (${describeError(error)}); retrying before it expires.`,
      });
      this.#retryLater(current);
      return;
    }
    if (this.#current !== current || this.#closed || !renewed) return;
    // Vault caps renewals at the token's max TTL: a shorter TTL than asked
    // means the end is fixed. A login method then logs in again in time; a
    // static token can only be replaced by the operator.
    const capped = renewed.ttlSeconds < current.initialTtlSeconds;
    const next: CurrentToken = { ...current, ...renewed, token: current.token, obtainedAt: Date.now() };
    this.#current = next;
    if (capped && next.ownLogin) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(
        () => void this.#relogin(next, 'the token reached its max TTL').catch(() => undefined),
        next.ttlSeconds * 1000 * this.#renewFraction,
      );
      this.#timer.unref();
      return;
    }
    if (capped && next.ttlSeconds * (1 - this.#renewFraction) < 1) {
      this.#warnStaticExpiry(next, 'VAULT_TOKEN reached its max TTL');
      return;
    }
    this.#schedule();
  }

  async #relogin(current: CurrentToken, reason: string): Promise<void> {
    if (this.#current !== current || this.#closed || this.#auth.method === 'token') return;
    try {
      const info = await vaultLogin(this.#client, this.#auth, this.#backend);
      if (this.#closed) {
        await this.#client
          .request('POST', 'auth/token/revoke-self', { token: info.token })
          .catch(() => undefined);
        return;
      }
      this.#current = { ...info, obtainedAt: Date.now(), initialTtlSeconds: info.ttlSeconds, ownLogin: true };
      logSecretEvent(this.#logger, {
        level: 'info',
        backend: this.#backend,
        message: `logged in to Vault again (${this.#auth.method}): ${reason}.`,
      });
      // The old token is ours; revoke it so it does not outlive its use.
      await this.#client
        .request('POST', 'auth/token/revoke-self', { token: current.token })
        .catch(() => undefined);
      this.#schedule();
    } catch (error) {
      logSecretEvent(this.#logger, {
        level: 'warn',
        backend: this.#backend,
        code: isSecretError(error) ? error.pgwardenCode : 'PGW_SECRET_BACKEND_UNAVAILABLE',
        message: `logging in to Vault again failed (${describeError(error)}); retrying before the token expires.`,
      });
      this.#retryLater(current);
    }
  }

  /** Retries renewal or login at a third of the remaining lifetime, while there is any. */
  #retryLater(current: CurrentToken): void {
    const remaining = current.obtainedAt + current.ttlSeconds * 1000 - Date.now();
    if (remaining <= 1000 || this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        const retry = current.renewable ? this.#renew(current) : this.#relogin(current, 'retry');
        retry.catch(() => undefined);
      },
      Math.max(500, remaining / 3),
    );
    this.#timer.unref();
  }

  #warnStaticExpiry(current: CurrentToken, reason: string): void {
    if (this.#warnedStaticExpiry) return;
    this.#warnedStaticExpiry = true;
    const end = new Date(current.obtainedAt + current.ttlSeconds * 1000).toISOString();
    logSecretEvent(this.#logger, {
      level: 'warn',
      backend: this.#backend,
      code: 'PGW_SECRET_TOKEN_EXPIRED',
      message: `${reason}: it stops working at ${end}. Fix: provide a new VAULT_TOKEN before then, or use AppRole/Kubernetes auth so pgwarden logs in by itself.`,
    });
  }

  #forget(token: Secret): void {
    if (this.#current?.token === token) {
      clearTimeout(this.#timer);
      if (this.#current.ownLogin) token.retire();
      this.#current = undefined;
    }
  }

  /** Tells a dead token from a live one without the policy for the path. */
  async #classify403(token: Secret, method: string, path: string): Promise<SecretError> {
    try {
      await this.#client.request('GET', 'auth/token/lookup-self', { token });
    } catch (error) {
      if (is403(error)) {
        this.#forget(token);
        return this.#expiredError();
      }
      if (isSecretError(error)) return error;
    }
    const capability = method === 'GET' ? 'read' : 'update';
    return backendError(
      'PGW_SECRET_ACCESS_DENIED',
      this.#backend,
      `Vault denied ${method} /v1/${path} (403 permission denied): the token is valid but its policies do not allow this path.`,
      {
        option: this.#pathOption,
        fix: `Grant it in a policy the token carries: path "${path}" { capabilities = ["${capability}"] } (vault policy write …); a token issued without that policy must be issued again with it. If the token was revoked meanwhile, issue a new one.`,
      },
    );
  }

  #expiredError(): SecretError {
    const fix =
      this.#auth.method === 'token'
        ? 'Issue a new token (vault token create -policy=<policy>) and update VAULT_TOKEN, or use AppRole/Kubernetes auth so pgwarden logs in again by itself. If the token is valid, its policies lack the default policy (auth/token/lookup-self): grant it, and the path read.'
        : `Check the role's token_ttl/token_max_ttl and that its policies include the default policy; the ${this.#auth.method} login itself succeeded.`;
    return backendError(
      'PGW_SECRET_TOKEN_EXPIRED',
      this.#backend,
      'the Vault token is expired or revoked (403 permission denied, also on auth/token/lookup-self).',
      { option: this.#auth.method === 'token' ? 'VAULT_TOKEN' : 'VAULT_AUTH_METHOD', fix },
    );
  }
}

function is403(error: unknown): error is VaultHttpError {
  return error instanceof VaultHttpError && error.status === 403;
}

function describeError(error: unknown): string {
  if (isSecretError(error)) return error.code;
  if (error instanceof VaultHttpError) return `HTTP ${error.status}`;
  return error instanceof Error ? error.name : 'error';
}
