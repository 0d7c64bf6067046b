/**
 * Judges the server certificate as presented over the wire: expiry, trust
 * against the configured CA (or the system store), key and signature
 * strength, and whether it names the host the application connects to.
 * Uses node:crypto's X509Certificate, and a DER read of the signature
 * algorithm, which Node does not expose.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { PemSource } from '../config/schema.js';
import { signatureAlgorithm } from '../tls/signature-algorithm.js';

export interface CertificateFacts {
  /** Where the certificate was read: the audit's own session, or a handshake-only probe. */
  readonly source: 'session' | 'probe';
  readonly subject: string;
  readonly issuer: string;
  readonly validFrom: string;
  readonly validTo: string;
  readonly daysLeft: number;
  readonly fingerprint256: string;
  readonly selfSigned: boolean;
  readonly trust: { readonly trusted: boolean; readonly against: string; readonly reason: string };
  /** Reasons the key or a signature is weak; empty when strong. */
  readonly weaknesses: readonly string[];
  readonly keyDescription: string;
  readonly signatureAlgorithm: string;
  /** The name checked (sslServerName or host) and whether the certificate covers it. */
  readonly hostname: { readonly name: string; readonly matches: boolean } | undefined;
  readonly subjectAltName: string | undefined;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseBundle(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem.match(PEM_BLOCK) ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // A malformed entry in a bundle is skipped, as OpenSSL does.
    }
  }
  return out;
}

/** The trust anchors: the configured root certificate(s), or the system store when none is configured. */
export function trustAnchors(rootCert: PemSource | undefined): { anchors: X509Certificate[]; label: string } {
  if (rootCert && rootCert.origin !== 'system') {
    return {
      anchors: parseBundle(rootCert.pem),
      label:
        rootCert.origin === 'file' ? `the configured CA (${rootCert.path})` : 'the configured CA (inline)',
    };
  }
  return {
    anchors: rootCertificates.flatMap((pem) => parseBundle(pem)),
    label: rootCert ? 'the system CA store (sslrootcert=system)' : 'the system CA store (no CA configured)',
  };
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function verifyChain(
  leaf: X509Certificate,
  presented: X509Certificate[],
  anchors: X509Certificate[],
): { trusted: boolean; reason: string } {
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (anchors.some((a) => a.fingerprint256 === current.fingerprint256)) {
      return { trusted: true, reason: 'the certificate itself is a trusted root' };
    }
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) return { trusted: true, reason: `chains to ${anchor.subject.replace(/\n/g, ', ')}` };
    const next = presented.find(
      (c) => c !== current && issuedBy(current, c) && c.fingerprint256 !== current.fingerprint256,
    );
    if (!next) break;
    current = next;
  }
  if (issuedBy(leaf, leaf)) return { trusted: false, reason: 'it is self-signed and not a trusted root' };
  return { trusted: false, reason: `its issuer (${leaf.issuer.replace(/\n/g, ', ')}) is not a trusted root` };
}

function keyWeakness(certificate: X509Certificate): { description: string; weakness?: string } {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType ?? 'unknown';
  if (type === 'rsa' || type === 'rsa-pss' || type === 'dsa') {
    const bits = details.modulusLength ?? 0;
    const description = `${type.toUpperCase()} ${bits} bits`;
    if (type === 'dsa') return { description, weakness: 'DSA keys are deprecated' };
    return bits < 2048 ? { description, weakness: `${description} is below 2048 bits` } : { description };
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown curve';
    const weak = /secp(112|128|160|192)|prime192|sect(113|131|163|193)/.test(curve);
    return weak
      ? { description: `EC ${curve}`, weakness: `EC curve ${curve} is below 224 bits` }
      : { description: `EC ${curve}` };
  }
  return { description: type };
}

function hostMatches(certificate: X509Certificate, name: string): boolean {
  const bare = name.replace(/^\[|\]$/g, '');
  return isIP(bare) ? certificate.checkIP(bare) !== undefined : certificate.checkHost(bare) !== undefined;
}

/**
 * Analyses `chain` (DER, leaf first, as presented by the server).
 * `host` is the name the application verifies (sslServerName or host);
 * undefined for unix sockets.
 */
export function analyzeCertificate(
  chain: readonly Buffer[],
  source: 'session' | 'probe',
  rootCert: PemSource | undefined,
  host: string | undefined,
  now: Date,
): CertificateFacts | undefined {
  const [leafDer] = chain;
  if (!leafDer) return undefined;
  const leaf = new X509Certificate(leafDer);
  const presented = chain.map((der) => new X509Certificate(der));
  const { anchors, label } = trustAnchors(rootCert);
  const trust = verifyChain(leaf, presented, anchors);
  const weaknesses: string[] = [];
  const key = keyWeakness(leaf);
  if (key.weakness) weaknesses.push(key.weakness);
  const signature = signatureAlgorithm(leafDer);
  if (signature.weak) weaknesses.push(`it is signed with ${signature.name}`);
  // Signatures of intermediates matter too; a root's own signature does not.
  chain.slice(1).forEach((der, index) => {
    const certificate = presented[index + 1]!;
    if (issuedBy(certificate, certificate)) return;
    const sig = signatureAlgorithm(der);
    if (sig.weak)
      weaknesses.push(`intermediate ${certificate.subject.replace(/\n/g, ', ')} is signed with ${sig.name}`);
  });
  const validTo = new Date(leaf.validTo);
  return {
    source,
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    validFrom: new Date(leaf.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now.getTime()) / 86_400_000),
    fingerprint256: leaf.fingerprint256,
    selfSigned: issuedBy(leaf, leaf),
    trust: { ...trust, against: label },
    weaknesses,
    keyDescription: key.description,
    signatureAlgorithm: signature.name,
    hostname: host === undefined ? undefined : { name: host, matches: hostMatches(leaf, host) },
    subjectAltName: leaf.subjectAltName,
  };
}
