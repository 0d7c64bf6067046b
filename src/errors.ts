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
  PGW_CONFIG_DEPRECATED:
    'Warning: a deprecated variable or option is in use; the message names what replaces it.',
  PGW_CONFIG_FILE_UNREADABLE: 'A file named by the configuration (CA, certificate, key) cannot be read.',
  PGW_CONFIG_CONFLICT: 'Two settings contradict each other.',
  PGW_CONFIG_PROFILE_UNKNOWN:
    'No stored profile (`pgwarden creds add NAME`) has the name given by --profile or DB_PROFILE.',
  // production policy
  PGW_POLICY_VIOLATION: 'The configuration breaks the production policy; the error lists every violation.',
  PGW_POLICY_TLS_DISABLED: 'Policy rule: TLS is off or may fall back to plaintext.',
  PGW_POLICY_TLS_NOT_VERIFY_FULL: 'Policy rule: TLS does not verify the certificate chain and host name.',
  PGW_POLICY_CERT_VALIDATION_DISABLED: 'Policy rule: certificate validation is disabled.',
  PGW_POLICY_TLS_MIN_VERSION: 'Policy rule: a TLS version below 1.2 is allowed.',
  PGW_POLICY_PASSWORD_FROM_DOTENV: 'Policy rule: the password was read from a .env file.',
  PGW_POLICY_PASSWORD_PLAINTEXT_ENV:
    'Policy rule (strict policy): the password is a plaintext environment variable.',
  PGW_POLICY_PASSWORD_IN_URL: 'Policy rule (strict policy): the password is embedded in the connection URL.',
  PGW_POLICY_WEAK_PASSWORD: 'Policy rule: the password is short, common or equal to the user name.',
  PGW_POLICY_SESSION_SETTING_MISMATCH:
    "Policy rule: behind a connection pooler, the role's setting of a timeout differs from the one configured.",
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
  PGW_CONN_NO_TARGET_HOST:
    'No host of the list has the wanted target_session_attrs (e.g. no writable primary yet).',
  PGW_CONN_STARTUP_PARAMETER_REFUSED:
    'A connection pooler (PgBouncer in transaction mode) refused a session startup parameter such as statement_timeout.',
  PGW_CONN_PASSWORD_MISSING:
    'The server asked for a password and none was configured (no DB_PASSWORD, PGPASSWORD, URL password, secrets backend or ~/.pgpass entry).',
  PGW_CONN_PROTOCOL:
    'While connecting, the server sent what no PostgreSQL server sends (more than 1 MiB before the session was ready); the socket was closed.',
  PGW_CONN_FAILED: 'Connecting failed for another reason; the cause is attached.',
  // pool
  PGW_POOL_EXHAUSTED: 'No connection became free within the acquire timeout.',
  PGW_POOL_CLOSED: 'The pool has been closed.',
  PGW_POOL_NOT_READY:
    'The pool was built without awaiting it and its configuration waits on the secrets backend: await pool.ready() first.',
  // queries
  PGW_QUERY_FAILED: 'The server reported an error for a query; sqlstate and fields are kept.',
  PGW_QUERY_TIMEOUT:
    'The query exceeded queryTimeoutMs on the client (e.g. a network cut); it may or may not have run.',
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
  PGW_SECRET_ABORTED:
    'The caller cancelled the request with its AbortSignal; nothing is known to be wrong with the backend.',
  PGW_SECRET_VAULT_SEALED: 'Vault is sealed (HTTP 503).',
  PGW_SECRET_TOKEN_EXPIRED: 'The backend token is expired or revoked (Vault 403).',
  PGW_SECRET_LEASE_NOT_RENEWABLE: 'A Vault lease cannot be renewed.',
  PGW_SECRET_STALE: 'Warning: the backend failed, so cached credentials are served within the stale grace.',
  // creds, roles, incident (add codes of that area here)
  PGW_CREDS_INVALID: 'A credentials value is invalid (environment name, port, sslmode, expiry, length…).',
  PGW_CREDS_UNKNOWN_ENV: 'No stored environment has this name.',
  PGW_CREDS_ENV_EXISTS: 'The environment is already stored (use update).',
  PGW_CREDS_STORE_UNAVAILABLE:
    'The credential store is absent or unreachable (no Secret Service, no encrypted file, no entry).',
  PGW_CREDS_STORE_LOCKED: 'The credential store is locked, or its passphrase is missing or wrong.',
  PGW_CREDS_STORE_WRITE_FAILED:
    'Writing the credential store (OS keychain, encrypted file or metadata) failed.',
  PGW_CREDS_STORE_BUSY:
    'Another pgwarden process held the credential store lock longer than the lock timeout; nothing was changed.',
  PGW_CREDS_METADATA_INVALID:
    'credentials.json (or the encrypted store) is malformed or has unsafe permissions.',
  PGW_CREDS_CONFIRMATION_REQUIRED: 'Changing a production environment needs confirmation (--yes).',
  PGW_CREDS_CURRENT_INVALID: 'The stored password does not work, so it cannot be rotated.',
  PGW_CREDS_ROTATION_FAILED:
    'Rotation failed and the database side was rolled back; the old password still works.',
  PGW_CREDS_ROLLBACK_FAILED: 'Rotation failed and so did its rollback: the message says what to fix by hand.',
  PGW_ROLE_NOT_FOUND: 'The role does not exist.',
  PGW_ROLE_INSUFFICIENT_PRIVILEGE:
    'The connected role lacks a privilege the operation needs (CREATEROLE, pg_signal_backend…).',
  PGW_ROLES_FILE_INVALID: 'The roles file is malformed; the message gives the line and column.',
  PGW_ROLES_FORBIDDEN_ATTRIBUTE: 'The roles file asks for SUPERUSER, BYPASSRLS, REPLICATION or CREATEROLE.',
  PGW_ROLES_APPLY_FAILED: 'Applying the roles plan failed; the transaction was rolled back.',
  PGW_INCIDENT_REFUSED:
    'The incident action was refused (e.g. revoking the role the command is connected as).',
  // audit (add codes of that area here)
  PGW_AUDIT_SUPPRESSIONS_INVALID:
    'The audit suppressions (.pgwarden-audit.yaml or --ignore) are malformed, lack a reason or name an unknown check.',
  PGW_AUDIT_BASELINE_INVALID: 'The --baseline file cannot be read or is not a pgwarden audit JSON report.',
  PGW_AUDIT_OUTPUT_FAILED: 'The audit report could not be written to the --output file.',
  // backup (add codes of that area here)
  PGW_BACKUP_KEY_REQUIRED: 'No encryption key was given: no backup is written or read without one.',
  PGW_BACKUP_KEY_INVALID: 'A key file, passphrase or key-service setting is malformed or too weak.',
  PGW_BACKUP_KEY_PERMISSIONS: 'A key or passphrase file is readable by group or others.',
  PGW_BACKUP_WRONG_KEY: 'The key or passphrase given does not open this backup (not a sign of corruption).',
  PGW_BACKUP_KEY_SERVICE: 'AWS KMS or Vault transit refused or failed to create or unwrap the data key.',
  PGW_BACKUP_CORRUPT: 'The backup file or its manifest failed authentication: altered, truncated or damaged.',
  PGW_BACKUP_UNSUPPORTED: 'The backup uses a format version or parameter outside what this version accepts.',
  PGW_BACKUP_NOT_FOUND:
    'No backup file or manifest matches the id or path given, or `latest` found no complete backup in the directory.',
  PGW_BACKUP_DIR_UNSAFE: 'The backup directory is not a directory or is accessible to group or others.',
  PGW_BACKUP_TOOL_MISSING: 'pg_dump or pg_restore of a suitable major version was not found.',
  PGW_BACKUP_DUMP_FAILED: 'pg_dump failed; the end of its error output is in the message.',
  PGW_BACKUP_RESTORE_FAILED: 'pg_restore failed; in a single transaction nothing was restored.',
  PGW_BACKUP_TARGET_NOT_EMPTY: 'The restore target already holds objects and --clean was not given.',
  PGW_BACKUP_VERIFY_FAILED: 'A verification found a problem (pg_restore --list failed or row counts differ).',
  PGW_BACKUP_LOCKED: 'Another pgwarden backup run holds the lock file of the backup directory.',
  PGW_BACKUP_INTERRUPTED: 'The operation was interrupted (SIGINT or SIGTERM); partial files were removed.',
  PGW_BACKUP_NO_SPACE: 'The disk filled up while writing; the partial file was removed.',
  PGW_BACKUP_IO_FAILED: 'Reading or writing a backup file failed for another reason.',
  // health, metrics, monitor, alerts (add codes of that area here)
  PGW_ALERTS_CONFIG_INVALID:
    'The alerts configuration (YAML file, flag or webhook URL) is invalid; the message names each bad key.',
  PGW_ALERTS_INPUT_UNREADABLE:
    'A file or directory given to alerts check (--log, --config, --backup-dir) cannot be read.',
  PGW_ALERTS_WEBHOOK_FAILED:
    'Warning: an alert webhook delivery failed (HTTP status, timeout or network error); the alert is still reported.',
  // throwaway clusters (demo and tests)
  PGW_HARNESS_FAILED:
    'The throwaway PostgreSQL harness failed (initdb, start, reload or stop); the server log tail is in the message.',
  // CLI
  PGW_CLI_USAGE: 'The command line is malformed.',
  PGW_CLI_UNFINISHED:
    'A command stopped before it finished (nothing was left to wait for): exit 1, nothing it reported can be trusted; a bug to report.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * A five-character SQLSTATE the server sent (`23505`, `40001`, `57P01`…).
 * Errors the server raised in answer to a query carry it as `code`, as
 * node-postgres' own errors do.
 */
export type SqlState = string & {};

export interface PgwardenErrorOptions {
  /** The option or variable the error is about, e.g. `DB_SSL_CA`. */
  option?: string;
  /** What to do about it, one sentence. */
  fix?: string;
  cause?: unknown;
}

export class PgwardenError extends Error {
  /**
   * The code to branch on: the SQLSTATE for an error the server sent in
   * answer to a query (as in node-postgres), otherwise pgwarden's own
   * `PGW_*` code. {@link pgwardenCode} is always the `PGW_*` code.
   */
  readonly code: ErrorCode | SqlState;
  /** pgwarden's classification, always a `PGW_*` code (docs/errors.md). */
  readonly pgwardenCode: ErrorCode;
  readonly option: string | undefined;
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options: PgwardenErrorOptions = {}) {
    const parts = [redact(message)];
    if (options.fix) parts.push(`Fix: ${redact(options.fix)}`);
    super(parts.join(' '), options.cause === undefined ? undefined : { cause: redactCause(options.cause) });
    this.name = new.target.name;
    this.code = code;
    this.pgwardenCode = code;
    this.option = options.option;
    this.fix = options.fix === undefined ? undefined : redact(options.fix);
  }

  /** A plain object safe for JSON output and logs. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      ...(this.code !== this.pgwardenCode ? { pgwardenCode: this.pgwardenCode } : {}),
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
 * An error about a query. When the server sent it (a DatabaseError in
 * node-postgres), `code` is the SQLSTATE and every field of pg's error is
 * kept, so `err.code === '23505'`, `err.constraint` and ORMs' error mapping
 * work as with a plain pg pool; `pgwardenCode` says what pgwarden makes of it
 * (`PGW_QUERY_FAILED`, or `PGW_QUERY_CONNECTION_LOST` when the server ended
 * the session). Text fields that may quote values are redacted.
 */
export class QueryError extends PgwardenError {
  /** The SQLSTATE, also in `code` when the server sent one. */
  readonly sqlstate: string | undefined;
  readonly severity: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: string | undefined;
  readonly internalPosition: string | undefined;
  readonly internalQuery: string | undefined;
  readonly where: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly dataType: string | undefined;
  readonly constraint: string | undefined;
  readonly file: string | undefined;
  readonly line: string | undefined;
  readonly routine: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    fields: DatabaseErrorFields,
    options: PgwardenErrorOptions = {},
  ) {
    super(code, message, options);
    const text = (value: string | undefined) => (value === undefined ? undefined : redact(value));
    this.sqlstate = fields.code;
    // An answer to a query speaks pg's vocabulary; a refused connection keeps
    // its PGW_CONN_* code (callers branch on those before any query ran).
    if (code.startsWith('PGW_QUERY_') && fields.code !== undefined && /^[0-9A-Z]{5}$/.test(fields.code)) {
      (this as { code: ErrorCode | SqlState }).code = fields.code;
    }
    this.severity = fields.severity;
    this.detail = text(fields.detail);
    this.hint = text(fields.hint);
    this.position = fields.position;
    this.internalPosition = fields.internalPosition;
    this.internalQuery = text(fields.internalQuery);
    this.where = text(fields.where);
    this.schema = fields.schema;
    this.table = fields.table;
    this.column = fields.column;
    this.dataType = fields.dataType;
    this.constraint = fields.constraint;
    this.file = fields.file;
    this.line = fields.line;
    this.routine = fields.routine;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), sqlstate: this.sqlstate };
  }
}

/** The fields of pg's DatabaseError (pg-protocol), all kept on {@link QueryError}. */
export interface DatabaseErrorFields {
  code?: string | undefined;
  severity?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  position?: string | undefined;
  internalPosition?: string | undefined;
  internalQuery?: string | undefined;
  where?: string | undefined;
  schema?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  dataType?: string | undefined;
  constraint?: string | undefined;
  file?: string | undefined;
  line?: string | undefined;
  routine?: string | undefined;
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
