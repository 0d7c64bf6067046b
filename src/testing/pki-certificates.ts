// tsyringe, used inside @peculiar/x509, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';

// Node's own WebCrypto: no polyfill, and the keys can be exported as KeyObjects.
x509.cryptoProvider.set(webcrypto);

/**
 * Key type of every certificate in a PKI. `ec` (ECDSA P-256) is fast to
 * generate; `rsa1024` exists so audit checks can be tested against a weak key
 * (OpenSSL at security level 2, Debian's default, refuses to load it in a server).
 */
export type KeyAlgorithm = 'ec' | 'rsa2048' | 'rsa1024';

/** A certificate and its private key, both PEM (the key unencrypted PKCS#8). */
export interface CertifiedKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** The period a certificate is valid for. */
export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A certificate authority able to sign leaf certificates. */
export interface Authority {
  readonly algorithm: KeyAlgorithm;
  readonly certificate: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly certified: CertifiedKey;
}

/** What a leaf certificate is for: sets the extended key usage. */
export type CertificatePurpose = 'server' | 'client';

/** A subject alternative name: a DNS name or an IP address. */
export interface AltName {
  readonly type: 'dns' | 'ip';
  readonly value: string;
}

/** The names a server certificate needs for every way the tests reach the server. */
export const LOOPBACK_ALT_NAMES: readonly AltName[] = Object.freeze([
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
  { type: 'ip', value: '::1' },
]);

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Valid from an hour ago (tolerates clock skew with a server in a container)
 * until `days` from now.
 */
export function validForDays(days: number, now = Date.now()): Validity {
  return { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + days * DAY_MS) };
}

/** Valid from two days ago until one day ago: expired, but otherwise correct. */
export function expiredValidity(now = Date.now()): Validity {
  return { notBefore: new Date(now - 2 * DAY_MS), notAfter: new Date(now - DAY_MS) };
}

/** A self-signed root: basicConstraints CA (critical), keyCertSign and cRLSign. */
export async function createAuthority(
  commonName: string,
  algorithm: KeyAlgorithm,
  validity: Validity,
): Promise<Authority> {
  const keys = await generateKeyPair(algorithm);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: distinguishedName(commonName),
    keys: keys,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    signingAlgorithm: signingAlgorithm(algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { algorithm, certificate, keys, certified: certifiedKey(certificate, keys) };
}

/** Options of {@link issueCertificate}. */
export interface IssueOptions {
  readonly commonName: string;
  readonly purpose: CertificatePurpose;
  readonly altNames?: readonly AltName[];
  readonly validity: Validity;
}

/** A leaf certificate signed by `authority` with a new key of the authority's algorithm. */
export async function issueCertificate(authority: Authority, options: IssueOptions): Promise<CertifiedKey> {
  const keys = await generateKeyPair(authority.algorithm);
  const usage =
    authority.algorithm === 'ec'
      ? x509.KeyUsageFlags.digitalSignature
      : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([
      options.purpose === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(authority.keys.publicKey),
  ];
  if (options.altNames && options.altNames.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(options.altNames.map((n) => ({ ...n }))));
  }
  const certificate = await x509.X509CertificateGenerator.create({
    subject: distinguishedName(options.commonName),
    // The issuer's encoded name, not a re-encoding, so chain building matches byte for byte.
    issuer: authority.certificate.subjectName,
    publicKey: keys.publicKey,
    signingKey: authority.keys.privateKey,
    notBefore: options.validity.notBefore,
    notAfter: options.validity.notAfter,
    signingAlgorithm: signingAlgorithm(authority.algorithm),
    extensions,
  });
  return certifiedKey(certificate, keys);
}

function distinguishedName(commonName: string): x509.JsonName {
  return [{ O: ['pgwarden tests'] }, { CN: [commonName] }];
}

function generateKeyPair(algorithm: KeyAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  const usages: webcrypto.KeyUsage[] = ['sign', 'verify'];
  if (algorithm === 'ec')
    return webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, usages);
  return webcrypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: algorithm === 'rsa1024' ? 1024 : 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    true,
    usages,
  );
}

function signingAlgorithm(algorithm: KeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return algorithm === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

function certifiedKey(certificate: x509.X509Certificate, keys: webcrypto.CryptoKeyPair): CertifiedKey {
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
  return { certPem: `${certificate.toString('pem')}\n`, keyPem: String(keyPem) };
}
