import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFile, KeyFileSource } from './key-file.js';
import { readPassphraseFile } from './passphrase.js';

// Key and passphrase files go through the one secret-file reader of
// src/secrets (issue 12, "also known"): its size bound and fstat-on-the-fd
// check, with the backup's codes and libpq's permission rule.
test('key and passphrase files: missing, a directory, too large, too open, valid', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-keyfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'backup.key');
  const id = generateKeyFile(key);
  assert.equal(new KeyFileSource(key).keyId, id);

  assert.throws(() => new KeyFileSource(join(dir, 'none.key')), {
    code: 'PGW_BACKUP_KEY_INVALID',
    message: /key file .*none\.key \(--key-file\) does not exist/,
  });
  mkdirSync(join(dir, 'adir'), { mode: 0o700 });
  assert.throws(() => new KeyFileSource(join(dir, 'adir')), {
    code: 'PGW_BACKUP_KEY_INVALID',
    message: /is not a regular file/,
  });
  // A wrong path to a big file (a dump, a log) is refused without being read whole.
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 0x41), { mode: 0o600 });
  assert.throws(() => readPassphraseFile(big), { code: 'PGW_BACKUP_KEY_INVALID', message: /too large/ });
  chmodSync(key, 0o640);
  assert.throws(() => new KeyFileSource(key), {
    code: 'PGW_BACKUP_KEY_PERMISSIONS',
    fix: `chmod 600 ${key}`,
  });

  const phrase = join(dir, 'passphrase');
  writeFileSync(phrase, 'correct horse battery staple\n', { mode: 0o600 });
  assert.equal(readPassphraseFile(phrase).reveal(), 'correct horse battery staple');
});
