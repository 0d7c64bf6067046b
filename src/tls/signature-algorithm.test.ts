import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { after, test } from 'node:test';
import { signatureAlgorithm } from './signature-algorithm.js';

const dir = mkdtempSync(join(tmpdir(), 'pgw-sigalg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate made by the system's OpenSSL, and what OpenSSL says its signature algorithm is. */
function certificate(name: string, keyArgs: string[], digest: string[]): { der: Buffer; openssl: string } {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      ...digest,
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
    ],
    { stdio: 'ignore' },
  );
  const text = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-text'], { encoding: 'utf8' });
  const openssl = /Signature Algorithm: (\S+)/.exec(text)![1]!;
  return { der: new X509Certificate(readFileSync(crt)).raw, openssl };
}

const cases = [
  {
    name: 'rsa-sha1',
    key: ['-newkey', 'rsa:2048'],
    digest: ['-sha1'],
    expect: 'RSASSA-PKCS1-v1_5 with SHA-1',
    weak: true,
    openssl: 'sha1WithRSAEncryption',
  },
  {
    name: 'rsa-sha256',
    key: ['-newkey', 'rsa:2048'],
    digest: ['-sha256'],
    expect: 'RSASSA-PKCS1-v1_5 with SHA-256',
    weak: false,
    openssl: 'sha256WithRSAEncryption',
  },
  {
    name: 'ec-sha384',
    key: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    digest: ['-sha384'],
    expect: 'ECDSA with SHA-384',
    weak: false,
    openssl: 'ecdsa-with-SHA384',
  },
  {
    name: 'ed25519',
    key: ['-newkey', 'ed25519'],
    digest: [],
    expect: 'Ed25519',
    weak: false,
    openssl: 'ED25519',
  },
];

for (const c of cases) {
  test(`reads the signature algorithm of a ${c.name} certificate as OpenSSL does`, () => {
    const { der, openssl } = certificate(c.name, c.key, c.digest);
    assert.equal(openssl, c.openssl);
    assert.deepEqual(signatureAlgorithm(der), { name: c.expect, weak: c.weak });
  });
}

test('a truncated or foreign DER is unknown, not a crash', () => {
  const { der } = certificate('trunc', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['-sha256']);
  assert.deepEqual(signatureAlgorithm(der.subarray(0, 40)), { name: 'unknown', weak: false });
  assert.deepEqual(signatureAlgorithm(Buffer.from([0x02, 0x01, 0x00])), { name: 'unknown', weak: false });
});
