import { createPrivateKey } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { isSecret, type Secret } from '../redact/secret.js';
import type { OsUser } from './os-user.js';
import {
  LOOPBACK_ALT_NAMES,
  createAuthority,
  expiredValidity,
  issueCertificate,
  validForDays,
  type Authority,
  type CertifiedKey,
  type KeyAlgorithm,
} from './pki-certificates.js';
import { writePkiFiles, type PkiFiles, type PkiPems } from './pki-files.js';

export type { CertifiedKey, KeyAlgorithm } from './pki-certificates.js';

/** The server certificates a {@link Pki} holds, by what they are good for in a test. */
export type ServerCertificateName = 'server' | 'wrongHost' | 'expired' | 'untrustedServer';

export interface PkiOptions {
  /** Roles to issue client certificates for up front (CN = role). More with {@link Pki.issueClient}. */
  clientRoles?: readonly string[];
  /** Key type of every certificate. Default `ec` (ECDSA P-256), the fastest to generate. */
  keyAlgorithm?: KeyAlgorithm;
  /** Lifetime of the valid certificates. Default 30 days. */
  validityDays?: number;
}

const DEFAULT_VALIDITY_DAYS = 30;

/**
 * A throwaway certificate authority and the certificates TLS tests need: a
 * good server certificate and three that a verifying client must refuse.
 * Everything lives in memory until {@link Pki.writeFiles}.
 */
export class Pki implements PkiPems {
  readonly keyAlgorithm: KeyAlgorithm;
  /** The trusted root (what clients pass as `ca`). Self-signed. */
  readonly ca: CertifiedKey;
  /** Signed by `ca`, CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1. */
  readonly server: CertifiedKey;
  /** Signed by `ca` but names only `wrong.example.invalid`: host name verification must fail. */
  readonly wrongHost: CertifiedKey;
  /** Signed by `ca` with the right names, but expired yesterday. */
  readonly expired: CertifiedKey;
  /** A second root that clients do not trust. */
  readonly untrustedCa: CertifiedKey;
  /** Right names, signed by `untrustedCa`: chain verification must fail. */
  readonly untrustedServer: CertifiedKey;

  readonly #authority: Authority;
  readonly #validityDays: number;
  readonly #clients = new Map<string, CertifiedKey>();

  private constructor(authority: Authority, certificates: IssuedCertificates, validityDays: number) {
    this.#authority = authority;
    this.keyAlgorithm = authority.algorithm;
    this.ca = authority.certified;
    this.server = certificates.server;
    this.wrongHost = certificates.wrongHost;
    this.expired = certificates.expired;
    this.untrustedCa = certificates.untrustedCa;
    this.untrustedServer = certificates.untrustedServer;
    this.#validityDays = validityDays;
  }

  /** Use {@link createPki}. */
  static async create(options: PkiOptions = {}): Promise<Pki> {
    const algorithm = options.keyAlgorithm ?? 'ec';
    const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
    const valid = validForDays(validityDays);
    // Independent key generations run in parallel: it matters for RSA.
    const [authority, untrusted] = await Promise.all([
      createAuthority('pgwarden test CA', algorithm, valid),
      createAuthority('pgwarden untrusted test CA', algorithm, valid),
    ]);
    const server = { commonName: 'localhost', purpose: 'server', altNames: LOOPBACK_ALT_NAMES } as const;
    const [good, wrongHost, expired, untrustedServer] = await Promise.all([
      issueCertificate(authority, { ...server, validity: valid }),
      issueCertificate(authority, {
        commonName: 'wrong.example.invalid',
        purpose: 'server',
        altNames: [{ type: 'dns', value: 'wrong.example.invalid' }],
        validity: valid,
      }),
      issueCertificate(authority, { ...server, validity: expiredValidity() }),
      issueCertificate(untrusted, { ...server, validity: valid }),
    ]);
    const certificates = {
      server: good,
      wrongHost,
      expired,
      untrustedCa: untrusted.certified,
      untrustedServer,
    };
    const pki = new Pki(authority, certificates, validityDays);
    // Issued in parallel, stored in the order given, so clientRoles is deterministic.
    const roles = [...new Set(options.clientRoles ?? [])];
    const clients = await Promise.all(roles.map(async (role) => [role, await pki.#issue(role)] as const));
    for (const [role, certified] of clients) pki.#clients.set(role, certified);
    return pki;
  }

  /** Roles that have a client certificate, in the order they were issued. */
  get clientRoles(): string[] {
    return [...this.#clients.keys()];
  }

  /**
   * The client certificate for `role` (CN = role, clientAuth, signed by `ca`).
   *
   * @throws ConfigError `PGW_CONFIG_INVALID` when none was issued for `role`.
   */
  client(role: string): CertifiedKey {
    const found = this.#clients.get(role);
    if (!found) {
      throw new ConfigError(
        'PGW_CONFIG_INVALID',
        `The test PKI has no client certificate for role "${role}".`,
        {
          option: 'clientRoles',
          fix: 'List the role in clientRoles or call pki.issueClient(role) first.',
        },
      );
    }
    return found;
  }

  /** Issues (once) and returns a client certificate for `role`. */
  async issueClient(role: string): Promise<CertifiedKey> {
    const existing = this.#clients.get(role);
    if (existing) return existing;
    const issued = await this.#issue(role);
    // Two concurrent calls for one role: keep the first, so client(role) never changes.
    if (!this.#clients.has(role)) this.#clients.set(role, issued);
    return this.client(role);
  }

  #issue(role: string): Promise<CertifiedKey> {
    if (role === '') {
      throw new ConfigError('PGW_CONFIG_INVALID', 'A client certificate needs a non-empty role name.', {
        option: 'clientRoles',
      });
    }
    return issueCertificate(this.#authority, {
      commonName: role,
      purpose: 'client',
      validity: validForDays(this.#validityDays),
    });
  }

  /** One of the server certificates by name. */
  serverCertificate(name: ServerCertificateName): CertifiedKey {
    return this[name];
  }

  /**
   * Writes every certificate and key as PEM files into `dir` (created if
   * missing, mode 0700; keys 0600), optionally owned by `owner`.
   */
  writeFiles(dir: string, owner?: OsUser): PkiFiles {
    return writePkiFiles(this, dir, owner);
  }
}

type IssuedCertificates = Pick<Pki, 'server' | 'wrongHost' | 'expired' | 'untrustedCa' | 'untrustedServer'>;

/**
 * Generates a throwaway PKI in process (no openssl binary): a CA, the server
 * certificates in {@link Pki}, and client certificates for `clientRoles`.
 * About 50 ms with the default ECDSA keys.
 */
export function createPki(options: PkiOptions = {}): Promise<Pki> {
  return Pki.create(options);
}

/**
 * `keyPem` re-encoded as encrypted PKCS#8 (AES-256-CBC), as a client key
 * protected by `passphrase` would be delivered.
 */
export function encryptClientKey(keyPem: string, passphrase: string | Secret): string {
  const secret = isSecret(passphrase) ? passphrase.reveal() : passphrase;
  return String(
    createPrivateKey(keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: secret,
    }),
  );
}
