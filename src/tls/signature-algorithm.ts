/**
 * The signature algorithm of a DER certificate, which node:crypto's
 * X509Certificate does not expose. Reads only what is needed: the outer
 * SEQUENCE, skips tbsCertificate, then the OID of signatureAlgorithm
 * (RFC 5280 §4.1.1.2). Avoids a certificate library (and the global
 * `Reflect` polyfill one needs) for one field.
 */

/** Names as WebCrypto and OpenSSL print them, with the hash that decides strength. */
const ALGORITHMS: Record<string, { name: string; hash: string }> = {
  '1.2.840.113549.1.1.2': { name: 'RSASSA-PKCS1-v1_5', hash: 'MD2' },
  '1.2.840.113549.1.1.4': { name: 'RSASSA-PKCS1-v1_5', hash: 'MD5' },
  '1.2.840.113549.1.1.5': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' },
  '1.2.840.113549.1.1.11': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  '1.2.840.113549.1.1.14': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-224' },
  '1.2.840.113549.1.1.10': { name: 'RSA-PSS', hash: '' },
  '1.2.840.10045.4.1': { name: 'ECDSA', hash: 'SHA-1' },
  '1.2.840.10045.4.3.1': { name: 'ECDSA', hash: 'SHA-224' },
  '1.2.840.10045.4.3.2': { name: 'ECDSA', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ECDSA', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { name: 'ECDSA', hash: 'SHA-512' },
  '1.2.840.10040.4.3': { name: 'DSA', hash: 'SHA-1' },
  '2.16.840.1.101.3.4.3.2': { name: 'DSA', hash: 'SHA-256' },
  '1.3.101.112': { name: 'Ed25519', hash: '' },
  '1.3.101.113': { name: 'Ed448', hash: '' },
};

/** One DER TLV at `offset`: where its content starts and ends. */
function tlv(der: Uint8Array, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  if (end > der.length) throw new Error('truncated DER');
  return { tag, start, end };
}

function decodeOid(bytes: Uint8Array): string {
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** `{ name: 'ECDSA with SHA-256', weak: false }`; `unknown` when the DER cannot be read. */
export function signatureAlgorithm(der: Uint8Array): { name: string; weak: boolean } {
  try {
    const certificate = tlv(der, 0);
    const tbs = tlv(der, certificate.start);
    const algorithm = tlv(der, tbs.end);
    const oid = tlv(der, algorithm.start);
    if (certificate.tag !== 0x30 || algorithm.tag !== 0x30 || oid.tag !== 0x06) throw new Error('not X.509');
    const id = decodeOid(der.subarray(oid.start, oid.end));
    const known = ALGORITHMS[id];
    if (!known) return { name: id, weak: false };
    return {
      name: known.hash ? `${known.name} with ${known.hash}` : known.name,
      weak: /^(SHA-1|MD5|MD2)$/.test(known.hash),
    };
  } catch {
    return { name: 'unknown', weak: false };
  }
}
