import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { createPki, encryptClientKey, type Pki } from './pki.js';

const DAY_MS = 86_400_000;

function parse(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

describe('createPki', () => {
  let pki: Pki;
  let ca: X509Certificate;

  before(async () => {
    pki = await createPki({ clientRoles: ['app', 'read only'] });
    ca = parse(pki.ca.certPem);
  });

  test('the CA is a self-signed root', () => {
    assert.equal(ca.ca, true);
    assert.ok(ca.checkIssued(ca));
    assert.ok(ca.verify(ca.publicKey));
    assert.match(ca.subject, /CN=pgwarden test CA/);
    assert.equal(ca.publicKey.asymmetricKeyType, 'ec');
  });

  test('the server certificate is signed by the CA, valid now, and names every loopback form', () => {
    const server = parse(pki.server.certPem);
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.match(server.subject, /CN=localhost/);
    assert.equal(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    const now = Date.now();
    assert.ok(Date.parse(server.validFrom) <= now && now < Date.parse(server.validTo));
    assert.ok(Date.parse(server.validTo) - now > 29 * DAY_MS);
    // The key in the PEM belongs to the certificate.
    assert.ok(server.checkPrivateKey(createPrivateKey(pki.server.keyPem)));
  });

  test('the failing variants fail for exactly one reason each', () => {
    const expired = parse(pki.expired.certPem);
    const now = Date.now();
    assert.ok(expired.verify(ca.publicKey));
    assert.ok(Math.abs(Date.parse(expired.validFrom) - (now - 2 * DAY_MS)) < 60_000);
    assert.ok(Math.abs(Date.parse(expired.validTo) - (now - DAY_MS)) < 60_000);
    assert.equal(expired.checkIP('127.0.0.1'), '127.0.0.1');

    const wrongHost = parse(pki.wrongHost.certPem);
    assert.ok(wrongHost.verify(ca.publicKey));
    assert.equal(wrongHost.subjectAltName, 'DNS:wrong.example.invalid');
    assert.equal(wrongHost.checkHost('localhost'), undefined);
    assert.equal(wrongHost.checkIP('127.0.0.1'), undefined);

    const untrustedCa = parse(pki.untrustedCa.certPem);
    const untrusted = parse(pki.untrustedServer.certPem);
    assert.equal(untrusted.verify(ca.publicKey), false);
    assert.ok(untrusted.checkIssued(untrustedCa) && untrusted.verify(untrustedCa.publicKey));
    assert.equal(untrusted.checkIP('127.0.0.1'), '127.0.0.1');
  });

  test('client certificates carry the role as CN and the clientAuth usage', async () => {
    assert.deepEqual(pki.clientRoles, ['app', 'read only']);
    const app = parse(pki.client('app').certPem);
    assert.match(app.subject, /CN=app/);
    assert.deepEqual(app.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.ok(app.verify(ca.publicKey));
    assert.match(parse(pki.client('read only').certPem).subject, /CN=read only/);

    assert.throws(
      () => pki.client('nobody'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'PGW_CONFIG_INVALID');
        return true;
      },
    );
    const issued = await pki.issueClient('nobody');
    assert.equal(pki.client('nobody'), issued);
    assert.equal(await pki.issueClient('nobody'), issued);
  });

  test('encryptClientKey() needs the passphrase to be read back', () => {
    const encrypted = encryptClientKey(pki.client('app').keyPem, 'correct horse');
    assert.match(encrypted, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.throws(() => createPrivateKey(encrypted));
    const key: KeyObject = createPrivateKey({ key: encrypted, passphrase: 'correct horse' });
    assert.ok(parse(pki.client('app').certPem).checkPrivateKey(key));
  });

  describe('writeFiles', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'pgwarden-pki-test-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('writes every PEM, keys readable by the owner only', () => {
      const files = pki.writeFiles(join(dir, 'nested', 'pki'));
      assert.equal(readFileSync(files.caCertPath, 'utf8'), pki.ca.certPem);
      assert.equal(readFileSync(files.serverKeyPath, 'utf8'), pki.server.keyPem);
      assert.equal(readFileSync(files.untrustedServerCertPath, 'utf8'), pki.untrustedServer.certPem);
      const readOnly = files.clients['read only'];
      assert.ok(readOnly);
      assert.equal(readFileSync(readOnly.certPath, 'utf8'), pki.client('read only').certPem);
      assert.match(readOnly.keyPath, /client-read%20only\.key$/);
      for (const path of [files.caKeyPath, files.serverKeyPath, files.expiredKeyPath, readOnly.keyPath]) {
        assert.equal(statSync(path).mode & 0o777, 0o600, path);
      }
      assert.equal(statSync(files.caCertPath).mode & 0o777, 0o644);
      assert.equal(statSync(files.dir).mode & 0o777, 0o700);
    });
  });
});

describe('createPki with RSA keys', () => {
  test('rsa1024 gives deliberately weak 1024-bit keys, signed with SHA-256', async () => {
    const pki = await createPki({ keyAlgorithm: 'rsa1024' });
    const server = parse(pki.server.certPem);
    assert.equal(pki.keyAlgorithm, 'rsa1024');
    assert.equal(server.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(server.publicKey.asymmetricKeyDetails?.modulusLength, 1024);
    assert.ok(server.verify(parse(pki.ca.certPem).publicKey));
    // sha256WithRSAEncryption
    assert.ok(Buffer.from(server.raw).includes(Buffer.from('2a864886f70d01010b', 'hex')));
  });
});
