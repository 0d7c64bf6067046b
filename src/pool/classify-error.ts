/**
 * Turns what pg, node:net and node:tls throw while connecting into coded
 * errors that name the option to change. The original error is kept, redacted,
 * as `cause`.
 */
import { ConnectionError, PgwardenError, QueryError, TlsError, type ErrorCode } from '../errors.js';

export interface ConnectContext {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly sslMode: string;
  readonly sslNegotiation?: 'postgres' | 'direct';
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
]);

function fields(error: unknown): { code: string; message: string; sqlstate: string | undefined } {
  const e = error as { code?: unknown; message?: unknown; severity?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  // pg's DatabaseError carries the SQLSTATE in `code` and always has `severity`.
  const sqlstate = typeof e?.severity === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  return { code, message: typeof e?.message === 'string' ? e.message : String(error), sqlstate };
}

/** A coded error for a failure while opening a connection. */
export function classifyConnectError(error: unknown, ctx: ConnectContext): PgwardenError {
  if (error instanceof PgwardenError) return error;
  const { code, message, sqlstate } = fields(error);
  const where = `${ctx.host}:${ctx.port}`;
  if (
    ctx.sslNegotiation === 'direct' &&
    !sqlstate &&
    !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)
  ) {
    return new TlsError('PGW_TLS_HANDSHAKE', `Direct TLS negotiation with ${where} failed: ${message}`, {
      option: 'sslNegotiation',
      fix: 'sslnegotiation=direct needs PostgreSQL 17 or newer on the server (or a proxy that speaks it); use sslnegotiation=postgres otherwise.',
      cause: error,
    });
  }
  const make = (kind: 'conn' | 'tls', errorCode: ErrorCode, text: string, option: string, fix: string) =>
    kind === 'tls'
      ? new TlsError(errorCode, text, { option, fix, cause: error })
      : new ConnectionError(errorCode, text, { option, fix, cause: error });

  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return make(
      'tls',
      'PGW_TLS_CERT_EXPIRED',
      `The server certificate of ${where} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'}.`,
      'server certificate',
      'Renew the server certificate (ssl_cert_file) and reload PostgreSQL.',
    );
  }
  if (UNTRUSTED.has(code)) {
    return make(
      'tls',
      'PGW_TLS_CERT_UNTRUSTED',
      `The server certificate of ${where} does not chain to the configured root certificate (${code}).`,
      'sslRootCert',
      'Set DB_SSL_CA / PGSSLROOTCERT to the CA that signed the server certificate.',
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return make(
      'tls',
      'PGW_TLS_HOSTNAME_MISMATCH',
      `The server certificate does not name "${ctx.host}" (sslmode ${ctx.sslMode}).`,
      'host',
      'Connect with a host name the certificate lists, set sslServerName to the certified name, or reissue the certificate with this name.',
    );
  }
  // The server answered: its SQLSTATE decides, never words in its message
  // (a pooler's "unsupported startup parameter: statement_timeout" is not a timeout).
  if (sqlstate) return classifyServerRefusal(error, sqlstate, message, ctx, make);
  if (/does not support SSL/i.test(message)) {
    return make(
      'tls',
      'PGW_TLS_SERVER_NO_SSL',
      `The server at ${where} does not accept TLS, but sslmode is ${ctx.sslMode}.`,
      'sslMode',
      'Enable ssl on the server (ssl = on with a certificate); disable TLS only for local development.',
    );
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /\bssl|tls\b|handshake/i.test(message)) {
    return make(
      'tls',
      'PGW_TLS_HANDSHAKE',
      `The TLS handshake with ${where} failed: ${message}`,
      'sslMode',
      'Check the server TLS settings (ssl_min_protocol_version, ciphers) and the client certificate.',
    );
  }
  if (/SASL: SCRAM-SERVER-FINAL-MESSAGE/.test(message)) {
    return passwordRejected(ctx, make);
  }
  if (code === 'ECONNREFUSED') {
    return make(
      'conn',
      'PGW_CONN_REFUSED',
      `Nothing accepts connections at ${where}.`,
      'host',
      'Check that PostgreSQL runs there, that listen_addresses and port match, and that no firewall blocks it.',
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return make(
      'conn',
      'PGW_CONN_HOST_NOT_FOUND',
      `The host name "${ctx.host}" does not resolve.`,
      'host',
      'Check DB_HOST / PGHOST / the URL host.',
    );
  }
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) {
    return make(
      'conn',
      'PGW_CONN_TIMEOUT',
      `Connecting to ${where} timed out.`,
      'connectionTimeoutMs',
      'Check the network path to the server, or raise DB_CONNECTION_TIMEOUT.',
    );
  }
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /terminated unexpectedly|Connection terminated/i.test(message)
  ) {
    return make(
      'conn',
      'PGW_CONN_LOST',
      `The connection to ${where} was closed during startup.`,
      'host',
      'Check the server log: it may be shutting down, out of connections, or rejecting the TLS settings.',
    );
  }
  return make(
    'conn',
    'PGW_CONN_FAILED',
    `Connecting to ${where} failed: ${message}`,
    'host',
    'See the cause for details.',
  );
}

type Make = (
  kind: 'conn' | 'tls',
  errorCode: ErrorCode,
  text: string,
  option: string,
  fix: string,
) => PgwardenError;

/** Session startup parameters pgwarden sends, and the option that sets each. */
const STARTUP_PARAMETER_OPTIONS: Record<string, string> = {
  statement_timeout: 'statementTimeoutMs (DB_STATEMENT_TIMEOUT)',
  lock_timeout: 'lockTimeoutMs',
  idle_in_transaction_session_timeout: 'idleInTransactionSessionTimeoutMs',
  application_name: 'applicationName (PGAPPNAME)',
};

/** The server refused the password: its 28P01, or a SCRAM exchange whose final message did not verify. */
function passwordRejected(ctx: ConnectContext, make: Make): PgwardenError {
  return make(
    'conn',
    'PGW_CONN_AUTH_FAILED',
    `The server rejected the password of user "${ctx.user}".`,
    'password',
    'Check the password (DB_PASSWORD, PGPASSWORD or the secrets backend) and whether it has expired (VALID UNTIL).',
  );
}

/** An error the server (or a pooler speaking for it) sent while the connection was being set up. */
function classifyServerRefusal(
  error: unknown,
  sqlstate: string,
  message: string,
  ctx: ConnectContext,
  make: Make,
): PgwardenError {
  const where = `${ctx.host}:${ctx.port}`;
  const parameter = /unsupported startup parameter: (\S+)/i.exec(message)?.[1];
  if (parameter) {
    const option = STARTUP_PARAMETER_OPTIONS[parameter] ?? parameter;
    return make(
      'conn',
      'PGW_CONN_STARTUP_PARAMETER_REFUSED',
      `${where} refused the startup parameter ${parameter} (set by ${option}): a connection pooler such as PgBouncer in transaction mode forwards no session parameters.`,
      option.split(' ')[0]!,
      'Set DB_POOLER=pgbouncer (pooler option): pgwarden then sends no session parameters and verifies that the role-level settings (ALTER ROLE ... SET, which pgwarden roles apply manages) give the timeouts. Listing the parameter in ignore_startup_parameters alone would drop the timeout silently.',
    );
  }
  if (sqlstate === '28P01') {
    return passwordRejected(ctx, make);
  }
  if (sqlstate === '28000') {
    if (/pg_hba\.conf/.test(message)) {
      return make(
        'conn',
        'PGW_CONN_HBA_REJECTED',
        `No pg_hba.conf rule admits user "${ctx.user}" to database "${ctx.database}" from here (sslmode ${ctx.sslMode}).`,
        'sslMode',
        'Add a matching hostssl rule to pg_hba.conf, or connect with the sslmode the server requires.',
      );
    }
    return make(
      'conn',
      'PGW_CONN_AUTH_FAILED',
      `The server refused user "${ctx.user}": ${message}`,
      'user',
      'Check the user name, that the role exists and has LOGIN.',
    );
  }
  if (sqlstate === '3D000') {
    return make(
      'conn',
      'PGW_CONN_DATABASE_NOT_FOUND',
      `Database "${ctx.database}" does not exist on ${where}.`,
      'database',
      'Check DB_NAME / PGDATABASE / the URL path, or create the database.',
    );
  }
  return new QueryError(
    'PGW_CONN_FAILED',
    `Connecting to ${where} failed: ${message} (SQLSTATE ${sqlstate}).`,
    error as never,
    {
      option: 'host',
      fix:
        sqlstate === '53300'
          ? 'The server has no free connection slots: lower pool sizes or raise max_connections.'
          : 'See the SQLSTATE in the PostgreSQL documentation.',
      cause: error,
    },
  );
}

/**
 * SQLSTATEs 57P01-57P05 (shutdown, crash, database dropped, idle session
 * timeout): the server is ending the session, not rejecting the statement.
 */
export function endsSession(sqlstate: string | undefined): boolean {
  return sqlstate?.startsWith('57P') ?? false;
}

/** A coded error for a failing query, keeping the SQLSTATE and the server's fields. */
export function classifyQueryError(error: unknown): PgwardenError {
  if (error instanceof PgwardenError) return error;
  const { code, message, sqlstate } = fields(error);
  // The server ended the session (shutdown, crash, terminate): the statement
  // may or may not have run. Still the server's error, with its SQLSTATE.
  if (endsSession(sqlstate)) {
    return new QueryError(
      'PGW_QUERY_CONNECTION_LOST',
      `The server ended the session while the query ran; it may or may not have been executed: ${message}`,
      error as never,
      { fix: 'Retry only if the statement is idempotent, or check its effect first.', cause: error },
    );
  }
  if (sqlstate) {
    return new QueryError('PGW_QUERY_FAILED', message, error as never, { cause: error });
  }
  if (/Query read timeout/.test(message)) {
    return new ConnectionError(
      'PGW_QUERY_TIMEOUT',
      'The query got no answer within queryTimeoutMs; it may or may not have run, and its connection was discarded.',
      {
        option: 'queryTimeoutMs',
        fix: 'Check the network path to the server; retry only idempotent statements.',
        cause: error,
      },
    );
  }
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /Connection terminated|connection.*(lost|closed)|Client was closed|not queryable/i.test(message)
  ) {
    return connectionLost(message, error);
  }
  return new QueryError('PGW_QUERY_FAILED', message, {}, { cause: error });
}

function connectionLost(detail: string, cause: unknown): ConnectionError {
  return new ConnectionError(
    'PGW_QUERY_CONNECTION_LOST',
    `The connection was lost while the query ran; it may or may not have been executed: ${detail}`,
    { fix: 'Retry only if the statement is idempotent, or check its effect first.', cause },
  );
}
