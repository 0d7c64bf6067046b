/**
 * What the TLS probe offers the server, one handshake at a time: each
 * protocol version alone, then (at TLS 1.2) each weak cipher class alone, so
 * an accepted handshake is evidence about exactly one thing.
 *
 * Every offer carries `@SECLEVEL=0`: OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1
 * signatures), NULL and anonymous suites at its default level, so a client
 * at that level could not tell "the server refuses" from "I refused". These
 * offers are used only by the probe's own sockets (tls-handshake.ts); the
 * pool's connections never see them.
 */
import { createSecureContext } from 'node:tls';
import type { Severity } from './severity.js';

/** The versions probed, newest first (the first one accepted also gives the certificate chain). */
export const PROBED_VERSIONS = ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'] as const;
export type ProbedVersion = (typeof PROBED_VERSIONS)[number];

/** `TLS 1.0` for `TLSv1`: how findings name a version. */
export function versionLabel(version: string): string {
  return version === 'TLSv1' ? 'TLS 1.0' : version.replace(/^TLSv/, 'TLS ');
}

/**
 * What a version handshake offers: OpenSSL's DEFAULT list (what
 * `openssl s_client` offers) at level 0, so the verdict is about the version,
 * not about a cipher.
 */
export const VERSION_CIPHERS = 'DEFAULT@SECLEVEL=0';

export const CIPHER_CLASS_IDS = ['null', 'anonymous', 'rc4', '3des', 'rsa-kx', 'cbc'] as const;
export type CipherClassId = (typeof CIPHER_CLASS_IDS)[number];

export interface CipherClass {
  readonly id: CipherClassId;
  /** How findings name it. */
  readonly label: string;
  /** An OpenSSL cipher string that selects this class and nothing else, for TLS 1.2. */
  readonly ciphers: string;
  /** How bad it is for the server to accept it (tls.ciphers takes the worst accepted). */
  readonly severity: Severity;
  readonly why: string;
}

// Each string excludes the other classes it would otherwise overlap with, so
// "accepted" names one weakness. The strings are checked against OpenSSL's
// own expansion in tls-offers.test.ts.
export const CIPHER_CLASSES: readonly CipherClass[] = [
  {
    id: 'null',
    label: 'NULL-encryption suites',
    ciphers: 'eNULL:!aNULL@SECLEVEL=0',
    severity: 'high',
    why: 'traffic is not encrypted at all',
  },
  {
    id: 'anonymous',
    label: 'anonymous (unauthenticated) suites',
    ciphers: 'aNULL:!eNULL@SECLEVEL=0',
    severity: 'high',
    why: 'the server proves no identity, so anyone in the path can impersonate it',
  },
  {
    id: 'rc4',
    label: 'RC4 suites',
    ciphers: 'RC4:!aNULL:!eNULL@SECLEVEL=0',
    severity: 'high',
    why: 'RC4 is broken and prohibited in TLS (RFC 7465)',
  },
  {
    id: '3des',
    label: '3DES suites',
    ciphers: '3DES:!aNULL:!eNULL@SECLEVEL=0',
    severity: 'medium',
    why: 'a 64-bit block cipher, open to Sweet32 birthday attacks on long sessions',
  },
  {
    id: 'rsa-kx',
    label: 'RSA key exchange suites',
    ciphers: 'kRSA:!aNULL:!eNULL:!RC4:!3DES@SECLEVEL=0',
    severity: 'medium',
    why: 'no forward secrecy: whoever later obtains the server key decrypts recorded sessions',
  },
  {
    id: 'cbc',
    label: 'CBC-mode suites (no AEAD)',
    ciphers: 'kECDHE:kDHE:!aNULL:!eNULL:!AESGCM:!AESCCM:!CHACHA20:!ARIAGCM:!PSK:!RC4:!3DES@SECLEVEL=0',
    severity: 'low',
    why: 'MAC-then-encrypt CBC suites have a history of padding-oracle attacks such as Lucky13; AEAD suites do not',
  },
];

const offerable = new Map<string, boolean>();

/**
 * Whether this runtime's OpenSSL can offer a cipher string at all (a build
 * without 3DES or RC4 answers "no cipher match"). Cached per string.
 */
export function canOffer(ciphers: string): boolean {
  let known = offerable.get(ciphers);
  if (known === undefined) {
    try {
      createSecureContext({ ciphers, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
      known = true;
    } catch {
      known = false;
    }
    offerable.set(ciphers, known);
  }
  return known;
}

/** `OpenSSL 3.0.19`: which library decided what the probe could offer. */
export function runtimeOpenssl(): string {
  return `Node ${process.version} with OpenSSL ${process.versions.openssl ?? 'unknown'}`;
}

/** The most probe connections one audit makes: one per version, one per class this runtime can offer. */
export function maxProbeConnections(): number {
  return PROBED_VERSIONS.length + CIPHER_CLASSES.filter((c) => canOffer(c.ciphers)).length;
}
