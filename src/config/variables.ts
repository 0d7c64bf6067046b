/**
 * Every environment variable pgwarden reads for the connection, in one table.
 * docs/config.md is checked against it by a test, so the two cannot drift.
 * Within a group the first listed wins; groups rank DATABASE_URL > DB_* > PG*.
 */
import type { OptionKey } from './schema.js';

export type VariableGroup = 'DB' | 'PG' | 'other';

export interface VariableSpec {
  readonly name: string;
  readonly group: VariableGroup;
  /** The option it sets; undefined where the reader maps it specially (DB_SSL…). */
  readonly option?: OptionKey;
  /** How the raw string becomes the option value. */
  readonly unit?: 'seconds';
  readonly description: string;
}

export const CONNECTION_VARIABLES: readonly VariableSpec[] = [
  { name: 'DB_HOST', group: 'DB', option: 'host', description: 'Server host.' },
  { name: 'DB_PORT', group: 'DB', option: 'port', description: 'Server port.' },
  { name: 'DB_NAME', group: 'DB', option: 'database', description: 'Database name.' },
  { name: 'DB_USER', group: 'DB', option: 'user', description: 'Login role.' },
  { name: 'DB_PASSWORD', group: 'DB', option: 'password', description: 'Password (plaintext environment).' },
  {
    name: 'DB_SSL',
    group: 'DB',
    description:
      '`true`: TLS with verification (verify-full; `require` when DB_SSL_REJECT_UNAUTHORIZED=false). `false`: no TLS.',
  },
  {
    name: 'DB_SSL_REJECT_UNAUTHORIZED',
    group: 'DB',
    description: '`false` turns certificate validation off (sslmode require). Refused in production.',
  },
  {
    name: 'DB_SSL_CA',
    group: 'DB',
    option: 'sslRootCert',
    description: 'CA: file path, inline PEM or `system`.',
  },
  { name: 'DB_SSL_CERT', group: 'DB', option: 'sslCert', description: 'Client certificate: path or PEM.' },
  { name: 'DB_SSL_KEY', group: 'DB', option: 'sslKey', description: 'Client key: path (mode 0600) or PEM.' },
  {
    name: 'DB_SSL_KEY_PASSPHRASE',
    group: 'DB',
    option: 'sslKeyPassphrase',
    description: 'Passphrase of an encrypted client key.',
  },
  { name: 'DB_POOL_MIN', group: 'DB', option: 'min', description: 'Connections kept open when idle.' },
  { name: 'DB_POOL_MAX', group: 'DB', option: 'max', description: 'Most connections open at once.' },
  {
    name: 'DB_CONNECTION_TIMEOUT',
    group: 'DB',
    option: 'connectionTimeoutMs',
    description: 'Connect timeout, milliseconds.',
  },
  {
    name: 'DB_IDLE_TIMEOUT',
    group: 'DB',
    option: 'idleTimeoutMs',
    description: 'Idle connection timeout, milliseconds.',
  },
  {
    name: 'DB_STATEMENT_TIMEOUT',
    group: 'DB',
    option: 'statementTimeoutMs',
    description: 'statement_timeout, milliseconds.',
  },
  {
    name: 'DB_QUERY_TIMEOUT',
    group: 'DB',
    option: 'queryTimeoutMs',
    description: 'Client-side query timeout, milliseconds (network cuts).',
  },
  {
    name: 'DB_POLICY',
    group: 'DB',
    option: 'policy',
    description: 'The policy: `standard` or `strict`.',
  },
  {
    name: 'DB_POOLER',
    group: 'DB',
    option: 'pooler',
    description:
      'A pooler in front of PostgreSQL (`pgbouncer`, `rds-proxy`, `pgcat`): no startup parameters; timeouts verified from the role settings.',
  },
  {
    name: 'DB_READ_REPLICA_HOST',
    group: 'DB',
    option: 'readReplicas',
    description: 'Read replicas for `pool.read`: `host[:port]`, comma-separated.',
  },
  {
    name: 'DB_READ_REPLICA_PORT',
    group: 'DB',
    option: 'readReplicaPort',
    description: 'Port of replicas listed without one.',
  },
  {
    name: 'DB_READ_REPLICA_MAX_LAG',
    group: 'DB',
    option: 'replicaMaxLagMs',
    description: 'Replicas lagging more (ms) are skipped.',
  },
  {
    name: 'DB_FAILOVER_TIMEOUT',
    group: 'DB',
    option: 'failoverTimeoutMs',
    description: 'Milliseconds to find a new writable host.',
  },
  {
    name: 'DATABASE_POOL_SIZE',
    group: 'DB',
    option: 'min',
    description: 'SQLAlchemy-style pool size: connections kept open (min); max is size + overflow.',
  },
  {
    name: 'DATABASE_MAX_OVERFLOW',
    group: 'DB',
    description:
      'SQLAlchemy-style overflow: extra connections above DATABASE_POOL_SIZE (max = size + overflow).',
  },
  {
    name: 'DATABASE_POOL_TIMEOUT',
    group: 'DB',
    option: 'acquireTimeoutMs',
    unit: 'seconds',
    description: 'Seconds a caller waits for a free connection.',
  },
  { name: 'PGHOST', group: 'PG', option: 'host', description: 'libpq: server host or socket directory.' },
  { name: 'PGPORT', group: 'PG', option: 'port', description: 'libpq: server port.' },
  { name: 'PGDATABASE', group: 'PG', option: 'database', description: 'libpq: database name.' },
  { name: 'PGUSER', group: 'PG', option: 'user', description: 'libpq: login role.' },
  {
    name: 'PGPASSWORD',
    group: 'PG',
    option: 'password',
    description: 'libpq: password (plaintext environment).',
  },
  { name: 'PGSSLMODE', group: 'PG', option: 'sslMode', description: 'libpq: sslmode.' },
  { name: 'PGSSLROOTCERT', group: 'PG', option: 'sslRootCert', description: 'libpq: CA file or `system`.' },
  { name: 'PGSSLCERT', group: 'PG', option: 'sslCert', description: 'libpq: client certificate file.' },
  { name: 'PGSSLKEY', group: 'PG', option: 'sslKey', description: 'libpq: client key file.' },
  {
    name: 'PGSSLMINPROTOCOLVERSION',
    group: 'PG',
    option: 'sslMinVersion',
    description: 'libpq: lowest TLS version.',
  },
  {
    name: 'PGSSLNEGOTIATION',
    group: 'PG',
    option: 'sslNegotiation',
    description: 'libpq: `postgres` or `direct`.',
  },
  { name: 'PGCHANNELBINDING', group: 'PG', option: 'channelBinding', description: 'libpq: channel_binding.' },
  {
    name: 'PGTARGETSESSIONATTRS',
    group: 'PG',
    option: 'targetSessionAttrs',
    description: 'libpq: target_session_attrs for a host list.',
  },
  { name: 'PGAPPNAME', group: 'PG', option: 'applicationName', description: 'libpq: application_name.' },
  {
    name: 'PGCONNECT_TIMEOUT',
    group: 'PG',
    option: 'connectionTimeoutMs',
    unit: 'seconds',
    description: 'libpq: connect timeout, seconds.',
  },
  {
    name: 'PGPASSFILE',
    group: 'PG',
    description:
      'libpq: the password file (default `~/.pgpass`), read when no other source gives a password; ignored unless mode 0600, as libpq does.',
  },
  {
    name: 'PGREQUIRESSL',
    group: 'PG',
    description:
      'libpq, deprecated: `1` means sslmode `require` when nothing sets sslmode; never lowers the production default (verify-full).',
  },
];

/** Read elsewhere (secrets, environment, replicas): known, so never reported as typos. */
export const OTHER_KNOWN_VARIABLES: readonly string[] = [
  'DATABASE_URL',
  'APP_ENV',
  'NODE_ENV',
  'ENVIRONMENT',
  'SECRETS_BACKEND',
  'DB_SECRET_ID',
  'DB_SSM_PARAMETER',
  'DB_PROFILE',
  'DB_CREDENTIALS_ENV',
  'DB_PASSWORD_FILE',
  'DB_USER_FILE',
  'DB_APP_PASSWORD',
  // libpq variables pgwarden does not use but that are legitimate
  'PGHOSTADDR',
  'PGSERVICE',
  'PGSERVICEFILE',
  'PGOPTIONS',
  'PGSSLCRL',
  'PGSSLCRLDIR',
  'PGSSLSNI',
  'PGSSLCOMPRESSION',
  'PGSSLMAXPROTOCOLVERSION',
  'PGSSLCERTMODE',
  'PGREQUIREAUTH',
  'PGREQUIREPEER',
  'PGGSSENCMODE',
  'PGGSSLIB',
  'PGKRBSRVNAME',
  'PGGSSDELEGATION',
  'PGLOADBALANCEHOSTS',
  'PGCLIENTENCODING',
  'PGDATESTYLE',
  'PGTZ',
  'PGGEQO',
  'PGSYSCONFDIR',
  'PGLOCALEDIR',
  'PGDATA',
  'PG_BIN',
  'PG_COLOR',
  'PGWARDEN_HOME',
];

export const KNOWN_VARIABLE_NAMES: ReadonlySet<string> = new Set([
  ...CONNECTION_VARIABLES.map((v) => v.name),
  ...OTHER_KNOWN_VARIABLES,
]);
