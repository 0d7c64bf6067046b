/**
 * WardenPool: a node-postgres pool that resolves credentials per physical
 * connection, survives faults (backoff, pre-ping, broken connections
 * discarded), drains rotated credentials and exposes health and stats.
 * createPool() (pool.ts) builds one and proves it works.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { ConfigWarning } from '../config/layer.js';
import type { RoleFacts } from '../config/policy.js';
import type { ResolvedConfig } from '../config/schema.js';
import { PoolError, type PgwardenError, type PolicyViolation } from '../errors.js';
import type { Logger } from '../logger.js';
import { isSqlFragment, sql, type SqlFragment } from '../sql/sql.js';
import { tlsSessionInfo, type TlsSessionInfo } from '../tls/session-info.js';
import { backoffDelay, sleep } from './backoff.js';
import { ReadReplicas } from './read-replicas.js';
import { classifyConnectError, classifyQueryError, endsSession } from './classify-error.js';
import { clientStream, createClientClass } from './warden-client.js';
import { configCredentials, type CredentialSource, type RotationEvent } from './credential-source.js';
import { checkDatabase, checkReady, type DatabaseReport, type ReadyReport } from '../health/health.js';

export interface PoolStats {
  /** Open physical connections. */
  readonly total: number;
  readonly idle: number;
  readonly inUse: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  readonly max: number;
}

/**
 * Observers of the pool's hot path (metrics). Unset, they cost one property
 * check per query; set, two clock reads.
 */
export interface PoolInstruments {
  acquired?(seconds: number): void;
  queried?(seconds: number, outcome: 'success' | 'error'): void;
  /** A failed connect or a failing pooled connection, with its code and SQLSTATE when the server sent one. */
  connectionFailed?(code: string, sqlstate: string | undefined): void;
  /** A completed TLS handshake of a new connection. */
  tlsHandshake?(seconds: number): void;
  rotated?(event: RotationEvent): void;
}

/** Anything pool.query accepts. */
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

/** What the pool learned while starting. */
export interface StartupReport {
  readonly tls: TlsSessionInfo | undefined;
  readonly role: RoleFacts | undefined;
  readonly serverVersion: string | undefined;
  readonly warnings: readonly ConfigWarning[];
  /** Violations that were warnings because the environment is not production-like. */
  readonly violations: readonly PolicyViolation[];
}

/** Failures worth retrying with backoff: the server may come back. */
const TRANSIENT = new Set([
  'PGW_CONN_REFUSED',
  'PGW_CONN_LOST',
  'PGW_CONN_TIMEOUT',
  'PGW_CONN_FAILED',
  'PGW_CONN_NO_TARGET_HOST',
]);

function toQueryConfig(input: QueryInput, values?: unknown[]): pg.QueryConfig {
  if (typeof input === 'string') return values === undefined ? { text: input } : { text: input, values };
  if (isSqlFragment(input)) return input.toQuery();
  return input;
}

/** Errors after which the connection must not go back to the pool. */
function isConnectionBroken(error: unknown): boolean {
  const e = error as { severity?: unknown; code?: unknown };
  // No severity: not from the server (socket, timeout).
  return typeof e?.severity !== 'string' || (typeof e.code === 'string' && endsSession(e.code));
}

function runQuery<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  input: QueryInput,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  // Strings go straight to pg: no config object on the hot path.
  if (typeof input === 'string') return client.query<R>(input, values);
  return client.query<R>(toQueryConfig(input) as pg.QueryConfig<unknown[]>);
}

export class WardenPool extends EventEmitter {
  /** The resolved, frozen configuration (secrets inside are redacted when printed). */
  readonly config: ResolvedConfig;
  /** The `sql` tagged template, for `pool.query(pool.sql\`…\`)`. */
  readonly sql = sql;
  startup: StartupReport | undefined;

  readonly #pg: pg.Pool;
  readonly #logger: Logger;
  readonly #credentials: CredentialSource;
  /** Shared with the Client class, which reports TLS handshakes through it. */
  readonly #instruments: { current: PoolInstruments | undefined } = { current: undefined };
  /** Which host of the list answered last: tried first by new connections. */
  readonly #hostState = {
    preferred: 0,
    changed: (from: number, to: number) => {
      const [a, b] = [this.config.hosts[from]!, this.config.hosts[to]!];
      this.#logger.log('warn', 'db.failover', `connections now go to ${b.host}:${b.port}`, {
        from: `${a.host}:${a.port}`,
        to: `${b.host}:${b.port}`,
      });
      this.emit('failover', { from: a, to: b });
    },
  };
  readonly #lastReleased = new WeakMap<pg.PoolClient, number>();
  #closed = false;
  #usageHigh = false;

  /**
   * Read-only queries for replicas (`pool.read.query(...)`): healthy replicas
   * round robin, else the primary. Without replicas it is the primary.
   */
  read: Pick<ReadReplicas, 'query' | 'status'>;
  #replicas: ReadReplicas | undefined;
  readonly #ownsCredentials: boolean;

  constructor(
    config: ResolvedConfig,
    logger: Logger,
    credentials: CredentialSource = configCredentials(config),
    options: { ownsCredentials?: boolean } = {},
  ) {
    super();
    this.config = config;
    this.#ownsCredentials = options.ownsCredentials ?? true;
    this.read = { query: (input, values) => this.query(input, values), status: () => [] };
    this.#logger = logger;
    this.#credentials = credentials;
    credentials.onRotate((event: RotationEvent) => {
      this.#logger.log(
        'info',
        'db.rotation',
        `credentials rotated (${event.backend}); new connections use them`,
        { ...event },
      );
      this.#instruments.current?.rotated?.(event);
      this.emit('rotation', event);
    });
    this.#pg = new pg.Pool({
      Client: createClientClass({
        config,
        credentials,
        instruments: this.#instruments,
        hostState: this.#hostState,
      }),
      max: config.pool.max,
      min: config.pool.min,
      idleTimeoutMillis: config.pool.idleTimeoutMs,
      // pg-pool uses this for waiting on a free slot; the Client has its own connect timeout.
      connectionTimeoutMillis: config.pool.acquireTimeoutMs,
      maxLifetimeSeconds: Math.ceil(config.pool.maxLifetimeMs / 1000),
      allowExitOnIdle: true,
    });
    // Without these listeners an error on an idle or checked-out connection
    // (server restart, network cut) would be an uncaught 'error' event and kill the process.
    this.#pg.on('error', (error) => this.#onConnectionError(error));
    this.#pg.on('connect', (client) => {
      client.on('error', (error) => this.#onConnectionError(error));
      const tls = tlsSessionInfo(clientStream(client));
      const user = (client as unknown as { connectedUser?: string }).connectedUser;
      this.#logger.log('info', 'db.connect', 'database connection opened', {
        host: config.host,
        database: config.database,
        user,
        tls: tls ? { protocol: tls.protocol, cipher: tls.cipher } : false,
      });
      this.emit('connect', { user, tls });
      client.once('end', () =>
        this.#logger.log('debug', 'db.disconnect', 'database connection closed', { user }),
      );
    });
    this.#pg.on('release', (_error, client) => this.#lastReleased.set(client, Date.now()));
  }

  #onConnectionError(error: Error): void {
    const coded = classifyQueryError(error);
    this.#instruments.current?.connectionFailed?.(coded.code, (coded as { sqlstate?: string }).sqlstate);
    this.#logger.log('warn', 'db.connection-error', 'a pooled connection failed and was discarded', {
      code: coded.code,
      error: coded.message,
    });
    // A dedicated event name: an unhandled 'error' event would crash the process.
    this.emit('connection-error', coded);
  }

  /** Counts of connections and waiters, for health checks and metrics. */
  stats(): PoolStats {
    const total = this.#pg.totalCount;
    const idle = this.#pg.idleCount;
    return { total, idle, inUse: total - idle, waiting: this.#pg.waitingCount, max: this.config.pool.max };
  }

  /**
   * Checks out a client; call `release()` when done. A connection idle longer
   * than `prePingIdleMs` is validated first; failed new connections are
   * retried with backoff until the acquire timeout.
   */
  async connect(options: { retry?: boolean } = {}): Promise<pg.PoolClient> {
    const instruments = this.#instruments.current;
    if (!instruments?.acquired) return this.#connect(options.retry ?? true);
    const started = performance.now();
    const client = await this.#connect(options.retry ?? true);
    instruments.acquired((performance.now() - started) / 1000);
    return client;
  }

  /** Readiness and a database round trip (see src/health): what `/health/ready` and `/health/database` report. */
  async health(
    options: { timeoutMs?: number } = {},
  ): Promise<{ status: 'ok' | 'fail'; ready: ReadyReport; database: DatabaseReport }> {
    const [ready, database] = await Promise.all([checkReady(this, options), checkDatabase(this, options)]);
    return { status: ready.status === 'ok' && database.status === 'ok' ? 'ok' : 'fail', ready, database };
  }

  /** Sets (or with undefined, removes) the observers of the pool; see src/metrics. */
  instrument(instruments: PoolInstruments | undefined): void {
    this.#instruments.current = instruments;
  }

  async #connect(retry: boolean): Promise<pg.PoolClient> {
    // With a host list, a failover may take a while: keep looking for a
    // writable host up to failoverTimeoutMs.
    const budget =
      this.config.hosts.length > 1
        ? Math.max(this.config.pool.acquireTimeoutMs, this.config.failoverTimeoutMs)
        : this.config.pool.acquireTimeoutMs;
    const deadline = Date.now() + budget;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed)
        throw new PoolError('PGW_POOL_CLOSED', 'The pool has been closed.', { fix: 'Create a new pool.' });
      const waitingBefore = this.#pg.waitingCount;
      let client: pg.PoolClient;
      try {
        client = await this.#pg.connect();
      } catch (error) {
        const coded = this.#acquireError(error, waitingBefore);
        if (coded.code === 'PGW_CONN_AUTH_FAILED') {
          this.#logger.log('warn', 'db.auth-failure', 'the server rejected the credentials', {
            user: this.config.user,
            host: this.config.host,
          });
        }
        this.#instruments.current?.connectionFailed?.(coded.code, (coded as { sqlstate?: string }).sqlstate);
        const delay = backoffDelay(attempt);
        if (retry && TRANSIENT.has(coded.code) && Date.now() + delay < deadline && !this.#closed) {
          this.#logger.log('warn', 'db.reconnect', `connecting failed, retrying in ${delay} ms`, {
            code: coded.code,
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
        (client as unknown as { credentialGeneration?: number }).credentialGeneration! <
        this.#credentials.generation
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
    const inUse = this.#pg.totalCount - this.#pg.idleCount;
    const ratio = inUse / max;
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
    const message = (error as Error)?.message ?? '';
    if (/timeout exceeded when trying to connect/.test(message)) {
      const stats = this.stats();
      return new PoolError(
        'PGW_POOL_EXHAUSTED',
        `No connection became free within ${this.config.pool.acquireTimeoutMs} ms: max ${stats.max}, in use ${stats.inUse}, waiting ${Math.max(stats.waiting, waitingBefore + 1)}.`,
        {
          option: 'acquireTimeoutMs',
          fix: 'Release clients promptly (use pool.query or transaction), look for slow queries, or raise max (DB_POOL_MAX) within the server max_connections.',
        },
      );
    }
    return classifyConnectError(error, {
      host: this.config.host,
      port: this.config.port,
      user: this.config.user,
      database: this.config.database,
      sslMode: this.config.tls.effectiveMode,
    });
  }

  /** Runs one statement on a pooled connection. Values always travel as parameters. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    input: QueryInput,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const client = await this.connect();
    const instruments = this.#instruments.current;
    const started = instruments?.queried ? performance.now() : 0;
    try {
      const result = await runQuery<R>(client, input, values);
      client.release();
      instruments?.queried?.((performance.now() - started) / 1000, 'success');
      return result;
    } catch (error) {
      client.release(isConnectionBroken(error) ? (error as Error) : undefined);
      instruments?.queried?.((performance.now() - started) / 1000, 'error');
      throw classifyQueryError(error);
    }
  }

  /** Runs `fn` in a transaction: COMMIT when it resolves, ROLLBACK and rethrow when it throws. */
  async transaction<T>(fn: (tx: TransactionClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const tx: TransactionClient = { query: (input, values) => runQuery(client, input, values), client };
    try {
      await client.query('BEGIN');
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
      throw classifyQueryError(error);
    }
  }

  /** Stops handing out connections and waits until every checked-out one is released. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#replicas?.close();
    await this.#pg.end();
    // After the last connection: a Vault lease is revoked only once nothing uses it.
    if (this.#ownsCredentials) await this.#credentials.close();
  }

  /** Opens a pool per read replica (same TLS and credentials) and starts their health checks. */
  async attachReplicas(logger: Logger): Promise<void> {
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
      return {
        target,
        pool: new WardenPool(replicaConfig, logger, this.#credentials, { ownsCredentials: false }),
      };
    });
    this.#replicas = new ReadReplicas(this, pools, {
      maxLagMs: replicas.maxLagMs,
      checkIntervalMs: replicas.checkIntervalMs,
      logger,
    });
    this.read = this.#replicas;
    // Route reads well from the start, but never hold startup hostage to a slow replica.
    await Promise.race([this.#replicas.check(), sleep(2_000)]);
  }

  /** Where credentials come from and the cache state, for doctor and health (never a secret). */
  credentialsInfo(): {
    backend: string;
    generation: number;
    description: Record<string, unknown>;
    cache: Record<string, unknown> | undefined;
    expiresAt: Date | undefined;
  } {
    return {
      backend: this.#credentials.backend,
      generation: this.#credentials.generation,
      description: this.#credentials.describe(),
      cache: this.#credentials.stats(),
      expiresAt: this.#credentials.expiresAt(),
    };
  }

  get closed(): boolean {
    return this.#closed;
  }
}
