import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import { Secret } from '../redact/secret.js';
import { createEncryptedFileBackend } from './file-backend.js';

const FAST = 2 ** 14; // tests only: the default cost is 2^17

test('encrypted file: round trip, 0600, nothing readable, wrong passphrase, tampering', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-filestore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'home', 'credentials.enc');
  const passphrase = canary();
  const pw = canary();
  const asked: boolean[] = [];
  const backend = createEncryptedFileBackend({
    path,
    scryptCost: FAST,
    passphrase: ({ creating }) => {
      asked.push(creating);
      return new Secret(passphrase);
    },
  });
  assert.equal(await backend.get('prod'), undefined, 'no file: no password and no passphrase asked');
  await backend.set('prod', new Secret(pw));
  await backend.set('dev', new Secret('dev-password-123456'));
  assert.deepEqual(asked, [true], 'asked once, knowing the file is new');
  assert.equal((await backend.get('prod'))?.reveal(), pw);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'home')).mode & 0o777, 0o700);
  const text = readFileSync(path, 'utf8');
  assertNoCanary(text, pw);
  assertNoCanary(text, passphrase);
  assert.doesNotMatch(text, /prod|dev-password/);

  // A second process (new backend) with the right passphrase reads it.
  const again = createEncryptedFileBackend({ path, passphrase: () => new Secret(passphrase) });
  assert.equal((await again.get('prod'))?.reveal(), pw);
  assert.equal(await again.delete('dev'), true);
  assert.equal(await again.delete('dev'), false);
  assert.equal(await backend.get('dev'), undefined, 'the first backend re-reads the file');

  const wrong = createEncryptedFileBackend({ path, passphrase: () => new Secret('wrong passphrase!!') });
  await assert.rejects(wrong.get('prod'), { code: 'PGW_CREDS_STORE_LOCKED' });

  // Lowering the scrypt cost in the header is detected (the header is authenticated).
  const json = JSON.parse(text);
  json.kdf.N = FAST * 2;
  writeFileSync(path, JSON.stringify(json), { mode: 0o600 });
  await assert.rejects(again.get('prod'), { code: 'PGW_CREDS_STORE_LOCKED' });
  writeFileSync(path, text, { mode: 0o600 });

  chmodSync(path, 0o644);
  await assert.rejects(again.get('prod'), { code: 'PGW_CREDS_METADATA_INVALID', fix: `chmod 600 ${path}` });
  chmodSync(path, 0o600);
  writeFileSync(path, '{"not":"ours"}', { mode: 0o600 });
  await assert.rejects(again.get('prod'), { code: 'PGW_CREDS_METADATA_INVALID' });
});

test('a new file needs a passphrase of at least 12 characters; a failing source is STORE_LOCKED', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-filestore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const short = createEncryptedFileBackend({
    path: join(dir, 'a.enc'),
    scryptCost: FAST,
    passphrase: () => new Secret('short'),
  });
  await assert.rejects(short.set('x', new Secret('y'.repeat(20))), { code: 'PGW_CREDS_INVALID' });
  const failing = createEncryptedFileBackend({
    path: join(dir, 'b.enc'),
    scryptCost: FAST,
    passphrase: () => {
      throw new Error('no tty');
    },
  });
  await assert.rejects(failing.set('x', new Secret('y'.repeat(20))), { code: 'PGW_CREDS_STORE_LOCKED' });
  assert.throws(
    () => createEncryptedFileBackend({ path: 'x', scryptCost: 1000, passphrase: () => new Secret('') }),
    {
      code: 'PGW_CREDS_INVALID',
    },
  );
});
