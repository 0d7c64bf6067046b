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
export { createAwsSsmProvider } from './secrets/aws-ssm.js';
export { createVaultProvider } from './secrets/vault.js';
export { createVaultDatabaseProvider } from './secrets/vault-database.js';
export { createRdsIamProvider } from './secrets/rds-iam.js';
export { createKeychainProvider } from './secrets/keychain.js';
// pgwarden audit (issue 5)
export { runAudit } from './audit/runner.js';
export type { AuditOptions } from './audit/runner.js';
export type { AuditReport, AuditSummary } from './audit/report-model.js';
export { blockingFindings } from './audit/report-model.js';
export type { Finding, FindingObject, Area as AuditArea } from './audit/finding.js';
export type { Severity as AuditSeverity, Status as AuditStatus } from './audit/severity.js';
export {
  formatReport as formatAuditReport,
  REPORT_FORMATS as AUDIT_REPORT_FORMATS,
} from './audit/report/format.js';
export type { ReportFormat as AuditReportFormat } from './audit/report/format.js';
export { CHECK_CATALOG as AUDIT_CHECKS } from './audit/catalog.js';
export { DEFAULT_THRESHOLDS as AUDIT_DEFAULT_THRESHOLDS } from './audit/check.js';
export type { AuditThresholds } from './audit/check.js';
export {
  loadSuppressions,
  parseSuppressions,
  ignoreFlags as auditIgnoreFlags,
} from './audit/suppressions.js';
export type { Suppression as AuditSuppression } from './audit/suppressions.js';
export { loadBaseline, parseBaseline } from './audit/baseline.js';
export { SERVER_VERSIONS } from './audit/server-versions.js';
export type { ServerVersionTable } from './audit/server-versions.js';
export { AuditError } from './audit/audit-error.js';
// pgwarden creds, roles, incident (issue 4)
export {
  scramSha256Verifier,
  scramVerifierMatches,
  parseScramVerifier,
  serverScramIterations,
  DEFAULT_SCRAM_ITERATIONS,
} from './sql/scram-verifier.js';
export type { ScramVerifierOptions, ScramVerifierParts } from './sql/scram-verifier.js';
export { CredentialStore } from './creds/store.js';
export type { CredentialStoreOptions, AddOptions, UpdateOptions, RotationRecord } from './creds/store.js';
export type {
  CredentialEnvironment,
  EnvironmentFields,
  StoreKind,
  RotationStrategy,
} from './creds/environment.js';
export type { PasswordBackend } from './creds/password-backend.js';
export { createKeychainBackend } from './creds/keychain-backend.js';
export type { KeychainBackendOptions } from './creds/keychain-backend.js';
export { createEncryptedFileBackend } from './creds/file-backend.js';
export type { EncryptedFileBackendOptions, PassphraseSource } from './creds/file-backend.js';
export { generatePassword } from './creds/generate.js';
export type { GenerateOptions, CharacterClass } from './creds/generate.js';
export { checkExpiry } from './creds/expiry.js';
export type { ExpiryReport, ExpiryEntry, ExpiryStatus } from './creds/expiry.js';
export { exportEnvironment } from './creds/export.js';
export type { ExportFormat } from './creds/export.js';
export { testCredentials } from './creds/test-credentials.js';
export type { CredentialsTestReport } from './creds/test-credentials.js';
export { rotateCredentials } from './creds/rotate.js';
export type { RotateOptions, RotationReport } from './creds/rotate.js';
export { environmentPoolOptions, connectEnvironment } from './creds/connect.js';
export { CredsError } from './creds/creds-error.js';
export { parseRolesFile } from './roles/roles-file.js';
export type { RolesFile, GroupSpec, LoginSpec, Preset } from './roles/roles-file.js';
export { planRoles } from './roles/plan.js';
export type { RolesPlan, PlannedStatement, PlanOptions } from './roles/plan.js';
export { applyRoles } from './roles/apply.js';
export type { ApplyOptions, ApplyReport } from './roles/apply.js';
export { RolesError } from './roles/roles-error.js';
export { revokeRole } from './incident/revoke.js';
export type { RevokeOptions, RevokeReport, StillHeld } from './incident/revoke.js';
export { listSessions } from './incident/sessions.js';
export type { SessionsOptions, SessionsReport, SessionRow } from './incident/sessions.js';
export { IncidentError } from './incident/incident-error.js';
export { takeSnapshot } from './monitor/snapshot.js';
export type {
  MonitorSnapshot,
  SnapshotOptions,
  SnapshotSource,
  SessionInfo,
  LongRunningQuery,
  IdleInTransactionSession,
  DatabaseStats,
} from './monitor/snapshot.js';
export type { SlowStatement, SlowStatements } from './monitor/statements.js';
export { formatSnapshot } from './monitor/format-snapshot.js';
export { runAlertsCheck } from './alerts/check.js';
export type { AlertsCheckOptions, AlertsReport } from './alerts/check.js';
export {
  DEFAULT_ALERTS_CONFIG,
  loadAlertsConfigFile,
  resolveAlertsConfig,
  validateAlertsLayer,
} from './alerts/config.js';
export type { AlertsConfig, AlertsConfigLayer } from './alerts/config.js';
export { RULE_IDS } from './alerts/rule-result.js';
export type { RuleId, RuleResult, RuleStatus, Severity as AlertSeverity } from './alerts/rule-result.js';
export { parseWebhookUrl, sendAlertWebhooks, alertDocument } from './alerts/webhook.js';
export type { AlertDocument, WebhookDelivery, WebhookResult, WebhookTarget } from './alerts/webhook.js';
export { AlertsError } from './alerts/alerts-error.js';
export {
  BackupError,
  createBackup,
  verifyBackup,
  restoreBackup,
  listBackups,
  cleanupBackups,
  planRetention,
  generateKeyFile,
} from './backup/index.js';
export type {
  BackupErrorCode,
  BackupKeyOptions,
  BackupList,
  BackupListEntry,
  BackupManifest,
  BackupProgress,
  CleanupOptions,
  CleanupResult,
  CreateBackupOptions,
  CreateBackupResult,
  RestoreBackupOptions,
  RestoreResult,
  RetentionCandidate,
  RetentionDecision,
  RetentionPolicy,
  VerifyBackupOptions,
  VerifyCheck,
  VerifyLevel,
  VerifyResult,
} from './backup/index.js';
