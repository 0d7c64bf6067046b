/** `pgwarden/creds`: stored credentials (OS keychain or encrypted file), expiry, rotation, SCRAM verifiers. */
export {
  scramSha256Verifier,
  scramVerifierMatches,
  parseScramVerifier,
  serverScramIterations,
  DEFAULT_SCRAM_ITERATIONS,
} from '../sql/scram-verifier.js';
export type { ScramVerifierOptions, ScramVerifierParts } from '../sql/scram-verifier.js';
export { CredentialStore } from './store.js';
export type { CredentialStoreOptions, AddOptions, UpdateOptions, RotationRecord } from './store.js';
export type { CredentialEnvironment, EnvironmentFields, StoreKind, RotationStrategy } from './environment.js';
export type { PasswordBackend } from './password-backend.js';
export { createKeychainBackend } from './keychain-backend.js';
export type { KeychainBackendOptions } from './keychain-backend.js';
export { createEncryptedFileBackend } from './file-backend.js';
export type { EncryptedFileBackendOptions, PassphraseSource } from './file-backend.js';
export { generatePassword } from './generate.js';
export type { GenerateOptions, CharacterClass } from './generate.js';
export { checkExpiry } from './expiry.js';
export type { ExpiryReport, ExpiryEntry, ExpiryStatus } from './expiry.js';
export { exportEnvironment } from './export.js';
export type { ExportFormat } from './export.js';
export { testCredentials } from './test-credentials.js';
export type { CredentialsTestReport } from './test-credentials.js';
export { rotateCredentials } from './rotate.js';
export type { RotateOptions, RotationReport } from './rotate.js';
export { environmentPoolOptions, connectEnvironment } from './connect.js';
export { CredsError } from './creds-error.js';
