// The public API of pgwarden. Everything exported here is documented and
// semver-stable; anything else is internal.
export { createPool, WardenPool } from './pool/pool.js';
export type {
  CreatePoolOptions,
  PoolStats,
  QueryInput,
  StartupReport,
  TransactionClient,
} from './pool/pool.js';
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
export type { ErrorCode, PolicyViolation } from './errors.js';
export { Secret } from './redact/secret.js';
export { redact, redactValue } from './redact/redactor.js';
export { sql, quoteIdentifier } from './sql/sql.js';
export type { SqlFragment, SqlTag } from './sql/sql.js';
export type { LoggerLike } from './logger.js';
export type { TlsSessionInfo } from './tls/session-info.js';
export type { SecretProvider, Credentials } from './secrets/provider.js';
export { healthHandler, expressHealth, fastifyHealth } from './health/handler.js';
export type { HealthHandler, HealthHandlerOptions } from './health/handler.js';
export { checkReady, checkDatabase } from './health/health.js';
export type { ReadyReport, DatabaseReport, ReadyReason, HealthStatus } from './health/health.js';
export { instrumentPool, metricsHandler } from './metrics/metrics.js';
export type { PoolMetrics, PoolMetricsOptions } from './metrics/metrics.js';
export type { PoolInstruments } from './pool/pool.js';
export type { RotationEvent } from './pool/credential-source.js';
export { CachedCredentials } from './secrets/cache.js';
export type { CachedCredentialsOptions, CachedCredentialsStats } from './secrets/cache.js';
export { createProviderFromEnv, SECRETS_BACKENDS } from './secrets/select.js';
export type { SecretsBackendName } from './secrets/select.js';
export { createEnvProvider } from './secrets/env.js';
export { createDotenvProvider } from './secrets/dotenv.js';
export { createFileProvider } from './secrets/file.js';
export { createAwsSecretsManagerProvider } from './secrets/aws-secrets-manager.js';
export { createVaultProvider } from './secrets/vault.js';
export { createVaultDatabaseProvider } from './secrets/vault-database.js';
export { createRdsIamProvider } from './secrets/rds-iam.js';
export { createKeychainProvider } from './secrets/keychain.js';
