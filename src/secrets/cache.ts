import { EventEmitter } from 'node:events';
import { SecretError, type ErrorCode } from '../errors.js';
import { abortedError, backendError } from './backend-error.js';
import { defaultSecretLogger, logSecretEvent, type SecretLogger } from './logger.js';
import type { Secret } from '../redact/secret.js';
import type { Credentials, ProviderDescription, SecretProvider } from './provider.js';

/** Options of {@link CachedCredentials}. */
export interface CachedCredentialsOptions {
  /**
   * How long fetched credentials are served before the backend is asked
   * again. Default: 5 minutes (300 000 ms), as the Takumi guideline asks.
   */
  ttlMs?: number | undefined;
  /**
   * How long past their freshness cached credentials may still be served
   * while the backend fails. Never past the credentials' own `expiresAt`.
   * `0` turns stale-if-error off. Default: 15 minutes (900 000 ms).
   */
  staleGraceMs?: number | undefined;
  /**
   * The fraction of the fresh period after which a `get()` starts a
   * background refresh, as `[from, to]`: each fetch draws its point in this
   * range at random so a fleet started together does not refresh together.
   * Default: `[0.8, 0.9]`.
   */
  refreshWindow?: readonly [number, number] | undefined;
  /**
   * The most of `expiresAt`'s lead that is kept as a margin: credentials that
   * expire are refreshed at `expiresAt - min(this, a third of their lifetime)`.
   * Default: 5 minutes (300 000 ms).
   */
  expiryMarginMs?: number | undefined;
  /** A backend fetch taking longer fails with `PGW_SECRET_BACKEND_UNAVAILABLE`. Default: 10 000 ms. */
  fetchTimeoutMs?: number | undefined;
  /**
   * Backoff between backend calls while the backend fails, as
   * `[first, max]` in ms: after the n-th failure in a row the next call waits
   * `min(max, first · 2^(n-1))`, jittered down by up to half, so a fleet does
   * not hammer a backend that is down, nor come back in lockstep. Meanwhile
   * callers get stale credentials (within the grace) or, with none, the last
   * error at once. `[0, 0]` retries on every call. Default: `[1000, 60000]`.
   */
  retryBackoffMs?: readonly [number, number] | undefined;
  /** Receives `PGW_SECRET_STALE` and refresh-failure warnings. Default: {@link defaultSecretLogger}. */
  logger?: SecretLogger | undefined;
  /** Random source in [0, 1) for the jitter; tests pin it. Default: `Math.random`. */
  random?: (() => number) | undefined;
}

/** Counters for metrics and `pgwarden doctor`. */
export interface CachedCredentialsStats {
  /** Backend fetches started (successful or not). */
  fetches: number;
  /** `get()` calls answered from the cache without waiting. */
  hits: number;
  /** `get()` calls that waited for the backend. */
  misses: number;
  /** `get()` calls answered with stale credentials because the backend failed. */
  staleServed: number;
  /** End of the last successful fetch. */
  lastFetchAt: Date | undefined;
  /** Code of the last failed fetch; cleared by the next successful one. */
  lastErrorCode: ErrorCode | undefined;
  lastErrorAt: Date | undefined;
  /** Failed fetches in a row; 0 once one succeeds. */
  consecutiveFailures: number;
  /** During an outage: no backend call before this (the backoff). */
  retryAt: Date | undefined;
}

/** Listener of the `rotate` event: the credentials changed (user, password or version). */
export type RotateListener = (current: Credentials, previous: Credentials) => void;

interface CacheEntry {
  credentials: Credentials;
  fetchedAt: number;
  /** Served without asking the backend until then. */
  freshUntil: number;
  /** A `get()` after this starts a background refresh. */
  refreshAt: number;
  /** `expiresAt` of the credentials; stale serving never goes past it. */
  hardExpiry: number;
  /** The pool reported them rejected: never serve them again, not even stale. */
  invalidated: boolean;
}

const DEFAULTS = {
  ttlMs: 5 * 60_000,
  staleGraceMs: 15 * 60_000,
  refreshWindow: [0.8, 0.9] as const,
  expiryMarginMs: 5 * 60_000,
  fetchTimeoutMs: 10_000,
  retryBackoffMs: [1_000, 60_000] as const,
};

/**
 * A cache around any {@link SecretProvider}, so providers stay simple:
 *
 * - TTL, shortened by the credentials' `expiresAt` (a Vault lease, an IAM token);
 * - single flight: any number of concurrent `get()` make one backend call;
 * - jittered background refresh, so callers rarely wait;
 * - bounded stale-if-error: during an outage the last credentials are served
 *   for `staleGraceMs`, with one `PGW_SECRET_STALE` warning per outage; past
 *   the grace the backend's own coded error is thrown;
 * - exponential backoff with jitter between backend calls during an outage,
 *   however many callers ask;
 * - `invalidate()` after an authentication failure;
 * - a `rotate` event when the credentials change.
 */
export class CachedCredentials {
  readonly #provider: SecretProvider;
  readonly #ttlMs: number;
  readonly #staleGraceMs: number;
  readonly #refreshFrom: number;
  readonly #refreshTo: number;
  readonly #expiryMarginMs: number;
  readonly #fetchTimeoutMs: number;
  readonly #logger: SecretLogger;
  readonly #random: () => number;
  readonly #events = new EventEmitter<{ rotate: [current: Credentials, previous: Credentials] }>();
  readonly #unsubscribe: (() => void) | undefined;

  #entry: CacheEntry | undefined;
  /**
   * The password the current one replaced: still matched by redaction (open
   * connections and the AWSPREVIOUS fallback may still use it), and retired
   * at the next rotation, so redaction tracks two passwords per cache, not
   * every one since startup.
   */
  #superseded: Secret | undefined;
  #inflight: Promise<CacheEntry> | undefined;
  /** Set while the backend fails; one warning of each kind per outage. */
  #outage:
    | {
        since: number;
        staleWarned: boolean;
        refreshWarned: boolean;
        failures: number;
        /** No backend call before this. */
        retryAt: number;
        lastError: SecretError;
      }
    | undefined;
  readonly #backoffFirstMs: number;
  readonly #backoffMaxMs: number;
  #closed = false;
  readonly #stats: CachedCredentialsStats = {
    fetches: 0,
    hits: 0,
    misses: 0,
    staleServed: 0,
    lastFetchAt: undefined,
    lastErrorCode: undefined,
    lastErrorAt: undefined,
    consecutiveFailures: 0,
    retryAt: undefined,
  };

  constructor(provider: SecretProvider, options: CachedCredentialsOptions = {}) {
    this.#provider = provider;
    this.#ttlMs = nonNegative(options.ttlMs ?? DEFAULTS.ttlMs, 'ttlMs');
    this.#staleGraceMs = nonNegative(options.staleGraceMs ?? DEFAULTS.staleGraceMs, 'staleGraceMs');
    const [from, to] = options.refreshWindow ?? DEFAULTS.refreshWindow;
    if (!(from > 0 && from <= to && to <= 1)) {
      throw backendError(
        'PGW_SECRET_CONFIG',
        provider.name,
        'refreshWindow must satisfy 0 < from <= to <= 1.',
        {
          option: 'refreshWindow',
          fix: 'Use the default [0.8, 0.9] or a similar range.',
        },
      );
    }
    this.#refreshFrom = from;
    this.#refreshTo = to;
    this.#expiryMarginMs = nonNegative(options.expiryMarginMs ?? DEFAULTS.expiryMarginMs, 'expiryMarginMs');
    this.#fetchTimeoutMs = nonNegative(
      options.fetchTimeoutMs ?? DEFAULTS.fetchTimeoutMs,
      'fetchTimeoutMs',
      1,
    );
    const [first, max] = options.retryBackoffMs ?? DEFAULTS.retryBackoffMs;
    this.#backoffFirstMs = nonNegative(first, 'retryBackoffMs');
    this.#backoffMaxMs = Math.max(this.#backoffFirstMs, nonNegative(max, 'retryBackoffMs'));
    this.#logger = options.logger ?? defaultSecretLogger;
    this.#random = options.random ?? Math.random;
    this.#unsubscribe = provider.onRotate?.((credentials) => {
      if (!this.#closed) this.#accept(credentials);
    });
  }

  /** The wrapped backend's name, e.g. `vault`. */
  get backend(): string {
    return this.#provider.name;
  }

  /**
   * Current credentials. Answers from the cache while fresh, waits for the
   * backend otherwise; during an outage serves stale credentials within the
   * grace. `signal` cancels this caller's wait only, never the shared fetch.
   */
  async get(signal?: AbortSignal): Promise<Credentials> {
    if (this.#closed) throw this.#closedError();
    if (signal?.aborted) throw abortedError(this.backend, signal, { byCaller: true });
    const entry = this.#entry;
    const now = Date.now();
    if (entry && !entry.invalidated && now < entry.freshUntil) {
      this.#stats.hits += 1;
      if (now >= entry.refreshAt && !this.#backingOff(now)) this.#refresh().catch(() => undefined);
      return entry.credentials;
    }
    // During a known outage, callers are not made to wait for yet another
    // failing fetch: they get the stale credentials at once while one
    // background refresh probes the backend.
    const stale = this.#outage ? this.#staleEntry(now) : undefined;
    if (stale) {
      this.#stats.staleServed += 1;
      if (!this.#backingOff(now)) this.#refresh().catch(() => undefined);
      return stale.credentials;
    }
    // Nothing to serve and the backend failed moments ago: answer with its
    // error now instead of calling it again before the backoff allows.
    if (this.#outage && this.#backingOff(now) && !this.#inflight) {
      this.#stats.misses += 1;
      throw this.#outage.lastError;
    }
    this.#stats.misses += 1;
    try {
      return (await this.#wait(this.#refresh(), signal)).credentials;
    } catch (error) {
      if (signal?.aborted || !(error instanceof SecretError)) throw error;
      const stale = this.#staleEntry(Date.now());
      if (!stale) throw error;
      this.#stats.staleServed += 1;
      this.#warnStale(stale, error);
      return stale.credentials;
    }
  }

  /**
   * Marks the cached credentials as rejected (the pool calls this after an
   * authentication failure): the next `get()` waits for the backend, and the
   * rejected credentials are never served stale.
   */
  invalidate(): void {
    if (this.#entry) this.#entry.invalidated = true;
    this.#provider.invalidate?.();
  }

  /**
   * The backend's previous credentials (AWSPREVIOUS, the prior KV version),
   * tried after an authentication failure while a rotation propagates.
   * Not cached here: the pool reads it at most once per rotation
   * (pool/credential-source.ts). Undefined when the backend keeps none.
   */
  async fetchPrevious(signal?: AbortSignal): Promise<Credentials | undefined> {
    if (this.#closed) throw this.#closedError();
    if (!this.#provider.fetchPrevious) return undefined;
    const controller = new AbortController();
    try {
      return await this.#withTimeout(this.#provider.fetchPrevious(controller.signal), controller, signal);
    } catch (error) {
      throw this.#normalize(error);
    }
  }

  /** Subscribes to credential changes; the pool rolls its connections on it. */
  on(event: 'rotate', listener: RotateListener): this {
    this.#events.on(event, listener);
    return this;
  }

  off(event: 'rotate', listener: RotateListener): this {
    this.#events.off(event, listener);
    return this;
  }

  /** A snapshot of the counters. */
  stats(): Readonly<CachedCredentialsStats> {
    return Object.freeze({ ...this.#stats });
  }

  describe(): ProviderDescription {
    return this.#provider.describe();
  }

  /** Stops the provider's timers and revokes its leases; later `get()` calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    this.#events.removeAllListeners();
    this.#entry?.credentials.password?.retire();
    this.#superseded?.retire();
    this.#superseded = undefined;
    this.#entry = undefined;
    await this.#provider.close?.();
  }

  /** One backend fetch shared by every concurrent caller. */
  #refresh(): Promise<CacheEntry> {
    if (this.#inflight) return this.#inflight;
    const controller = new AbortController();
    this.#stats.fetches += 1;
    const flight = this.#withTimeout(this.#provider.fetch(controller.signal), controller)
      .then(
        (credentials) => this.#accept(credentials),
        (error: unknown) => {
          throw this.#recordFailure(this.#normalize(error));
        },
      )
      .finally(() => {
        if (this.#inflight === flight) this.#inflight = undefined;
      });
    this.#inflight = flight;
    return flight;
  }

  /** Stores new credentials, ends an outage, emits `rotate` when they differ. */
  #accept(credentials: Credentials): CacheEntry {
    const previous = this.#entry;
    const entry = this.#makeEntry(credentials, Date.now());
    this.#entry = entry;
    this.#retireReplaced(previous?.credentials.password, credentials);
    this.#stats.lastFetchAt = new Date(entry.fetchedAt);
    this.#stats.lastErrorCode = undefined;
    this.#stats.lastErrorAt = undefined;
    this.#stats.consecutiveFailures = 0;
    this.#stats.retryAt = undefined;
    if (this.#outage) {
      const seconds = Math.round((entry.fetchedAt - this.#outage.since) / 1000);
      this.#outage = undefined;
      logSecretEvent(this.#logger, {
        level: 'info',
        backend: this.backend,
        message: `the backend answers again after ${seconds} s; fresh credentials are in use.`,
      });
    }
    if (previous && changed(previous.credentials, credentials)) {
      this.#events.emit('rotate', credentials, previous.credentials);
    }
    return entry;
  }

  /** Keeps redaction bounded: a replaced password stops being tracked (one generation late). */
  #retireReplaced(replaced: Secret | undefined, current: Credentials): void {
    const password = current.password;
    // A token no server accepts after its expiry need not be matched after it either.
    if (password && current.passwordIsToken && current.expiresAt) password.retireAt(current.expiresAt);
    if (!replaced || replaced === password) return;
    if (password && replaced.equals(password)) {
      // The same value fetched again: the new Secret tracks it.
      replaced.retire();
      return;
    }
    this.#superseded?.retire();
    this.#superseded = replaced;
  }

  #makeEntry(credentials: Credentials, now: number): CacheEntry {
    let freshUntil = now + this.#ttlMs;
    const expiresAt = credentials.expiresAt?.getTime();
    if (expiresAt !== undefined) {
      // Refresh ahead of expiry by a margin proportional to the lifetime, so a
      // 15-minute IAM token and a 3-second test lease both renew in time.
      const lifetime = Math.max(0, expiresAt - now);
      const margin = Math.min(this.#expiryMarginMs, lifetime / 3);
      freshUntil = Math.min(freshUntil, expiresAt - margin);
    }
    const fraction = this.#refreshFrom + this.#random() * (this.#refreshTo - this.#refreshFrom);
    return {
      credentials,
      fetchedAt: now,
      freshUntil,
      refreshAt: now + Math.max(0, freshUntil - now) * fraction,
      hardExpiry: expiresAt ?? Number.POSITIVE_INFINITY,
      invalidated: false,
    };
  }

  /** True while the backoff after a failure forbids another backend call. */
  #backingOff(now: number): boolean {
    return this.#outage !== undefined && now < this.#outage.retryAt;
  }

  /** The cached entry if it may still be served during an outage. */
  #staleEntry(now: number): CacheEntry | undefined {
    const entry = this.#entry;
    if (!entry || entry.invalidated) return undefined;
    if (now >= entry.freshUntil + this.#staleGraceMs || now >= entry.hardExpiry) return undefined;
    return entry;
  }

  #recordFailure(error: SecretError): SecretError {
    const now = Date.now();
    this.#stats.lastErrorCode = error.pgwardenCode;
    this.#stats.lastErrorAt = new Date(now);
    this.#outage ??= {
      since: now,
      staleWarned: false,
      refreshWarned: false,
      failures: 0,
      retryAt: now,
      lastError: error,
    };
    this.#outage.failures += 1;
    this.#outage.lastError = error;
    const delay = Math.min(this.#backoffMaxMs, this.#backoffFirstMs * 2 ** (this.#outage.failures - 1));
    this.#outage.retryAt = now + delay * (1 - this.#random() / 2);
    this.#stats.consecutiveFailures = this.#outage.failures;
    this.#stats.retryAt = new Date(this.#outage.retryAt);
    const entry = this.#entry;
    // A failure while the cache is still fresh goes unnoticed by callers:
    // say it once, so an operator can act before the grace runs out.
    if (entry && !entry.invalidated && now < entry.freshUntil && !this.#outage.refreshWarned) {
      this.#outage.refreshWarned = true;
      logSecretEvent(this.#logger, {
        level: 'warn',
        backend: this.backend,
        code: error.pgwardenCode,
        message: `background refresh failed; cached credentials are still fresh. ${error.message}`,
      });
    }
    return error;
  }

  #warnStale(entry: CacheEntry, error: SecretError): void {
    if (!this.#outage || this.#outage.staleWarned) return;
    this.#outage.staleWarned = true;
    const until = Math.min(entry.freshUntil + this.#staleGraceMs, entry.hardExpiry);
    logSecretEvent(this.#logger, {
      level: 'warn',
      backend: this.backend,
      code: 'PGW_SECRET_STALE',
      message:
        `the backend failed (${error.code}); serving credentials fetched at ${new Date(entry.fetchedAt).toISOString()} ` +
        `until ${new Date(until).toISOString()} at the latest. ${error.message}`,
    });
  }

  /** Races the backend against the fetch timeout and, optionally, one caller's signal. */
  #withTimeout<T>(work: Promise<T>, controller: AbortController, callerSignal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const reason = new DOMException('The secrets backend did not answer in time.', 'TimeoutError');
        controller.abort(reason);
        reject(abortedError(this.backend, controller.signal));
        // Not unref'ed: someone awaits this fetch, and it is cleared when the fetch settles.
      }, this.#fetchTimeoutMs);
      const onAbort = () => {
        controller.abort(callerSignal?.reason);
        reject(abortedError(this.backend, callerSignal as AbortSignal, { byCaller: true }));
      };
      callerSignal?.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onAbort);
      });
    });
  }

  /** Waits for the shared fetch, but lets one caller give up on its own signal. */
  #wait(flight: Promise<CacheEntry>, signal: AbortSignal | undefined): Promise<CacheEntry> {
    if (!signal) return flight;
    return new Promise<CacheEntry>((resolve, reject) => {
      const onAbort = () => reject(abortedError(this.backend, signal, { byCaller: true }));
      signal.addEventListener('abort', onAbort, { once: true });
      flight.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  #normalize(error: unknown): SecretError {
    if (error instanceof SecretError) return error;
    return backendError('PGW_SECRET_BACKEND_UNAVAILABLE', this.backend, 'the backend failed unexpectedly.', {
      fix: 'See the cause; report it if it persists.',
      cause: error,
    });
  }

  #closedError(): SecretError {
    return backendError(
      'PGW_SECRET_BACKEND_UNAVAILABLE',
      this.backend,
      'the credentials cache has been closed.',
      {
        fix: 'Create a new provider and cache after close().',
      },
    );
  }
}

/**
 * True when the backend switched user, password or version. A fresh RDS IAM
 * token is not a rotation: connections opened with the old token stay valid,
 * so rolling the pool for it would only churn connections.
 */
function changed(previous: Credentials, current: Credentials): boolean {
  if (previous.user !== current.user) return true;
  if (previous.passwordIsToken && current.passwordIsToken) return false;
  if (previous.version !== current.version) return true;
  if (previous.password === undefined || current.password === undefined) {
    return previous.password !== current.password;
  }
  return !previous.password.equals(current.password);
}

function nonNegative(value: number, option: string, min = 0): number {
  if (!Number.isFinite(value) || value < min) {
    throw new SecretError(
      'PGW_SECRET_CONFIG',
      `The credentials cache option ${option} must be a number of ms >= ${min}.`,
      {
        option,
        fix: `Remove ${option} to use the default.`,
      },
    );
  }
  return value;
}
