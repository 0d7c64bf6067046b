import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OsUser } from './os-user.js';
import { chownTo, writeOwnedFile } from './owned-files.js';
import type { CertifiedKey } from './pki-certificates.js';

/** A certificate file and its key file. */
export interface CertKeyPaths {
  readonly certPath: string;
  readonly keyPath: string;
}

/** Where `Pki.writeFiles` put each PEM file. */
export interface PkiFiles {
  readonly dir: string;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  readonly wrongHostCertPath: string;
  readonly wrongHostKeyPath: string;
  readonly expiredCertPath: string;
  readonly expiredKeyPath: string;
  readonly untrustedCaCertPath: string;
  readonly untrustedServerCertPath: string;
  readonly untrustedServerKeyPath: string;
  /** Client certificates by role. */
  readonly clients: Readonly<Record<string, CertKeyPaths>>;
}

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;

/** What is written: the PEMs of a `Pki` (pki.ts), named here so this module needs nothing of it. */
export interface PkiPems {
  readonly ca: CertifiedKey;
  readonly server: CertifiedKey;
  readonly wrongHost: CertifiedKey;
  readonly expired: CertifiedKey;
  readonly untrustedCa: CertifiedKey;
  readonly untrustedServer: CertifiedKey;
  readonly clientRoles: readonly string[];
  client(role: string): CertifiedKey;
}

/** Writes every PEM of `pki` into `dir`; see `Pki.writeFiles`. */
export function writePkiFiles(pki: PkiPems, dir: string, owner?: OsUser): PkiFiles {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownTo(dir, owner);
  }
  const cert = (name: string, pem: string): string => {
    const path = join(dir, name);
    writeOwnedFile(path, pem, owner, CERT_MODE);
    return path;
  };
  const key = (name: string, pem: string): string => {
    const path = join(dir, name);
    writeOwnedFile(path, pem, owner, KEY_MODE);
    return path;
  };
  const clients: Record<string, CertKeyPaths> = {};
  for (const role of pki.clientRoles) {
    const { certPem, keyPem } = pki.client(role);
    // Role names are arbitrary strings; keep the file name safe and reversible.
    const base = `client-${encodeURIComponent(role)}`;
    clients[role] = { certPath: cert(`${base}.crt`, certPem), keyPath: key(`${base}.key`, keyPem) };
  }
  return {
    dir,
    caCertPath: cert('ca.crt', pki.ca.certPem),
    caKeyPath: key('ca.key', pki.ca.keyPem),
    serverCertPath: cert('server.crt', pki.server.certPem),
    serverKeyPath: key('server.key', pki.server.keyPem),
    wrongHostCertPath: cert('wrong-host.crt', pki.wrongHost.certPem),
    wrongHostKeyPath: key('wrong-host.key', pki.wrongHost.keyPem),
    expiredCertPath: cert('expired.crt', pki.expired.certPem),
    expiredKeyPath: key('expired.key', pki.expired.keyPem),
    untrustedCaCertPath: cert('untrusted-ca.crt', pki.untrustedCa.certPem),
    untrustedServerCertPath: cert('untrusted-server.crt', pki.untrustedServer.certPem),
    untrustedServerKeyPath: key('untrusted-server.key', pki.untrustedServer.keyPem),
    clients,
  };
}
