import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { OsUser } from './os-user.js';
import { writeOwnedFile } from './owned-files.js';
import type { Pki, ServerCertificateName } from './pki.js';
import type { ConfValue } from './postgres-conf.js';

/** A server certificate and key (PEM); with `caPem`, the server also verifies client certificates. */
export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** Roots for client certificates (`ssl_ca_file`); needed for `cert` / `clientcert=` rules. */
  caPem?: string;
}

/** TLS from a test {@link Pki}: which server certificate to present, and whether to trust its CA for clients. */
export interface PkiTls {
  pki: Pki;
  /** Default `server`; the others make a verifying client fail in a known way. */
  certificate?: ServerCertificateName;
  /** Set `ssl_ca_file` to the PKI's CA so client certificates can be verified. Default `true`. */
  clientCa?: boolean;
}

/** The `tls` option of a cluster. */
export type ClusterTls = TlsMaterial | PkiTls;

/** The PEM material a {@link ClusterTls} stands for. */
export function resolveTls(tls: ClusterTls): TlsMaterial {
  if ('pki' in tls) {
    const { certPem, keyPem } = tls.pki.serverCertificate(tls.certificate ?? 'server');
    return tls.clientCa === false ? { certPem, keyPem } : { certPem, keyPem, caPem: tls.pki.ca.certPem };
  }
  if (
    !tls.certPem.includes('-----BEGIN CERTIFICATE-----') ||
    !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(tls.keyPem)
  ) {
    // Caught here rather than as a cryptic FATAL in the server log.
    throw new ConfigError(
      'PGW_CONFIG_INVALID',
      'tls.certPem must be a PEM certificate and tls.keyPem a PEM key.',
      {
        option: 'tls',
      },
    );
  }
  return tls;
}

/**
 * Writes server.crt, server.key and root.crt into the data directory (the key
 * mode 0600 and owned by the server's user, which PostgreSQL insists on) and
 * returns the settings that enable them.
 */
export function installTls(
  dataDir: string,
  material: TlsMaterial,
  owner: OsUser | undefined,
): Map<string, ConfValue> {
  const certFile = join(dataDir, 'server.crt');
  const keyFile = join(dataDir, 'server.key');
  const caFile = join(dataDir, 'root.crt');
  writeOwnedFile(certFile, material.certPem, owner, 0o644);
  writeOwnedFile(keyFile, material.keyPem, owner, 0o600);
  if (material.caPem) writeOwnedFile(caFile, material.caPem, owner, 0o644);
  else rmSync(caFile, { force: true });
  return new Map<string, ConfValue>([
    ['ssl', true],
    ['ssl_cert_file', certFile],
    ['ssl_key_file', keyFile],
    // An empty value switches client-certificate verification off again after a setTls().
    ['ssl_ca_file', material.caPem ? caFile : ''],
  ]);
}
