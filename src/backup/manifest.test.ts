// The manifest: canonical form, HMAC, the chained verification record, and
// every single-byte change of a manifest file detected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BackupError } from './backup-error.js';
import {
  authenticateManifest,
  canonicalJson,
  parseManifest,
  signManifest,
  withVerification,
  type BackupManifest,
  type UnsignedManifest,
} from './manifest.js';

const key = randomBytes(32);
const unsigned: UnsignedManifest = {
  format: 'pgwarden-backup-manifest',
  version: 1,
  id: '20261122T101500Z-app-3f9c1a',
  file: '20261122T101500Z-app-3f9c1a.pgwb',
  createdAt: '2026-11-22T10:15:00.000Z',
  completedAt: '2026-11-22T10:15:03.000Z',
  database: 'app',
  host: '127.0.0.1',
  port: 5432,
  server: { version: '15.18', versionNum: 150018 },
  pgDump: { version: '15.18' },
  compression: 'brotli',
  chunkSize: 65536,
  chunks: 3,
  sizes: { dump: 200_000, file: 90_000 },
  sha256: 'ab'.repeat(32),
  key: { type: 'key-file', id: 'key-file:0123456789abcdef' },
  tables: [
    { schema: 'public', name: 'accounts', rows: 1000 },
    { schema: 'public', name: 'events', rows: 5 },
  ],
  retention: { class: 'daily', keepDays: 30, expiresAt: '2026-12-22T10:15:00.000Z' },
};

function check(text: string): BackupManifest {
  const manifest = parseManifest(text, 'm.manifest.json');
  authenticateManifest(manifest, key, 'm.manifest.json');
  return manifest;
}

test('a signed manifest parses, authenticates and is in canonical form', () => {
  const manifest = signManifest(unsigned, key);
  const text = canonicalJson(manifest);
  assert.deepEqual(check(text), manifest);
  assert.throws(() => authenticateManifest(manifest, randomBytes(32), 'm'), { code: 'PGW_BACKUP_CORRUPT' });
});

test('every single-byte change of the manifest file is detected', () => {
  const signed = withVerification(
    signManifest(unsigned, key),
    { level: 2, ok: true, at: '2026-11-23T00:00:00.000Z', durationMs: 12, error: null },
    key,
  );
  const text = canonicalJson(signed);
  check(text);
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    for (const change of [0x01, 0x20, 0x80 | (i % 0x7f)]) {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ change;
      assert.throws(
        () => check(copy.toString('utf8')),
        (error: unknown) => error instanceof BackupError && error.code === 'PGW_BACKUP_CORRUPT',
        `byte ${i} ^ ${change} went undetected`,
      );
    }
  }
  // Removing or inserting white space is an edit too.
  assert.throws(() => check(text.replace('\n', '\n ')), { code: 'PGW_BACKUP_CORRUPT' });
  assert.throws(() => check(text.trimEnd()), { code: 'PGW_BACKUP_CORRUPT' });
});

test('the verification record is chained to the manifest and may be unauthenticated', () => {
  const signed = signManifest(unsigned, key);
  const keyless = withVerification(
    signed,
    { level: 1, ok: true, at: '2026-11-23T00:00:00.000Z', durationMs: 3, error: null },
    undefined,
  );
  assert.equal(keyless.verification?.hmac, null);
  check(canonicalJson(keyless));
  const keyed = withVerification(
    signed,
    { level: 3, ok: true, at: '2026-11-23T00:00:00.000Z', durationMs: 3, error: null },
    key,
  );
  // A record moved onto another manifest (another HMAC) does not verify.
  const other = signManifest(
    { ...unsigned, id: '20261122T101500Z-app-000000', file: '20261122T101500Z-app-000000.pgwb' },
    key,
  );
  assert.throws(() => check(canonicalJson({ ...other, verification: keyed.verification })), {
    code: 'PGW_BACKUP_CORRUPT',
  });
});
