/**
 * Limits and timeouts: the timeouts in force for the application's own
 * session, connection headroom, and sessions that hold resources right now.
 */
import { defineArea, fail, pass, pgDocs, skip } from '../check.js';
import { settingValue } from '../session.js';
import { ident } from '../sql-text.js';

interface ActivityRow {
  readonly pid: number;
  readonly usename: string | null;
  readonly datname: string | null;
  readonly seconds: number;
  readonly client: string | null;
}

export interface LimitsFacts {
  readonly role: string;
  readonly database: string;
  readonly statementTimeout: string | undefined;
  readonly idleInTransactionTimeout: string | undefined;
  readonly lockTimeout: string | undefined;
  readonly maxConnections: number;
  readonly backends: number;
  /** Undefined when other roles' sessions are not visible. */
  readonly idleInTransaction: readonly ActivityRow[] | undefined;
  readonly longRunning: readonly ActivityRow[] | undefined;
  readonly databases: readonly { name: string; limit: number }[];
}

function activitySql(condition: string, since: 'query_start' | 'state_change'): string {
  return `(SELECT coalesce(json_agg(json_build_object('pid', pid, 'usename', usename, 'datname', datname,
      'seconds', floor(extract(epoch FROM now() - ${since})),
      'client', host(client_addr)) ORDER BY pid), '[]'::json)
    FROM pg_catalog.pg_stat_activity WHERE pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend' AND ${condition})`;
}

const ms = (value: string | undefined): number => Number(value);

function timeoutCheck(
  id: string,
  name: string,
  key: 'statementTimeout' | 'idleInTransactionTimeout' | 'lockTimeout',
  severity: 'medium' | 'low',
  title: string,
  rationale: string,
  example: string,
) {
  return {
    id,
    severity,
    title,
    rationale,
    remediation: `ALTER ROLE app IN DATABASE appdb SET ${name} = '${example}';  -- or the pool's startup option`,
    references: [pgDocs(`runtime-config-client.html#GUC-${name.toUpperCase().replace(/_/g, '-')}`)],
    evaluate(facts: LimitsFacts) {
      const value = facts[key];
      if (value === undefined) return skip(`${name} is not visible.`);
      const where = `for ${facts.role} in ${facts.database} (the audit's own session: role and database settings and the startup parameters of the configuration)`;
      if (ms(value) > 0) return pass(`${name} = ${value} ms ${where}.`);
      return fail(
        `${name} = 0 (no limit) ${where}.`,
        [{ type: 'setting', name, value: `0 for ${facts.role}` }],
        {
          remediation: `ALTER ROLE ${ident(facts.role)} IN DATABASE ${ident(facts.database)} SET ${name} = '${example}';`,
        },
      );
    },
  };
}

const sessionList = (rows: readonly ActivityRow[]): string =>
  rows.map((r) => `pid ${r.pid} ${r.usename ?? '?'}@${r.datname ?? '?'} for ${r.seconds}s`).join(', ');

export const limitsArea = defineArea<LimitsFacts>({
  area: 'limits',
  needsConnection: true,
  async gather({ session, thresholds }) {
    const visible = session!.privileges.readAllStats || session!.privileges.superuser;
    const idle = Math.max(0, Math.floor(thresholds.idleInTransactionSeconds));
    const long = Math.max(0, Math.floor(thresholds.longRunningSeconds));
    const row = (
      await session!.query<{
        facts: Pick<LimitsFacts, 'backends' | 'databases' | 'idleInTransaction' | 'longRunning'>;
      }>(`SELECT json_build_object(
  'backends', (SELECT coalesce(sum(numbackends), 0) FROM pg_catalog.pg_stat_database),
  'databases', (SELECT coalesce(json_agg(json_build_object('name', datname, 'limit', datconnlimit) ORDER BY datname), '[]'::json)
    FROM pg_catalog.pg_database WHERE NOT datistemplate AND datallowconn)
  ${visible ? `, 'idleInTransaction', ${activitySql(`state LIKE 'idle in transaction%' AND now() - state_change > interval '${idle} seconds'`, 'state_change')}` : ''}
  ${visible ? `, 'longRunning', ${activitySql(`state = 'active' AND now() - query_start > interval '${long} seconds'`, 'query_start')}` : ''}
) AS facts`)
    )[0]!.facts;
    return {
      role: session!.user,
      database: session!.database,
      statementTimeout: settingValue(session, 'statement_timeout'),
      idleInTransactionTimeout: settingValue(session, 'idle_in_transaction_session_timeout'),
      lockTimeout: settingValue(session, 'lock_timeout'),
      maxConnections: Number(settingValue(session, 'max_connections')),
      backends: Number(row.backends),
      idleInTransaction: row.idleInTransaction,
      longRunning: row.longRunning,
      databases: row.databases,
    };
  },
  checks: [
    timeoutCheck(
      'limit.statement-timeout',
      'statement_timeout',
      'statementTimeout',
      'medium',
      'Statements of the application role time out',
      'Without statement_timeout one runaway or malicious query holds a connection, locks and CPU indefinitely.',
      '30s',
    ),
    timeoutCheck(
      'limit.idle-in-transaction',
      'idle_in_transaction_session_timeout',
      'idleInTransactionTimeout',
      'medium',
      'Sessions idle in a transaction are ended',
      'An abandoned open transaction holds locks and blocks vacuum, bloating tables until the server stalls.',
      '60s',
    ),
    timeoutCheck(
      'limit.lock-timeout',
      'lock_timeout',
      'lockTimeout',
      'low',
      'Lock waits of the application role time out',
      'Without lock_timeout a blocked statement queues behind a lock forever and piles up connections behind it.',
      '10s',
    ),
    {
      id: 'limit.connection-headroom',
      severity: 'high',
      title: 'Connections in use stay below 80% of max_connections',
      rationale:
        'Near max_connections new clients (and failover tooling) are refused; an attacker or a leaking pool can lock everyone out.',
      remediation:
        'Find the roles holding connections (pg_stat_activity), fix leaking pools, set per-role CONNECTION LIMITs, or raise max_connections (restart).',
      references: [pgDocs('runtime-config-connection.html#GUC-MAX-CONNECTIONS')],
      evaluate(facts, context) {
        const share = facts.backends / facts.maxConnections;
        const text = `${facts.backends} of max_connections ${facts.maxConnections} in use (${Math.round(share * 100)}%)`;
        if (share <= context.thresholds.connectionHeadroom) return pass(`${text}.`);
        return fail(`${text}, above ${Math.round(context.thresholds.connectionHeadroom * 100)}%.`, [
          { type: 'setting', name: 'max_connections', value: text },
        ]);
      },
    },
    {
      id: 'limit.idle-in-transaction-now',
      severity: 'medium',
      title: 'No session is idle in a transaction for long',
      rationale: 'A session idle in a transaction right now holds locks and the xmin horizon back.',
      remediation:
        'SELECT pg_terminate_backend(pid) for the sessions listed, then fix the client that leaves transactions open.',
      references: [pgDocs('monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW')],
      requires: ['readAllStats'],
      evaluate(facts, context) {
        const rows = facts.idleInTransaction ?? [];
        const limit = context.thresholds.idleInTransactionSeconds;
        if (rows.length === 0)
          return pass(`No session has been idle in a transaction for more than ${limit}s.`);
        return fail(
          `Idle in transaction for more than ${limit}s: ${sessionList(rows)}.`,
          rows.map((r) => ({
            type: 'session',
            name: `pid:${r.pid}`,
            value: `${r.usename ?? '?'}@${r.datname ?? '?'} idle in transaction ${r.seconds}s`,
          })),
          {
            remediation: rows.map((r) => `SELECT pg_terminate_backend(${r.pid});`).join('\n'),
          },
        );
      },
    },
    {
      id: 'limit.long-running',
      severity: 'medium',
      title: 'No statement has been running for long',
      rationale:
        'A statement running for a long time may be a runaway query, a denial of service, or data being exfiltrated.',
      remediation: 'SELECT pg_cancel_backend(pid) for the statements listed, and set statement_timeout.',
      references: [pgDocs('monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW')],
      requires: ['readAllStats'],
      evaluate(facts, context) {
        const rows = facts.longRunning ?? [];
        const limit = context.thresholds.longRunningSeconds;
        if (rows.length === 0) return pass(`No statement has been running for more than ${limit}s.`);
        return fail(
          `Running for more than ${limit}s: ${sessionList(rows)}.`,
          rows.map((r) => ({
            type: 'session',
            name: `pid:${r.pid}`,
            value: `${r.usename ?? '?'}@${r.datname ?? '?'} running ${r.seconds}s`,
          })),
          {
            remediation: rows.map((r) => `SELECT pg_cancel_backend(${r.pid});`).join('\n'),
          },
        );
      },
    },
    {
      id: 'limit.database-connlimit',
      severity: 'low',
      title: 'Databases have a connection limit',
      rationale:
        'A per-database limit keeps one application from taking every connection of a shared server.',
      remediation: 'ALTER DATABASE appdb CONNECTION LIMIT 80;',
      references: [pgDocs('sql-alterdatabase.html')],
      evaluate(facts) {
        const open = facts.databases.filter((d) => d.limit < 0);
        if (open.length === 0)
          return pass(
            `Every connectable database has a limit: ${facts.databases.map((d) => `${d.name} ${d.limit}`).join(', ')}.`,
          );
        return fail(
          `Databases without a connection limit: ${open.map((d) => d.name).join(', ')}.`,
          open.map((d) => ({ type: 'database', name: d.name, value: 'CONNECTION LIMIT -1' })),
          {
            remediation: open
              .map(
                (d) =>
                  `ALTER DATABASE ${ident(d.name)} CONNECTION LIMIT ${Math.max(1, Math.floor(facts.maxConnections * 0.8))};`,
              )
              .join('\n'),
          },
        );
      },
    },
  ],
});
