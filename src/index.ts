// The public API of pgwarden's core: what an application needs to connect
// securely. Everything exported here is documented and semver-stable. The
// operations toolkit loads from subpaths (pgwarden/audit, /backup, /creds,
// /roles, /incident, /monitor, /alerts, /doctor, /metrics, /secrets/aws,
// /secrets/vault, /secrets/keychain), so an application pays only for what
// it imports.

// The pool: a real pg.Pool
export { createPool, WardenPool, WardenPool as Pool } from './pool/pool.js';
export type {
  CreatePoolOptions,
  PoolStats,
  QueryInput,
  StartupReport,
  TransactionClient,
  WardenPoolEvents,
} from './pool/pool.js';
export type { PgCompatibleOptions } from './config/pg-options.js';
export type { PgPassthroughOptions } from './pool/pool-options.js';
export type { ConnectionPurpose } from './config/gate.js';
export type { ReadPath, ReplicaStatus } from './pool/read-replicas.js';
export type { RotationEvent } from './pool/credential-source.js';
export { CHANNELS } from './pool/diagnostics.js';
export type {
  AcquireMessage,
  ConnectionErrorMessage,
  PoolMessageBase,
  QueryMessage,
  RotationMessage,
  TlsHandshakeMessage,
} from './pool/diagnostics.js';

// Readiness and the health endpoints
export { checkReady, checkDatabase } from './pool/readiness.js';
export type { ReadyReport, DatabaseReport, ReadyReason, HealthStatus } from './pool/readiness.js';
export { healthHandler, expressHealth, fastifyHealth } from './health/handler.js';
export type { HealthHandler, HealthHandlerOptions } from './health/handler.js';

// Configuration and the production policy
export { resolveConfig } from './config/resolve.js';
export type { Resolution, ResolveInputs } from './config/resolve.js';
export type {
  ConfigOptions,
  ResolvedConfig,
  ResolvedTls,
  SslMode,
  PolicyProfile,
  PemSource,
} from './config/schema.js';
export { SSL_MODES } from './config/schema.js';
export type { ConfigWarning } from './config/layer.js';
export type { Environment } from './config/environment.js';
export { evaluateConfigPolicy, evaluateRolePolicy } from './config/policy.js';
export type { RoleFacts } from './config/policy.js';

// Errors
export {
  ERROR_CODES,
  PgwardenError,
  ConfigError,
  PolicyError,
  TlsError,
  ConnectionError,
  PoolError,
  QueryError,
  SqlError,
  SecretError,
} from './errors.js';
export type { ErrorCode, SqlState, PolicyViolation, DatabaseErrorFields } from './errors.js';

// Secrets and redaction
export { Secret } from './redact/secret.js';
export { redact, redactValue } from './redact/redactor.js';
export type { SecretProvider, Credentials } from './secrets/provider.js';
export { CachedCredentials } from './secrets/cache.js';
export type { CachedCredentialsOptions, CachedCredentialsStats } from './secrets/cache.js';
export { createProviderFromEnv, SECRETS_BACKENDS } from './secrets/select.js';
export type { SecretsBackendName } from './secrets/select.js';
export { createEnvProvider } from './secrets/env.js';
export { createDotenvProvider } from './secrets/dotenv.js';
export { createFileProvider } from './secrets/file.js';

// SQL
export { sql, quoteIdentifier } from './sql/sql.js';
export type { SqlFragment, SqlTag } from './sql/sql.js';

export type { LoggerLike } from './logger.js';
export type { TlsSessionInfo } from './tls/session-info.js';
