/**
 * `takeSnapshot(pool)`: what the database is doing right now, as a typed
 * value. One statement gathers connections, long-running and idle-in-
 * transaction sessions and per-database statistics; a second one reads
 * pg_stat_statements when the extension is installed. Query text is masked
 * and redacted before it leaves this module.
 */
import type pg from 'pg';
import { classifyQueryError } from '../pool/classify-error.js';
import { DEFAULT_QUERY_TEXT_LENGTH, redactQueryText } from './query-text.js';
import { SNAPSHOT_SQL } from './snapshot-sql.js';
import { readSlowStatements, type SlowStatements } from './statements.js';

/** Anything that hands out a pg client: a `WardenPool`, or a plain `pg.Pool`. */
export interface SnapshotSource {
  connect(): Promise<pg.PoolClient>;
}

export interface SnapshotOptions {
  /** An active query running longer than this is listed as long-running. Default 5 000 ms (the guidelines' slow-query threshold). */
  longQueryMs?: number;
  /** Most sessions listed per list (long-running, idle in transaction). Default 20. */
  limit?: number;
  /** How many pg_stat_statements entries to list, slowest mean first. Default 10; 0 skips the second round trip. */
  statementsLimit?: number;
  /** Characters of query text kept after masking. Default 200. */
  queryTextLength?: number;
}

/** One session, as seen in pg_stat_activity. */
export interface SessionInfo {
  readonly pid: number;
  /** Null when the monitoring role may not see other roles' sessions. */
  readonly user: string | null;
  readonly database: string | null;
  readonly application: string | null;
  /** True over TLS, false in clear or over a unix socket, null when not visible. */
  readonly ssl: boolean | null;
  /** Masked, redacted and truncated; null when not visible. */
  readonly query: string | null;
}

export interface LongRunningQuery extends SessionInfo {
  readonly durationMs: number;
  /** `type:event` the backend waits on (e.g. `Timeout:PgSleep`), or null. */
  readonly waitEvent: string | null;
}

export interface IdleInTransactionSession extends SessionInfo {
  /** In a failed transaction that still has to be rolled back. */
  readonly aborted: boolean;
  /** Time since the last statement finished. */
  readonly idleMs: number;
  /** Time since the transaction began. */
  readonly transactionMs: number;
}

export interface DatabaseStats {
  readonly name: string;
  /** Null when the role lacks CONNECT on the database. */
  readonly sizeBytes: number | null;
  readonly backends: number;
  readonly commits: number;
  readonly rollbacks: number;
  readonly deadlocks: number;
  readonly tempFiles: number;
  readonly tempBytes: number;
  /** When these counters were last reset (ISO 8601), or null if never. */
  readonly statsReset: string | null;
}

export interface MonitorSnapshot {
  /** Server time of the snapshot (ISO 8601). */
  readonly takenAt: string;
  readonly server: {
    readonly version: string;
    readonly versionNum: number;
    readonly database: string;
    readonly user: string;
    readonly inRecovery: boolean;
  };
  /**
   * `full` when the role sees every session (superuser or pg_read_all_stats);
   * otherwise other roles' state, query and TLS columns read as null.
   */
  readonly visibility: 'full' | 'own-sessions';
  readonly hints: readonly string[];
  readonly connections: {
    /** Client backends, this snapshot's own included. */
    readonly total: number;
    readonly max: number;
    readonly reservedForSuperuser: number;
    /** total / max, from 0 to 1. */
    readonly usedShare: number;
    /** Counts by pg_stat_activity.state; `unknown` when not visible. */
    readonly byState: Readonly<Record<string, number>>;
    readonly byUser: readonly { readonly user: string; readonly count: number }[];
    readonly byTls: {
      readonly tls: number;
      /** TCP without TLS. */
      readonly plain: number;
      /** Unix-socket sessions (TLS does not apply). */
      readonly local: number;
      /** Not visible to this role. */
      readonly unknown: number;
      /** TLS sessions by protocol version. */
      readonly versions: Readonly<Record<string, number>>;
    };
  };
  readonly longRunning: {
    readonly thresholdMs: number;
    readonly count: number;
    readonly queries: readonly LongRunningQuery[];
  };
  readonly idleInTransaction: {
    readonly count: number;
    readonly sessions: readonly IdleInTransactionSession[];
  };
  readonly slowQueries: SlowStatements;
  readonly databases: readonly DatabaseStats[];
}

interface RawSession {
  pid: number;
  user: string | null;
  database: string | null;
  application: string | null;
  ssl: boolean | null;
  query: string | null;
}

interface RawSnapshot {
  now: string;
  self: number;
  version: string;
  versionNum: number;
  database: string;
  user: string;
  inRecovery: boolean;
  maxConnections: number;
  reservedConnections: number;
  allStats: boolean;
  statStatements: { version: string; schema: string } | null;
  byState: Record<string, number>;
  byUser: { user: string; count: number }[];
  tls: { total: number; tls: number; plain: number; local: number; unknown: number };
  tlsVersions: Record<string, number>;
  longRunningCount: number;
  longRunning: (RawSession & { durationMs: number; waitEvent: string; state: string })[];
  idleInTransactionCount: number;
  idleInTransaction: (RawSession & { aborted: boolean; idleMs: number; transactionMs: number })[];
  databases: DatabaseStats[];
}

export const DEFAULT_LONG_QUERY_MS = 5_000;

/** Reads one snapshot; throws the pool's coded errors when the database cannot be reached. */
export async function takeSnapshot(
  pool: SnapshotSource,
  options: SnapshotOptions = {},
): Promise<MonitorSnapshot> {
  const longQueryMs = options.longQueryMs ?? DEFAULT_LONG_QUERY_MS;
  const limit = options.limit ?? 20;
  const textLength = options.queryTextLength ?? DEFAULT_QUERY_TEXT_LENGTH;
  const client = await pool.connect();
  let raw: RawSnapshot;
  let slowQueries: SlowStatements;
  try {
    const result = await client.query<{ snapshot: RawSnapshot }>(SNAPSHOT_SQL, [longQueryMs, limit]);
    raw = result.rows[0]!.snapshot;
    slowQueries = await readSlowStatements(client, {
      extension: raw.statStatements,
      versionNum: raw.versionNum,
      database: raw.database,
      limit: options.statementsLimit ?? 10,
      textLength,
    });
  } catch (error) {
    // Raw driver errors become coded ones, like every other pgwarden failure.
    throw classifyQueryError(error);
  } finally {
    client.release();
  }
  return shapeSnapshot(raw, longQueryMs, textLength, slowQueries);
}

function session(row: RawSession, textLength: number): SessionInfo {
  return {
    pid: row.pid,
    user: row.user,
    database: row.database,
    application: row.application,
    ssl: row.ssl,
    query: redactQueryText(row.query, textLength),
  };
}

function shapeSnapshot(
  raw: RawSnapshot,
  longQueryMs: number,
  textLength: number,
  slowQueries: SlowStatements,
): MonitorSnapshot {
  const visibility = raw.allStats ? 'full' : 'own-sessions';
  const hints: string[] = [];
  if (visibility !== 'full') {
    hints.push(
      `Role ${raw.user} sees only its own sessions' state and queries: GRANT pg_read_all_stats TO ${raw.user}; for a full view.`,
    );
  }
  if (!slowQueries.available) hints.push(slowQueries.hint);
  const num = (value: unknown): number => Number(value ?? 0);
  return {
    takenAt: new Date(raw.now).toISOString(),
    server: {
      version: raw.version,
      versionNum: raw.versionNum,
      database: raw.database,
      user: raw.user,
      inRecovery: raw.inRecovery,
    },
    visibility,
    hints,
    connections: {
      total: num(raw.tls.total),
      max: raw.maxConnections,
      reservedForSuperuser: raw.reservedConnections,
      usedShare: raw.maxConnections > 0 ? num(raw.tls.total) / raw.maxConnections : 0,
      byState: Object.fromEntries(Object.entries(raw.byState).map(([k, v]) => [k, num(v)])),
      byUser: raw.byUser.map((u) => ({ user: u.user, count: num(u.count) })),
      byTls: {
        tls: num(raw.tls.tls),
        plain: num(raw.tls.plain),
        local: num(raw.tls.local),
        unknown: num(raw.tls.unknown),
        versions: Object.fromEntries(Object.entries(raw.tlsVersions).map(([k, v]) => [k, num(v)])),
      },
    },
    longRunning: {
      thresholdMs: longQueryMs,
      count: num(raw.longRunningCount),
      queries: raw.longRunning.map((row) => ({
        ...session(row, textLength),
        durationMs: Math.round(num(row.durationMs)),
        waitEvent: row.waitEvent ? row.waitEvent : null,
      })),
    },
    idleInTransaction: {
      count: num(raw.idleInTransactionCount),
      sessions: raw.idleInTransaction.map((row) => ({
        ...session(row, textLength),
        aborted: row.aborted,
        idleMs: Math.round(num(row.idleMs)),
        transactionMs: Math.round(num(row.transactionMs)),
      })),
    },
    slowQueries,
    databases: raw.databases.map((d) => ({
      name: d.name,
      sizeBytes: d.sizeBytes === null ? null : num(d.sizeBytes),
      backends: num(d.backends),
      commits: num(d.commits),
      rollbacks: num(d.rollbacks),
      deadlocks: num(d.deadlocks),
      tempFiles: num(d.tempFiles),
      tempBytes: num(d.tempBytes),
      statsReset: d.statsReset ? new Date(d.statsReset).toISOString() : null,
    })),
  };
}
