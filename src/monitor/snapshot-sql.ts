/**
 * The one statement behind a snapshot. Everything comes back as a single JSON
 * value so that a snapshot costs one round trip and every number in it is
 * taken at the same instant (`now()` of one statement).
 *
 * Parameters: $1 long-running threshold in ms, $2 row limit per list.
 * Only client backends are counted: walsenders and background workers do not
 * use max_connections slots the application competes for.
 */
export const SNAPSHOT_SQL = `/* pgwarden monitor */
WITH act AS (
  SELECT a.pid, a.usename, a.datname, a.application_name, a.client_addr, a.client_port, a.state,
         a.query_start, a.xact_start, a.state_change, a.wait_event_type, a.wait_event,
         left(a.query, 4000) AS query, s.ssl, s.version AS ssl_version
  FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s ON s.pid = a.pid
  -- Other roles' rows read NULL in every column but pid and usename without
  -- pg_read_all_stats; a NULL backend_type with a user name is such a client.
  WHERE a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usename IS NOT NULL)
)
SELECT json_build_object(
  'now', now(),
  'self', pg_backend_pid(),
  'version', current_setting('server_version'),
  'versionNum', current_setting('server_version_num')::int,
  'database', current_database(),
  'user', current_user,
  'inRecovery', pg_is_in_recovery(),
  'maxConnections', current_setting('max_connections')::int,
  'reservedConnections', current_setting('superuser_reserved_connections')::int,
  'allStats', pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
  'statStatements', (
    SELECT json_build_object('version', e.extversion, 'schema', n.nspname)
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements'),
  'byState', (
    SELECT coalesce(json_object_agg(st, n), '{}'::json)
    FROM (SELECT coalesce(state, 'unknown') AS st, count(*) AS n FROM act GROUP BY 1) x),
  'byUser', (
    SELECT coalesce(json_agg(json_build_object('user', u, 'count', n) ORDER BY n DESC, u), '[]'::json)
    FROM (SELECT coalesce(usename, 'unknown') AS u, count(*) AS n FROM act GROUP BY 1) x),
  'tls', (
    SELECT json_build_object(
      'total', count(*),
      'tls', count(*) FILTER (WHERE ssl),
      'plain', count(*) FILTER (WHERE ssl IS NOT TRUE AND client_port > 0),
      'local', count(*) FILTER (WHERE client_port = -1),
      'unknown', count(*) FILTER (WHERE ssl IS NOT TRUE AND client_port IS NULL))
    FROM act),
  'tlsVersions', (
    SELECT coalesce(json_object_agg(v, n), '{}'::json)
    FROM (SELECT ssl_version AS v, count(*) AS n FROM act WHERE ssl GROUP BY 1) x),
  'longRunningCount', (
    SELECT count(*) FROM act
    WHERE state = 'active' AND pid <> pg_backend_pid()
      AND query_start < now() - $1::float8 * interval '1 millisecond'),
  'longRunning', (
    SELECT coalesce(json_agg(x ORDER BY x."durationMs" DESC), '[]'::json) FROM (
      SELECT pid, usename AS "user", datname AS "database", application_name AS "application",
             extract(epoch FROM now() - query_start) * 1000 AS "durationMs",
             state, concat_ws(':', wait_event_type, wait_event) AS "waitEvent", ssl, query
      FROM act
      WHERE state = 'active' AND pid <> pg_backend_pid()
        AND query_start < now() - $1::float8 * interval '1 millisecond'
      ORDER BY query_start LIMIT $2) x),
  'idleInTransactionCount', (
    SELECT count(*) FROM act WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()),
  'idleInTransaction', (
    SELECT coalesce(json_agg(x ORDER BY x."idleMs" DESC), '[]'::json) FROM (
      SELECT pid, usename AS "user", datname AS "database", application_name AS "application",
             state = 'idle in transaction (aborted)' AS aborted,
             extract(epoch FROM now() - state_change) * 1000 AS "idleMs",
             extract(epoch FROM now() - xact_start) * 1000 AS "transactionMs",
             ssl, query
      FROM act
      WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()
      ORDER BY state_change LIMIT $2) x),
  'databases', (
    SELECT coalesce(json_agg(json_build_object(
      'name', d.datname,
      'sizeBytes', CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END,
      'backends', s.numbackends,
      'commits', s.xact_commit,
      'rollbacks', s.xact_rollback,
      'deadlocks', s.deadlocks,
      'tempFiles', s.temp_files,
      'tempBytes', s.temp_bytes,
      'statsReset', s.stats_reset) ORDER BY d.datname), '[]'::json)
    FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid
    WHERE d.datallowconn AND NOT d.datistemplate)
) AS snapshot`;

/**
 * The slowest statements by mean execution time. Column names changed in
 * PostgreSQL 13 (`mean_time` became `mean_exec_time`); the schema is the
 * extension's, which need not be on the search_path.
 */
export function statementsSql(schema: string, versionNum: number): string {
  const quoted = `"${schema.replace(/"/g, '""')}"`;
  const suffix = versionNum >= 130000 ? '_exec_time' : '_time';
  return `/* pgwarden monitor */ SELECT s.queryid::text AS "queryId", r.rolname AS "user", d.datname AS "database", s.calls,
  s.total${suffix} AS "totalMs", s.mean${suffix} AS "meanMs", s.max${suffix} AS "maxMs", s.rows,
  left(s.query, 4000) AS query
FROM ${quoted}.pg_stat_statements s
  LEFT JOIN pg_roles r ON r.oid = s.userid
  LEFT JOIN pg_database d ON d.oid = s.dbid
ORDER BY s.mean${suffix} DESC NULLS LAST
LIMIT $1`;
}
