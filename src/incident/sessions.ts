/**
 * `pgwarden incident sessions`: who is connected, from where, with or
 * without TLS: pg_stat_activity joined with pg_stat_ssl. PostgreSQL keeps no
 * history of ended sessions, so "recent" means sessions that started within
 * `--since` and are still open; for ended ones, read the server log
 * (log_connections / log_disconnections).
 */
import type { WardenPool } from '../pool/pool.js';

export interface SessionRow {
  readonly pid: number;
  readonly user: string | null;
  readonly database: string | null;
  /** IP address, or `local` for a unix-socket session; null when hidden (missing pg_read_all_stats). */
  readonly clientAddress: string | null;
  readonly application: string | null;
  readonly tls: boolean | null;
  readonly tlsVersion: string | null;
  readonly cipher: string | null;
  readonly startedAt: string | null;
  readonly state: string | null;
  /** This command's own session. */
  readonly self: boolean;
}

export interface SessionsOptions {
  /** Only sessions started within this many seconds. Default: all. */
  sinceSeconds?: number;
  /** Only sessions of this role. */
  user?: string;
}

export interface SessionsReport {
  readonly sessions: readonly SessionRow[];
  /** False when the connected role cannot see other roles' details (needs pg_read_all_stats or superuser). */
  readonly fullVisibility: boolean;
}

export async function listSessions(pool: WardenPool, options: SessionsOptions = {}): Promise<SessionsReport> {
  const { rows } = await pool.query<{
    pid: number;
    user: string | null;
    database: string | null;
    client_addr: string | null;
    application: string | null;
    ssl: boolean | null;
    tls_version: string | null;
    cipher: string | null;
    started: string | null;
    state: string | null;
    self: boolean;
  }>(
    `SELECT a.pid, a.usename AS user, a.datname AS database,
            CASE WHEN a.client_addr IS NOT NULL THEN host(a.client_addr)
                 WHEN a.client_port = -1 THEN 'local' END AS client_addr,
            a.application_name AS application, s.ssl, s.version AS tls_version, s.cipher,
            to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started,
            a.state, a.pid = pg_backend_pid() AS self
       FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s ON s.pid = a.pid
      WHERE a.backend_type = 'client backend'
        AND ($1::float8 IS NULL OR a.backend_start >= now() - make_interval(secs => $1::float8))
        AND ($2::text IS NULL OR a.usename = $2::text)
      ORDER BY a.backend_start DESC, a.pid`,
    [options.sinceSeconds ?? null, options.user ?? null],
  );
  const visibility = await pool.query<{ full: boolean }>(
    `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
            OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS full`,
  );
  return {
    fullVisibility: visibility.rows[0]?.full ?? false,
    sessions: rows.map((r) => ({
      pid: r.pid,
      user: r.user,
      database: r.database,
      clientAddress: r.client_addr,
      application: r.application,
      tls: r.ssl,
      tlsVersion: r.tls_version,
      cipher: r.cipher,
      startedAt: r.started,
      state: r.state,
      self: r.self,
    })),
  };
}
