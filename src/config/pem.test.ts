import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Secret } from '../redact/secret.js';
import { loadPrivateKey } from './pem.js';

test('every wrong passphrase of an encrypted key is PGW_TLS_KEY_PASSPHRASE, also when it passes the padding check', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = String(
    privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'the-right-one' }),
  );
  assert.ok(loadPrivateKey(new Secret(pem), 'sslKey', new Secret('the-right-one'), 'sslKeyPassphrase').key);
  // About 1 wrong passphrase in 256 decrypts to well-padded garbage, which OpenSSL reports as
  // malformed data rather than as a bad decrypt: 1 500 tries meet it with near certainty.
  for (let i = 0; i < 1500; i++) {
    assert.throws(
      () => loadPrivateKey(new Secret(pem), 'sslKey', new Secret(`wrong-${i}`), 'sslKeyPassphrase'),
      { code: 'PGW_TLS_KEY_PASSPHRASE' },
      `wrong passphrase ${i}`,
    );
  }
});
