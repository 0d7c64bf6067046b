/** The backup area's public API (re-exported from the package root). */
export { BackupError, type BackupErrorCode } from './backup-error.js';
export { createBackup, type CreateBackupOptions, type CreateBackupResult } from './create.js';
export {
  verifyBackup,
  type VerifyBackupOptions,
  type VerifyCheck,
  type VerifyLevel,
  type VerifyResult,
} from './verify.js';
export { restoreBackup, type RestoreBackupOptions, type RestoreResult } from './restore.js';
export { listBackups, type BackupList, type BackupListEntry, type ListProblem } from './list.js';
export { cleanupBackups, type CleanupOptions, type CleanupResult } from './cleanup.js';
export {
  planRetention,
  type RetentionCandidate,
  type RetentionDecision,
  type RetentionPolicy,
} from './retention.js';
export { acquireLock, LOCK_FILE, type BackupLock } from './lock.js';
export type { BackupManifest, TableCount, VerificationRecord } from './manifest.js';
export type { BackupProgress, ProgressListener } from './progress.js';
export type { ConnectionInput } from './options.js';
export type { Compression } from './format/constants.js';
export type { BackupHeader, KeyKind, KeyWrap } from './format/header.js';
export { generateKeyFile, keyFingerprint, KeyFileSource } from './keys/key-file.js';
export { PassphraseSource, SCRYPT_BOUNDS, SCRYPT_DEFAULTS, type ScryptParams } from './keys/passphrase.js';
export type { AwsKmsOptions } from './keys/aws-kms.js';
export { VaultTransitSource, type VaultTransitOptions } from './keys/vault-transit.js';
export type { KeySource, WrappedDataKey } from './keys/key-source.js';
export type { BackupKeyOptions } from './keys/select.js';
