// A self-signed RSA-2048 server certificate signed with SHA-1: OpenSSL at
// Debian's security level loads it (self-signed certificates skip the
// signature-strength check), so tls.server-cert-weak can be provoked over
// the wire. RSA-1024 cannot be: the server refuses to load such a key.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';
import type { TlsMaterial } from '../support/index.js';

x509.cryptoProvider.set(webcrypto);

export async function sha1SelfSigned(): Promise<TlsMaterial> {
  const algorithm = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-1',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=localhost, O=pgwarden weak test',
    keys,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 90 * 86_400_000),
    signingAlgorithm: algorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: String(KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' })),
  };
}
