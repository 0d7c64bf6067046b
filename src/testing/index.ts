/**
 * Throwaway PostgreSQL clusters and test PKIs, for pgwarden's own tests, the
 * `pgwarden demo` command and users' integration tests. Real processes, no
 * mocks; see test/README.md for how it works and its limits.
 */
export { Cluster, startCluster, withCluster } from './cluster.js';
export type {
  ClusterOptions,
  CreateRoleOptions,
  KillSignal,
  LoopbackAddress,
  StopOptions,
  UrlOptions,
} from './cluster-options.js';
export type { ClusterTls, PkiTls, TlsMaterial } from './cluster-tls.js';
export { findFreePort } from './free-port.js';
export { PgBouncer, type PgBouncerOptions } from './pgbouncer.js';
export { HarnessError, type HarnessStep } from './harness-error.js';
export { ADMIN_HBA_LINE, DEFAULT_HBA_LINES } from './hba.js';
export { isRoot, readPasswdUser, resolveServerUser, type OsUser } from './os-user.js';
export {
  findPgBinaries,
  findEmbeddedBinaries,
  hasTool,
  type FindPgBinariesOptions,
  type PgBinaries,
  type PgBinariesSource,
} from './pg-binaries.js';
export {
  Pki,
  createPki,
  encryptClientKey,
  type CertifiedKey,
  type KeyAlgorithm,
  type PkiOptions,
  type ServerCertificateName,
} from './pki.js';
export type { CertKeyPaths, PkiFiles } from './pki-files.js';
export { formatConfValue, type ConfSettings, type ConfValue } from './postgres-conf.js';
export { scramSha256Verifier } from './scram-verifier.js';
