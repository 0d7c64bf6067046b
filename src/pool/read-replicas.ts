/**
 * `pool.read`: read-only queries spread over healthy replicas, round robin.
 * A replica is healthy while it answers its health check, is still a standby
 * and lags less than `maxLagMs`; when none is, reads go to the primary.
 */
import type pg from 'pg';
import type { HostPort } from '../config/schema.js';
import { PgwardenError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SqlFragment } from '../sql/sql.js';
import { classifyQueryError } from './classify-error.js';

/** What reads need of a pool: a query, and a close for replicas. */
export interface QueryTarget {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    input: string | SqlFragment | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** `pool.read`: where read-only statements go. */
export interface ReadPath extends QueryTarget {
  /** Each replica's health, lag and why it is not used. */
  status(): ReplicaStatus[];
}

export interface ReplicaStatus {
  readonly host: string;
  readonly port: number;
  readonly healthy: boolean;
  /** Replay lag in milliseconds at the last check (0 when caught up). */
  readonly lagMs: number | undefined;
  /** Why it is not used: unreachable, promoted, lagging. */
  readonly reason: string | undefined;
  readonly checkedAt: string | undefined;
}

interface ReplicaPool extends QueryTarget {
  close(): Promise<void>;
}

interface Replica {
  readonly target: HostPort;
  readonly pool: ReplicaPool;
  healthy: boolean;
  lagMs: number | undefined;
  reason: string | undefined;
  checkedAt: Date | undefined;
}

/** Failures that say the replica itself is the problem, so the read is retried elsewhere. */
function replicaFailed(error: PgwardenError): boolean {
  const code = error.pgwardenCode;
  return (
    code.startsWith('PGW_CONN_') ||
    code.startsWith('PGW_TLS_') ||
    code === 'PGW_QUERY_CONNECTION_LOST' ||
    code === 'PGW_POOL_EXHAUSTED'
  );
}

const LAG_SQL = `SELECT pg_is_in_recovery() AS standby,
  CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
       ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0) END AS lag_ms`;

export class ReadReplicas implements ReadPath {
  readonly #primary: QueryTarget;
  readonly #replicas: Replica[];
  readonly #maxLagMs: number;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout | undefined;
  #next = 0;

  constructor(
    primary: QueryTarget,
    replicas: { target: HostPort; pool: ReplicaPool }[],
    options: { maxLagMs: number; checkIntervalMs: number; logger: Logger },
  ) {
    this.#primary = primary;
    this.#maxLagMs = options.maxLagMs;
    this.#logger = options.logger;
    this.#replicas = replicas.map((r) => ({
      ...r,
      healthy: false,
      lagMs: undefined,
      reason: 'not checked yet',
      checkedAt: undefined,
    }));
    if (this.#replicas.length > 0) {
      this.#timer = setInterval(() => void this.check(), options.checkIntervalMs);
      this.#timer.unref();
    }
  }

  /** Checks every replica now (also done every `checkIntervalMs`). */
  async check(): Promise<void> {
    await Promise.all(this.#replicas.map((replica) => this.#checkOne(replica)));
  }

  async #checkOne(replica: Replica): Promise<void> {
    const wasHealthy = replica.healthy;
    try {
      const { rows } = await replica.pool.query<{ standby: boolean; lag_ms: number | string }>(LAG_SQL);
      const row = rows[0]!;
      replica.lagMs = Math.round(Number(row.lag_ms));
      replica.reason = !row.standby
        ? 'promoted: no longer a standby'
        : replica.lagMs > this.#maxLagMs
          ? `lagging ${replica.lagMs} ms`
          : undefined;
    } catch (error) {
      replica.lagMs = undefined;
      replica.reason = `unreachable: ${classifyQueryError(error).pgwardenCode}`;
    }
    replica.healthy = replica.reason === undefined;
    replica.checkedAt = new Date();
    if (wasHealthy !== replica.healthy) {
      const { host, port } = replica.target;
      this.#logger.log(
        replica.healthy ? 'info' : 'warn',
        'db.replica',
        `replica ${host}:${port} is ${replica.healthy ? 'healthy' : `not used (${replica.reason})`}`,
        { host, port, lagMs: replica.lagMs },
      );
    }
  }

  /** Runs a read-only statement on a healthy replica, else on the primary. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    input: string | SqlFragment | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const healthy = this.#replicas.filter((r) => r.healthy);
    for (let i = 0; i < healthy.length; i++) {
      const replica = healthy[(this.#next + i) % healthy.length]!;
      try {
        const result = await replica.pool.query<R>(input, values);
        this.#next = (this.#next + i + 1) % Math.max(healthy.length, 1);
        return result;
      } catch (error) {
        const coded = error instanceof PgwardenError ? error : classifyQueryError(error);
        if (!replicaFailed(coded)) throw coded;
        replica.healthy = false;
        replica.reason = `unreachable: ${coded.pgwardenCode}`;
        this.#logger.log(
          'warn',
          'db.replica',
          `replica ${replica.target.host}:${replica.target.port} failed a read; trying elsewhere`,
          { code: coded.pgwardenCode },
        );
      }
    }
    return this.#primary.query<R>(input, values);
  }

  status(): ReplicaStatus[] {
    return this.#replicas.map((r) => ({
      host: r.target.host,
      port: r.target.port,
      healthy: r.healthy,
      lagMs: r.lagMs,
      reason: r.reason,
      checkedAt: r.checkedAt?.toISOString(),
    }));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#replicas.map((r) => r.pool.close()));
  }
}
