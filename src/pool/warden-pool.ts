/**
 * WardenPool: a real `pg.Pool` (node-postgres' pg-pool with pgwarden's own
 * Client class), so everything written for a pg pool accepts it unchanged,
 * plus what a plain pool lacks: configuration from every source judged by
 * the one connection gate, credentials resolved per physical connection
 * (rotation, dynamic users), backoff and pre-ping, connections discarded only
 * when the session ended, coded errors, readiness and stats.
 *
 * pg-pool's API, events and payloads are kept as they are; pgwarden's
 * additions sit beside them under their own names.
 */
import pg from 'pg';
import type { ConfigWarning } from '../config/layer.js';
import {
  admitLink,
  admitRole,
  admitSessionSettings,
  violationsToWarn,
  type ConnectionPurpose,
} from '../config/gate.js';
import { ROLE_FACTS_SQL, type RoleFacts } from '../config/policy.js';
import type { HostPort, ResolvedConfig } from '../config/schema.js';
import { PgwardenError, PolicyError, PoolError, type PolicyViolation } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { isSqlFragment, sql, type SqlFragment } from '../sql/sql.js';
import { tlsSessionInfo, type TlsSessionInfo } from '../tls/session-info.js';
import { backoffDelay, sleep } from './backoff.js';
import { classifyConnectError, classifyQueryError, endsSession } from './classify-error.js';
import type { CredentialSource, RotationEvent } from './credential-source.js';
import { PG_PASSTHROUGH_KEYS } from '../config/pg-options.js';
import {
  resolveWithSecrets,
  resolveWithoutSecrets,
  usesSecretsBackend,
  type PoolResolution,
} from './pool-credentials.js';
import type { CreatePoolOptions } from './pool-options.js';
import {
  checkDatabase,
  checkReady,
  type DatabaseReport,
  type PoolStats,
  type ReadyReport,
} from './readiness.js';
import { PoolDiagnostics } from './diagnostics.js';
import { ReadReplicas, type ReadPath } from './read-replicas.js';
import { sessionSettingMismatches, setLocalStatements } from './session-settings.js';
import { clientStream, createClientClass } from './warden-client.js';

export type { PoolStats } from './readiness.js';

/** Anything pool.query accepts besides pg's own forms: a `sql` fragment. */
export type QueryInput = string | SqlFragment | pg.QueryConfig;

/** What a transaction callback receives. */
export interface TransactionClient {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    input: QueryInput,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** The underlying pg client, for APIs (COPY, cursors) the wrapper does not cover. */
  readonly client: pg.PoolClient;
}

/** What the pool learned while becoming ready. */
export interface StartupReport {
  readonly tls: TlsSessionInfo | undefined;
  readonly role: RoleFacts | undefined;
  readonly serverVersion: string | undefined;
  readonly warnings: readonly ConfigWarning[];
  /** Violations that did not refuse: outside production, or relaxed by `purpose: 'admin'`. */
  readonly violations: readonly PolicyViolation[];
}

/** pgwarden's events, beside pg-pool's `connect`, `acquire`, `release`, `remove` and `error`. */
export interface WardenPoolEvents {
  /** A physical connection was opened: who logged in and over what TLS. */
  'connection-opened': [
    info: { user: string | undefined; tls: { protocol: string | null; cipher: string | null } | false },
  ];
  /** A pooled connection failed (always emitted; pg-pool's `error` only when someone listens). */
  'connection-error': [error: PgwardenError];
  /** The credentials rotated; new connections use the new ones, old ones drain. */
  rotation: [event: RotationEvent];
  /** Connections now go to another host of the list. */
  failover: [info: { from: { host: string; port: number }; to: { host: string; port: number } }];
  /** Usage reached `poolUsageAlertRatio` of max. */
  'pool-usage-high': [stats: PoolStats];
}

type PgPoolEvent = 'connect' | 'acquire' | 'release' | 'remove' | 'error';

/** Failures worth retrying with backoff: the server may come back. */
const TRANSIENT = new Set([
  'PGW_CONN_REFUSED',
  'PGW_CONN_LOST',
  'PGW_CONN_TIMEOUT',
  'PGW_CONN_FAILED',
  'PGW_CONN_NO_TARGET_HOST',
]);

/** pg-pool options that pass through unchanged. */
const POOL_PASSTHROUGH = ['maxUses', 'allowExitOnIdle', 'log', 'Promise', 'onConnect', 'verify'] as const;

/** Errors after which the connection must not go back to the pool. */
function isConnectionBroken(error: unknown): boolean {
  const e = error as { severity?: unknown; sqlstate?: unknown; code?: unknown };
  // No severity: not from the server (socket, timeout).
  if (typeof e?.severity !== 'string') return true;
  const sqlstate = typeof e.sqlstate === 'string' ? e.sqlstate : e.code;
  return typeof sqlstate === 'string' && endsSession(sqlstate);
}

function runQuery<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  input: QueryInput,
  values?: unknown,
): Promise<pg.QueryResult<R>> {
  if (typeof input === 'string') return client.query<R>(input, values as unknown[] | undefined);
  if (isSqlFragment(input)) return client.query<R>(input.toQuery() as pg.QueryConfig<unknown[]>);
  // pg's own form: values as the second argument override config.values, as in pg.
  return client.query<R>(input as pg.QueryConfig<unknown[]>, values as unknown[] | undefined);
}

/** pg-pool internals this class relies on (pg-pool 3.x). */
interface PgPoolInternals {
  _clients: pg.PoolClient[];
  _idle: { client: pg.PoolClient }[];
  options: pg.PoolConfig & { Client?: unknown };
  Client: unknown;
}

/** Internal: a pool built from an already resolved config (replicas, doctor, audit). */
const RESOLVED = Symbol('pgwarden.resolved');
interface ResolvedInput {
  readonly resolution: PoolResolution;
  readonly ownsCredentials: boolean;
  /** A replica: its primary already emitted the warnings. */
  readonly quiet?: boolean;
  /** A replica: the pool it reads for, named in its diagnostics messages. */
  readonly primary?: WardenPool;
}

type WardenPoolInput = CreatePoolOptions & { [RESOLVED]?: ResolvedInput };

function purposeOf(options: CreatePoolOptions): ConnectionPurpose {
  if (options.enforcePolicy !== undefined) {
    process.emitWarning(
      "createPool's enforcePolicy option is deprecated: use purpose: 'admin' (it no longer relaxes the TLS rules in production).",
      { type: 'PgwardenWarning', code: 'PGW_CONFIG_DEPRECATED' },
    );
  }
  if (options.purpose) return options.purpose;
  return options.enforcePolicy === false ? 'admin' : 'application';
}

function emitWarnings(items: readonly { code: string; message: string }[]): void {
  for (const item of items) process.emitWarning(item.message, { type: 'PgwardenWarning', code: item.code });
}

function poolSettings(config: ResolvedConfig): pg.PoolConfig {
  return {
    max: config.pool.max,
    min: config.pool.min,
    idleTimeoutMillis: config.pool.idleTimeoutMs,
    // pg-pool bounds the wait for a free slot with this; the Client has its own connect timeout.
    connectionTimeoutMillis: config.pool.acquireTimeoutMs,
    maxLifetimeSeconds: Math.ceil(config.pool.maxLifetimeMs / 1000),
  };
}

function passthrough(options: CreatePoolOptions, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const source = options as Record<string, unknown>;
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

const CLIENT_PASSTHROUGH = PG_PASSTHROUGH_KEYS.filter(
  (key) => !(POOL_PASSTHROUGH as readonly string[]).includes(key),
);

export class WardenPool extends pg.Pool {
  /** The `sql` tagged template, for `pool.query(pool.sql\`…\`)`. */
  readonly sql = sql;
  /** What the pool learned while becoming ready; undefined until then. */
  startup: StartupReport | undefined;
  /**
   * Read-only queries for replicas (`pool.read.query(...)`): healthy replicas
   * round robin, else the primary. Without replicas it is the primary.
   */
  read: ReadPath;

  readonly #logger: Logger;
  readonly #purpose: ConnectionPurpose;
  readonly #checkRole: boolean;
  readonly #options: CreatePoolOptions;
  readonly #clientPassthrough: Record<string, unknown>;
  #config: ResolvedConfig | undefined;
  #credentials: CredentialSource | undefined;
  #warnings: readonly ConfigWarning[] = [];
  #violations: PolicyViolation[] = [];
  #ownsCredentials = true;
  #isReady = false;
  #becomingReady: Promise<void> | undefined;
  /** A refusal that holds for the pool's life (policy, configuration). */
  #refusal: Error | undefined;
  /** Publishes to diagnostics_channel (metrics subscribe there); shared with the Client class for TLS handshakes. */
  readonly #diagnostics: PoolDiagnostics;
  /** Which host of the list answered last: tried first by new connections. */
  readonly #hostState = {
    preferred: 0,
    changed: (from: number, to: number) => {
      const hosts = this.config.hosts;
      const [a, b] = [hosts[from]!, hosts[to]!];
      this.#logger.log('warn', 'db.failover', `connections now go to ${b.host}:${b.port}`, {
        from: `${a.host}:${a.port}`,
        to: `${b.host}:${b.port}`,
      });
      this.emit('failover', { from: a, to: b });
    },
  };
  readonly #lastReleased = new WeakMap<pg.PoolClient, number>();
  readonly #reported = new WeakSet<object>();
  #closing: Promise<void> | undefined;
  #usageHigh = false;
  #replicas: ReadReplicas | undefined;
  #replicaPools: readonly { readonly target: HostPort; readonly pool: WardenPool }[] = [];
  #stopRotationListener: (() => void) | undefined;
  /** Behind a pooler: `BEGIN` plus `SET LOCAL` of the session timeouts, in one round trip. */
  #begin = 'BEGIN';

  /**
   * Builds the pool synchronously, as `new pg.Pool()` does: the configuration
   * is resolved and judged at once (a production violation throws a
   * PolicyError here); credentials, the first connection and the role check
   * happen on first use, or up front with `await pool.ready()` (which is
   * what {@link createPool} does). With a secrets backend the configuration
   * waits for the backend's answer, so it is resolved and judged by `ready()`.
   */
  constructor(options: CreatePoolOptions = {}) {
    const input = options as WardenPoolInput;
    const given = input[RESOLVED];
    const resolution =
      given?.resolution ?? (usesSecretsBackend(options) ? undefined : resolveWithoutSecrets(options));
    super({
      ...(resolution ? poolSettings(resolution.config) : {}),
      allowExitOnIdle: true,
      ...passthrough(options, POOL_PASSTHROUGH),
    });
    this.#options = options;
    this.#diagnostics = new PoolDiagnostics(this, given?.primary);
    this.#logger = createLogger(options.logger);
    this.#purpose = purposeOf(options);
    this.#checkRole = options.checkRole ?? true;
    this.#clientPassthrough = passthrough(options, CLIENT_PASSTHROUGH);
    this.read = { query: (input, values) => this.query(input, values), status: () => [] };
    if (resolution) {
      this.#ownsCredentials = given?.ownsCredentials ?? true;
      this.#adopt(resolution, given?.quiet ?? false);
    }
  }

  /** The resolved, frozen configuration (secrets inside are redacted when printed). */
  get config(): ResolvedConfig {
    if (!this.#config) {
      throw new PoolError(
        'PGW_POOL_NOT_READY',
        'The configuration is not resolved yet: it waits for the secrets backend.',
        { fix: 'await pool.ready() (or build the pool with await createPool()) before reading pool.config.' },
      );
    }
    return this.#config;
  }

  /** True once `ready()` has succeeded. */
  get isReady(): boolean {
    return this.#isReady;
  }

  /** True once `close()` or `end()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Judges the configuration (when it waited for a secrets backend), opens
   * one connection (credentials and TLS verified), reads the server version
   * and applies the role rule, then attaches read replicas. Resolves once;
   * concurrent and later calls share the result. A refusal (policy,
   * configuration) is final; a connection failure is retried by the next call.
   */
  ready(): Promise<void> {
    if (this.#refusal) return Promise.reject(this.#refusal);
    this.#becomingReady ??= this.#becomeReady().catch(async (error: unknown) => {
      this.#becomingReady = undefined;
      if (
        error instanceof PolicyError ||
        (error instanceof PgwardenError && error.pgwardenCode.startsWith('PGW_CONFIG'))
      ) {
        this.#refusal = error;
        await this.close();
      }
      throw error;
    });
    return this.#becomingReady;
  }

  #adopt(resolution: PoolResolution, quiet = false): void {
    const { config, warnings, credentials } = resolution;
    // The one gate: nothing is sent before the link is judged.
    let violations: PolicyViolation[];
    try {
      violations = admitLink(config, this.#purpose);
    } catch (error) {
      if (this.#ownsCredentials) void credentials.close();
      throw error;
    }
    if (!quiet) {
      emitWarnings(warnings);
      emitWarnings(violationsToWarn(violations, this.#purpose));
    }
    this.#config = config;
    this.#warnings = warnings;
    this.#violations = violations;
    this.#credentials = credentials;
    const setLocal = config.pooler === 'none' ? undefined : setLocalStatements(config);
    if (setLocal) this.#begin = `BEGIN; ${setLocal}`;
    Object.assign((this as unknown as PgPoolInternals).options, poolSettings(config));
    (this as unknown as PgPoolInternals).Client = createClientClass({
      config,
      credentials,
      diagnostics: this.#diagnostics,
      hostState: this.#hostState,
      passthrough: this.#clientPassthrough,
      onError: (error, client) => this.#onConnectionError(error, client),
    });
    this.#stopRotationListener = credentials.onRotate((event: RotationEvent) => {
      this.#logger.log(
        'info',
        'db.rotation',
        `credentials rotated (${event.backend}); new connections use them`,
        {
          ...event,
        },
      );
      this.#diagnostics.rotation(event);
      this.emit('rotation', event);
    });
  }

  async #becomeReady(): Promise<void> {
    if (!this.#config) this.#adopt(await resolveWithSecrets(this.#options, this.#logger));
    const config = this.#config!;
    let tls: TlsSessionInfo | undefined;
    let role: RoleFacts | undefined;
    let serverVersion: string | undefined;
    const client = await this.#acquire(false);
    try {
      tls = tlsSessionInfo(clientStream(client));
      serverVersion = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]
        ?.server_version;
      if (this.#checkRole) {
        role = (await client.query<RoleFacts>(ROLE_FACTS_SQL)).rows[0];
        if (role) this.#record(admitRole(config, role, this.#purpose));
      }
      if (config.pooler !== 'none') {
        // Behind a pooler the timeouts come from the role's settings: prove them.
        const gaps = await sessionSettingMismatches(client, config);
        const user =
          role?.name ?? (client as unknown as { connectedUser?: string }).connectedUser ?? config.user;
        this.#record(admitSessionSettings(config, user, gaps, this.#purpose));
      }
    } finally {
      client.release();
    }
    this.startup = Object.freeze({
      tls,
      role,
      serverVersion,
      warnings: this.#warnings,
      violations: Object.freeze([...this.#violations]),
    });
    this.#isReady = true;
    await this.#attachReplicas();
  }

  #record(violations: PolicyViolation[]): void {
    emitWarnings(violationsToWarn(violations, this.#purpose));
    this.#violations.push(...violations);
  }

  /** Counts of connections and waiters, for health checks and metrics. */
  stats(): PoolStats {
    const total = this.totalCount;
    const idle = this.idleCount;
    return { total, idle, inUse: total - idle, waiting: this.waitingCount, max: this.options.max ?? 10 };
  }

  /**
   * Checks out a client, as pg's `pool.connect()`: call `release()` when
   * done. A connection idle longer than `prePingIdleMs` is validated first;
   * failed new connections are retried with backoff until the acquire timeout.
   */
  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): void;
  override connect(
    callback?: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): Promise<pg.PoolClient> | void {
    const pending = this.#checkout(true);
    if (!callback) return pending;
    pending.then(
      (client) => callback(undefined, client, client.release as (release?: unknown) => void),
      (error: Error) => callback(error, undefined, () => undefined),
    );
  }

  /**
   * Like `connect()`; with `retry: false` a failed connection is reported
   * at once instead of retried with backoff (health checks, tools).
   */
  checkout(options: { retry?: boolean } = {}): Promise<pg.PoolClient> {
    return this.#checkout(options.retry ?? true);
  }

  #checkout(retry: boolean): Promise<pg.PoolClient> {
    if (this.#isReady) return this.#acquire(retry);
    return this.ready().then(() => this.#acquire(retry));
  }

  /** Readiness and a database round trip (see readiness.ts): what `/health/ready` and `/health/database` report. */
  async health(
    options: { timeoutMs?: number } = {},
  ): Promise<{ status: 'ok' | 'fail'; ready: ReadyReport; database: DatabaseReport }> {
    const [ready, database] = await Promise.all([checkReady(this, options), checkDatabase(this, options)]);
    return { status: ready.status === 'ok' && database.status === 'ok' ? 'ok' : 'fail', ready, database };
  }

  #acquire(retry: boolean): Promise<pg.PoolClient> {
    const started = this.#diagnostics.start('acquire');
    // Nobody listens: no timing wrapper, one promise hop less per query.
    if (started === undefined) return this.#acquireClient(retry);
    return this.#acquireTimed(retry, started);
  }

  async #acquireTimed(retry: boolean, started: number): Promise<pg.PoolClient> {
    try {
      const client = await this.#acquireClient(retry);
      this.#diagnostics.timed('acquire', started, 'success');
      return client;
    } catch (error) {
      this.#diagnostics.timed('acquire', started, 'error');
      throw error;
    }
  }

  async #acquireClient(retry: boolean): Promise<pg.PoolClient> {
    const config = this.config;
    const credentials = this.#credentials!;
    // With a host list, a failover may take a while: keep looking for a
    // writable host up to failoverTimeoutMs.
    const budget =
      config.hosts.length > 1
        ? Math.max(config.pool.acquireTimeoutMs, config.failoverTimeoutMs)
        : config.pool.acquireTimeoutMs;
    const deadline = Date.now() + budget;
    for (let attempt = 0; ; attempt++) {
      if (this.#refusal) throw this.#refusal;
      if (this.closed) {
        throw new PoolError('PGW_POOL_CLOSED', 'The pool has been closed.', { fix: 'Create a new pool.' });
      }
      const waitingBefore = this.waitingCount;
      let client: pg.PoolClient;
      try {
        client = await super.connect();
      } catch (error) {
        const coded = this.#acquireError(error, waitingBefore);
        if (coded.pgwardenCode === 'PGW_CONN_AUTH_FAILED') {
          this.#logger.log('warn', 'db.auth-failure', 'the server rejected the credentials', {
            user: config.user,
            host: config.host,
          });
        }
        this.#diagnostics.connectionError(coded.pgwardenCode, sqlstateOf(coded));
        const delay = backoffDelay(attempt);
        if (retry && TRANSIENT.has(coded.pgwardenCode) && Date.now() + delay < deadline && !this.closed) {
          this.#logger.log('warn', 'db.reconnect', `connecting failed, retrying in ${delay} ms`, {
            code: coded.pgwardenCode,
            attempt,
          });
          await sleep(delay);
          continue;
        }
        throw coded;
      }
      // After a rotation, connections opened with older credentials drain:
      // they finish what they were doing and are closed at their next checkout.
      if (
        (client as unknown as { credentialGeneration: number }).credentialGeneration < credentials.generation
      ) {
        client.release(true);
        continue;
      }
      if (this.#needsPrePing(client)) {
        try {
          await client.query(';');
        } catch (error) {
          client.release(error instanceof Error ? error : true);
          this.#logger.log('warn', 'db.preping-failed', 'a stale pooled connection was discarded', {
            error: String(error),
          });
          if (Date.now() < deadline) continue;
          throw classifyQueryError(error);
        }
      }
      this.#watchUsage();
      return client;
    }
  }

  /**
   * The library side of the pool-usage alert: one warning and one
   * `pool-usage-high` event when usage reaches the ratio, re-armed once it
   * falls below 80% of it (no flapping).
   */
  #watchUsage(): void {
    const { max, usageAlertRatio } = this.config.pool;
    const ratio = (this.totalCount - this.idleCount) / max;
    if (!this.#usageHigh && ratio >= usageAlertRatio) {
      this.#usageHigh = true;
      const stats = this.stats();
      this.#logger.log('warn', 'db.pool-usage-high', `pool usage ${Math.round(ratio * 100)}% of max ${max}`, {
        ...stats,
      });
      this.emit('pool-usage-high', stats);
    } else if (this.#usageHigh && ratio < usageAlertRatio * 0.8) {
      this.#usageHigh = false;
    }
  }

  #needsPrePing(client: pg.PoolClient): boolean {
    const released = this.#lastReleased.get(client);
    return released !== undefined && Date.now() - released >= this.config.pool.prePingIdleMs;
  }

  #acquireError(error: unknown, waitingBefore: number): PgwardenError {
    const config = this.config;
    const message = (error as Error)?.message ?? '';
    if (/timeout exceeded when trying to connect/.test(message)) {
      const stats = this.stats();
      return new PoolError(
        'PGW_POOL_EXHAUSTED',
        `No connection became free within ${config.pool.acquireTimeoutMs} ms: max ${stats.max}, in use ${stats.inUse}, waiting ${Math.max(stats.waiting, waitingBefore + 1)}.`,
        {
          option: config.sources.acquireTimeoutMs ?? 'acquireTimeoutMs',
          fix: 'Release clients promptly (use pool.query or transaction), look for slow queries, or raise max (DB_POOL_MAX) within the server max_connections.',
        },
      );
    }
    return classifyConnectError(error, {
      host: config.host,
      port: config.port,
      user: config.user,
      database: config.database,
      sslMode: config.tls.effectiveMode,
    });
  }

  /**
   * pg's `pool.query`: text or a query config, values, an optional callback;
   * also a `sql` fragment. Values always travel as parameters. Unlike
   * pg-pool, a failed statement does not cost the connection: it is
   * discarded only when the session ended.
   */
  override query<T extends pg.Submittable>(queryStream: T): T;
  override query<R extends unknown[] = unknown[], I = unknown[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryTextOrConfig: string | pg.QueryConfig<I> | SqlFragment,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>;
  override query<R extends unknown[] = unknown[], I = unknown[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryTextOrConfig: string | pg.QueryConfig<I> | SqlFragment,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  override query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void;
  override query(input: unknown, values?: unknown, callback?: unknown): unknown {
    if (
      typeof input === 'function' ||
      (input !== null && typeof (input as pg.Submittable)?.submit === 'function')
    ) {
      // pg-pool's own answer (an error for a function, the stream for a Submittable).
      return (super.query as (...args: unknown[]) => unknown)(input, values, callback);
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const result = this.#query(input as QueryInput, values);
    if (typeof callback !== 'function') return result;
    result.then(
      (rows) => (callback as (err: Error | undefined, result: unknown) => void)(undefined, rows),
      (error: Error) => (callback as (err: Error) => void)(error),
    );
    return undefined;
  }

  async #query<R extends pg.QueryResultRow>(input: QueryInput, values: unknown): Promise<pg.QueryResult<R>> {
    const client = await this.#checkout(true);
    const started = this.#diagnostics.start('query');
    try {
      const result = await runQuery<R>(client, input, values);
      client.release();
      this.#diagnostics.timed('query', started, 'success');
      return result;
    } catch (error) {
      client.release(isConnectionBroken(error) ? (error as Error) : undefined);
      this.#diagnostics.timed('query', started, 'error');
      throw classifyQueryError(error);
    }
  }

  /**
   * Runs `fn` in a transaction: COMMIT when it resolves, ROLLBACK and rethrow
   * when it throws. The callback's own error is rethrown unchanged.
   */
  async transaction<T>(fn: (tx: TransactionClient) => Promise<T>): Promise<T> {
    const client = await this.#checkout(true);
    const tx: TransactionClient = { query: (input, values) => runQuery(client, input, values), client };
    try {
      await client.query(this.#begin);
      const result = await fn(tx);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch (rollbackError) {
        client.release(rollbackError as Error);
      }
      throw error;
    }
  }

  /**
   * pg's `pool.end()`: everything `close()` does (replicas, then the
   * connections once released, then the credentials and any Vault lease).
   */
  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | void {
    const done = this.close();
    if (!callback) return done;
    done.then(
      () => callback(),
      () => callback(),
    );
  }

  /**
   * Stops handing out connections and waits until every checked-out one is
   * released; with `timeoutMs`, connections still checked out at that
   * deadline are destroyed (their queries fail as lost connections).
   * Idempotent: later calls share the first one's result.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.timeoutMs);
    return this.#closing;
  }

  async #shutdown(timeoutMs: number | undefined): Promise<void> {
    await this.#replicas?.close();
    const ending = super.end();
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => this.#destroyCheckedOut(), timeoutMs);
    try {
      await ending;
    } finally {
      clearTimeout(timer);
    }
    this.#stopRotationListener?.();
    // After the last connection: a Vault lease is revoked only once nothing uses it.
    if (this.#ownsCredentials) await this.#credentials?.close();
  }

  #destroyCheckedOut(): void {
    const internals = this as unknown as PgPoolInternals;
    const idle = new Set(internals._idle.map((item) => item.client));
    for (const client of internals._clients) {
      if (idle.has(client)) continue;
      const release = client.release;
      // The caller's later release() must not count twice.
      client.release = () => undefined;
      this.#logger.log(
        'warn',
        'db.close-timeout',
        'a connection still checked out at the close deadline was destroyed',
      );
      release.call(client, new Error('destroyed by close({ timeoutMs })'));
    }
  }

  async #attachReplicas(): Promise<void> {
    const { replicas } = this.config;
    if (replicas.hosts.length === 0 || this.#replicas) return;
    const pools = replicas.hosts.map((target) => {
      const replicaConfig: ResolvedConfig = Object.freeze({
        ...this.config,
        host: target.host,
        port: target.port,
        hosts: Object.freeze([target]),
        targetSessionAttrs: 'any' as const,
        replicas: Object.freeze({ ...replicas, hosts: Object.freeze([]) }),
      });
      const pool = new WardenPool({
        purpose: this.#purpose,
        checkRole: false,
        ...(this.#options.logger ? { logger: this.#options.logger } : {}),
        [RESOLVED]: {
          resolution: { config: replicaConfig, warnings: [], credentials: this.#credentials! },
          ownsCredentials: false,
          quiet: true,
          primary: this,
        },
      } as WardenPoolInput);
      return { target, pool };
    });
    this.#replicaPools = pools;
    this.#replicas = new ReadReplicas(this, pools, {
      maxLagMs: replicas.maxLagMs,
      checkIntervalMs: replicas.checkIntervalMs,
      logger: this.#logger,
    });
    this.read = this.#replicas;
    // Route reads well from the start, but never hold startup hostage to a slow replica.
    await Promise.race([this.#replicas.check(), sleep(2_000)]);
  }

  /** The pools of the read replicas (empty without replicas), each a WardenPool of its own: for metrics. */
  replicaPools(): readonly { readonly target: HostPort; readonly pool: WardenPool }[] {
    return this.#replicaPools;
  }

  /** Where credentials come from and the cache state, for doctor and health (never a secret). */
  credentialsInfo(): {
    backend: string;
    generation: number;
    description: Record<string, unknown>;
    cache: Record<string, unknown> | undefined;
    expiresAt: Date | undefined;
  } {
    const credentials = this.#credentials;
    if (!credentials)
      return { backend: 'pending', generation: 0, description: {}, cache: undefined, expiresAt: undefined };
    return {
      backend: credentials.backend,
      generation: credentials.generation,
      description: credentials.describe(),
      cache: credentials.stats(),
      expiresAt: credentials.expiresAt(),
    };
  }

  /** Listens to pgwarden's events or pg-pool's (`connect`, `acquire`, `release`, `remove`, `error`). */
  override on<K extends keyof WardenPoolEvents>(
    event: K,
    listener: (...args: WardenPoolEvents[K]) => void,
  ): this;
  override on<K extends PgPoolEvent>(
    event: K,
    listener: K extends 'error' | 'release'
      ? (err: Error, client: pg.PoolClient) => void
      : (client: pg.PoolClient) => void,
  ): this;
  override on(event: string | symbol, listener: (...args: never[]) => void): this;
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    return (super.on as (e: string | symbol, l: (...args: never[]) => void) => this).call(
      this,
      event,
      listener,
    );
  }

  /**
   * pg-pool's events keep their payloads; three are also observed here: a
   * new connection is logged, a release is timed for pre-ping, and `error`
   * is emitted only when someone listens (without a listener an idle
   * connection's error would crash the process), `connection-error` always.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    switch (event as PgPoolEvent) {
      case 'connect':
        this.#onConnectionOpened(args[0] as pg.PoolClient);
        break;
      case 'release':
        this.#lastReleased.set(args[1] as pg.PoolClient, Date.now());
        break;
      case 'error': {
        const coded = this.#onConnectionError(args[0] as Error, args[1] as pg.PoolClient | undefined);
        if (this.listenerCount('error') === 0) return false;
        return super.emit('error', coded, args[1]);
      }
    }
    return super.emit(event, ...args);
  }

  #onConnectionOpened(client: pg.PoolClient): void {
    const tlsInfo = tlsSessionInfo(clientStream(client));
    const user = (client as unknown as { connectedUser?: string }).connectedUser;
    const tls = tlsInfo ? { protocol: tlsInfo.protocol, cipher: tlsInfo.cipher } : (false as const);
    this.#logger.log('info', 'db.connect', 'database connection opened', {
      host: this.config.host,
      database: this.config.database,
      user,
      tls,
    });
    this.emit('connection-opened', { user, tls });
    client.once('end', () =>
      this.#logger.log('debug', 'db.disconnect', 'database connection closed', { user }),
    );
  }

  #onConnectionError(error: Error, client: pg.PoolClient | undefined): PgwardenError {
    const coded = classifyQueryError(error);
    // The same failure reaches here twice when it hits an idle connection
    // (the client's own listener, then pg-pool's): report it once.
    if (this.#reported.has(error) || (client && this.#reported.has(client))) return coded;
    this.#reported.add(error);
    if (client) this.#reported.add(client);
    this.#diagnostics.connectionError(coded.pgwardenCode, sqlstateOf(coded));
    this.#logger.log('warn', 'db.connection-error', 'a pooled connection failed and was discarded', {
      code: coded.pgwardenCode,
      error: coded.message,
    });
    super.emit('connection-error', coded);
    return coded;
  }
}

function sqlstateOf(error: PgwardenError): string | undefined {
  return (error as { sqlstate?: string }).sqlstate;
}

/** A pool over an already resolved config and credentials (doctor and audit resolve first, to report). */
export function poolFromResolution(
  resolution: PoolResolution,
  options: Pick<CreatePoolOptions, 'purpose' | 'checkRole' | 'logger'> = {},
): WardenPool {
  return new WardenPool({ ...options, [RESOLVED]: { resolution, ownsCredentials: true } } as WardenPoolInput);
}
