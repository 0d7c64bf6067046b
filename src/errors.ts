/**
 * Every error pgwarden throws is a {@link PgwardenError} with a stable `code`.
 * Codes never change meaning once published; docs/errors.md lists each one and
 * a test keeps that list and {@link ERROR_CODES} in step.
 *
 * Messages pass through redaction when the error is built, so a password that
 * slipped into a driver message never reaches a log or a stack trace.
 */
import { redact } from './redact/redactor.js';

/** Stable codes, with the one-line meaning shown in docs/errors.md. */
export const ERROR_CODES = {
  // configuration
  PGW_CONFIG_INVALID: 'A configuration value is malformed or out of range.',
  PGW_CONFIG_URL_INVALID: 'DATABASE_URL (or the url option) is not a valid postgres:// URL.',
  PGW_CONFIG_UNKNOWN_KEY: 'Warning: an unknown DB_*/PG* variable or option, probably misspelled.',
  PGW_CONFIG_FILE_UNREADABLE: 'A file named by the configuration (CA, certificate, key) cannot be read.',
  PGW_CONFIG_CONFLICT: 'Two settings contradict each other.',
  // production policy
  PGW_POLICY_VIOLATION: 'The configuration breaks the production policy; the error lists every violation.',
  PGW_POLICY_TLS_DISABLED: 'Policy rule: TLS is off or may fall back to plaintext.',
  PGW_POLICY_TLS_NOT_VERIFY_FULL: 'Policy rule: TLS does not verify the certificate chain and host name.',
  PGW_POLICY_CERT_VALIDATION_DISABLED: 'Policy rule: certificate validation is disabled.',
  PGW_POLICY_TLS_MIN_VERSION: 'Policy rule: a TLS version below 1.2 is allowed.',
  PGW_POLICY_PASSWORD_FROM_DOTENV: 'Policy rule: the password was read from a .env file.',
  PGW_POLICY_PASSWORD_PLAINTEXT_ENV:
    'Policy rule (strict profile): the password is a plaintext environment variable.',
  PGW_POLICY_PASSWORD_IN_URL: 'Policy rule (strict profile): the password is embedded in the connection URL.',
  PGW_POLICY_WEAK_PASSWORD: 'Policy rule: the password is short, common or equal to the user name.',
  PGW_POLICY_PRIVILEGED_ROLE:
    'Policy rule: the connected role is a superuser or holds a dangerous attribute.',
  // TLS
  PGW_TLS_SERVER_NO_SSL: 'The server does not accept TLS but the sslmode requires it.',
  PGW_TLS_CERT_UNTRUSTED: 'The server certificate does not chain to a trusted root.',
  PGW_TLS_CERT_EXPIRED: 'The server certificate has expired or is not yet valid.',
  PGW_TLS_HOSTNAME_MISMATCH: 'The server certificate does not name the host connected to.',
  PGW_TLS_ROOT_CERT_MISSING: 'A verifying sslmode has no root certificate to verify against.',
  PGW_TLS_KEY_PASSPHRASE: 'The client key is encrypted and the passphrase is missing or wrong.',
  PGW_TLS_KEY_PERMISSIONS: 'The client key file is readable by group or others (libpq refuses it too).',
  PGW_TLS_INVALID_PEM: 'A CA, certificate or key is not valid PEM.',
  PGW_TLS_CHANNEL_BINDING: 'channel_binding=require could not be satisfied.',
  PGW_TLS_HANDSHAKE: 'The TLS handshake failed for another reason.',
  // connecting
  PGW_CONN_REFUSED: 'Nothing accepts connections at the host and port.',
  PGW_CONN_HOST_NOT_FOUND: 'The host name does not resolve.',
  PGW_CONN_TIMEOUT: 'Connecting took longer than the connection timeout.',
  PGW_CONN_AUTH_FAILED: 'The server rejected the user name or password.',
  PGW_CONN_HBA_REJECTED: 'No pg_hba.conf rule admits this connection.',
  PGW_CONN_DATABASE_NOT_FOUND: 'The database does not exist.',
  PGW_CONN_LOST: 'The connection to the server was lost.',
  PGW_CONN_FAILED: 'Connecting failed for another reason; the cause is attached.',
  // pool
  PGW_POOL_EXHAUSTED: 'No connection became free within the acquire timeout.',
  PGW_POOL_CLOSED: 'The pool has been closed.',
  // queries
  PGW_QUERY_FAILED: 'The server reported an error for a query; sqlstate and fields are kept.',
  PGW_QUERY_CONNECTION_LOST: 'The connection was lost while a query ran; it may or may not have executed.',
  PGW_SQL_INVALID: 'A sql`` fragment or identifier is malformed.',
  // secrets backends
  PGW_SECRET_CONFIG: 'A secrets backend setting is missing or invalid (e.g. VAULT_ADDR unset).',
  PGW_SECRET_UNKNOWN_BACKEND: 'SECRETS_BACKEND names no known backend.',
  PGW_SECRET_NOT_ALLOWED:
    'This secrets backend is not allowed in this environment (e.g. dotenv in production).',
  PGW_SECRET_FILE_PERMISSIONS: 'A secret file is readable by group or others.',
  PGW_SECRET_NOT_FOUND: 'The secret (or secret file, or Vault path) does not exist.',
  PGW_SECRET_ACCESS_DENIED: 'The backend refused access to the secret.',
  PGW_SECRET_MALFORMED: 'The secret value is not in the expected format (e.g. invalid JSON).',
  PGW_SECRET_FIELD_MISSING: 'The secret lacks a required field (e.g. password).',
  PGW_SECRET_BACKEND_UNAVAILABLE: 'The backend could not be reached or answered with a server error.',
  PGW_SECRET_VAULT_SEALED: 'Vault is sealed (HTTP 503).',
  PGW_SECRET_TOKEN_EXPIRED: 'The backend token is expired or revoked (Vault 403).',
  PGW_SECRET_LEASE_NOT_RENEWABLE: 'A Vault lease cannot be renewed.',
  PGW_SECRET_STALE: 'Warning: the backend failed, so cached credentials are served within the stale grace.',
  // creds, roles, incident (add codes of that area here)
  // audit (add codes of that area here)
  // backup (add codes of that area here)
  // health, metrics, monitor, alerts (add codes of that area here)
  // throwaway clusters (demo and tests)
  PGW_HARNESS_FAILED:
    'The throwaway PostgreSQL harness failed (initdb, start, reload or stop); the server log tail is in the message.',
  // CLI
  PGW_CLI_USAGE: 'The command line is malformed.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface PgwardenErrorOptions {
  /** The option or variable the error is about, e.g. `DB_SSL_CA`. */
  option?: string;
  /** What to do about it, one sentence. */
  fix?: string;
  cause?: unknown;
}

export class PgwardenError extends Error {
  readonly code: ErrorCode;
  readonly option: string | undefined;
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options: PgwardenErrorOptions = {}) {
    const parts = [redact(message)];
    if (options.fix) parts.push(`Fix: ${redact(options.fix)}`);
    super(parts.join(' '), options.cause === undefined ? undefined : { cause: redactCause(options.cause) });
    this.name = new.target.name;
    this.code = code;
    this.option = options.option;
    this.fix = options.fix === undefined ? undefined : redact(options.fix);
  }

  /** A plain object safe for JSON output and logs. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.option ? { option: this.option } : {}),
      ...(this.fix ? { fix: this.fix } : {}),
    };
  }
}

export class ConfigError extends PgwardenError {}
export class TlsError extends PgwardenError {}
export class ConnectionError extends PgwardenError {}
export class PoolError extends PgwardenError {}
export class SqlError extends PgwardenError {}
/** Errors of secrets backends; the message names the backend and never the secret. */
export class SecretError extends PgwardenError {}
export class CliUsageError extends PgwardenError {
  constructor(message: string, options: PgwardenErrorOptions = {}) {
    super('PGW_CLI_USAGE', message, options);
  }
}

/** One broken rule of the production policy. */
export interface PolicyViolation {
  code: ErrorCode;
  message: string;
  option: string;
  fix: string;
}

/** Thrown when the policy refuses to start: carries every violation at once. */
export class PolicyError extends PgwardenError {
  readonly violations: readonly PolicyViolation[];
  constructor(violations: readonly PolicyViolation[], environment: string) {
    const list = violations.map((v) => `  - [${v.code}] ${v.message} Fix: ${v.fix}`).join('\n');
    super(
      'PGW_POLICY_VIOLATION',
      `Refusing to start in ${environment}: ${violations.length} policy violation(s):\n${list}\n`,
    );
    this.violations = Object.freeze(
      violations.map((v) => Object.freeze({ ...v, message: redact(v.message) })),
    );
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), violations: this.violations };
  }
}

/**
 * A server-reported error. The SQLSTATE and the server's fields are kept so
 * callers can branch on them (`23505`, `40001`, …).
 */
export class QueryError extends PgwardenError {
  readonly sqlstate: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly severity: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly constraint: string | undefined;
  readonly schema: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    fields: DatabaseErrorFields,
    options: PgwardenErrorOptions = {},
  ) {
    super(code, message, options);
    this.sqlstate = fields.code;
    this.detail = fields.detail === undefined ? undefined : redact(fields.detail);
    this.hint = fields.hint;
    this.severity = fields.severity;
    this.table = fields.table;
    this.column = fields.column;
    this.constraint = fields.constraint;
    this.schema = fields.schema;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), sqlstate: this.sqlstate };
  }
}

/** The fields of pg's DatabaseError that we keep. */
export interface DatabaseErrorFields {
  code?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  severity?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  constraint?: string | undefined;
  schema?: string | undefined;
}

/**
 * Causes are kept for debugging, but a driver error may quote a connection
 * string: rebuild it with a redacted message and stack.
 */
function redactCause(cause: unknown): unknown {
  if (cause instanceof PgwardenError) return cause;
  if (cause instanceof Error) {
    const copy = new Error(redact(cause.message));
    copy.name = cause.name;
    copy.stack = cause.stack === undefined ? undefined : redact(cause.stack);
    for (const key of ['code', 'errno', 'syscall', 'sqlstate', 'severity', 'routine'] as const) {
      const value = (cause as unknown as Record<string, unknown>)[key];
      if (typeof value === 'string' || typeof value === 'number') {
        (copy as unknown as Record<string, unknown>)[key] = value;
      }
    }
    return copy;
  }
  return typeof cause === 'string' ? redact(cause) : undefined;
}
