// Codec selection by runtime, and the coded error a runtime without zstd
// gives for a zstd-frames backup: before any key is used or any connection
// is opened (the restore below points at a port where nothing listens, so
// reaching the connection would be a different error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { BackupError } from '../backup-error.js';
import { ChunkEncryptor } from '../format/chunk-encryptor.js';
import { payloadKey } from '../format/derive.js';
import { encodeHeader } from '../format/header.js';
import { generateKeyFile, KeyFileSource } from '../keys/key-file.js';
import { payloadDecoder, payloadEncoder } from '../payload.js';
import { restoreBackup } from '../restore.js';
import {
  assertCodecAvailable,
  defaultCompression,
  minNodeToRead,
  PGWARDEN_MIN_NODE,
  ZSTD_MIN_NODE,
  zstdAvailable,
} from './codecs.js';

const HAS_ZSTD = typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function';
const dir = mkdtempSync(join(tmpdir(), 'pgw-codecs-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('zstd-frames is the default exactly where node:zlib has zstd; the oldest reader is named', () => {
  assert.equal(zstdAvailable(), HAS_ZSTD);
  assert.equal(defaultCompression(), HAS_ZSTD ? 'zstd-frames' : 'brotli');
  assert.equal(minNodeToRead('zstd-frames'), ZSTD_MIN_NODE);
  assert.equal(ZSTD_MIN_NODE, '22.15.0');
  for (const c of ['brotli', 'gzip', 'none', 'zstd'] as const)
    assert.equal(minNodeToRead(c), PGWARDEN_MIN_NODE);
  for (const c of ['brotli', 'gzip', 'none', 'zstd'] as const) {
    assertCodecAvailable(c, 'read');
    assertCodecAvailable(c, 'create');
  }
});

async function zstdBackupFile(): Promise<string> {
  const keyPath = join(dir, 'k.key');
  generateKeyFile(keyPath);
  const { dataKey, wrap } = await new KeyFileSource(keyPath).createDataKey('zstd-unit');
  const salt = randomBytes(32);
  const header = encodeHeader({
    backupId: 'zstd-unit',
    createdAt: new Date().toISOString(),
    cipher: 'aes-256-gcm',
    kdf: 'hkdf-sha256',
    salt: salt.toString('base64'),
    noncePrefix: randomBytes(7).toString('base64'),
    chunkSize: 65536,
    compression: 'zstd-frames',
    frameSize: 1024 * 1024,
    key: wrap,
    database: 'app',
    server: { version: '15.18' },
    pgDump: { version: '15.18' },
  });
  const encryptor = new ChunkEncryptor({ header, payloadKey: payloadKey(dataKey, salt) });
  const parts: Buffer[] = [];
  encryptor.on('data', (b: Buffer) => parts.push(b));
  const ended = new Promise((resolve) => encryptor.on('end', resolve));
  encryptor.end(Buffer.from('frames a runtime without zstd never gets to read'));
  await ended;
  const file = join(dir, 'zstd-unit.pgwb');
  writeFileSync(file, Buffer.concat(parts), { mode: 0o600 });
  return file;
}

test(
  'without zstd: a zstd-frames backup is PGW_BACKUP_UNSUPPORTED naming Node 22.15.0, before the key or the target is touched',
  {
    skip: HAS_ZSTD
      ? 'this Node has zstd (test/integration/backup-format-versions.test.ts covers it across runtimes)'
      : false,
  },
  async () => {
    const file = await zstdBackupFile();
    const check = (error: unknown) => {
      assert.ok(error instanceof BackupError);
      assert.equal(error.code, 'PGW_BACKUP_UNSUPPORTED');
      assert.match(error.message, /needs Node 22\.15\.0 or newer/);
      assert.match(
        error.message,
        new RegExp(`Node ${process.versions.node.replace(/\./g, '\\.')} has no zstd`),
      );
      return true;
    };
    assert.throws(() => assertCodecAvailable('zstd-frames', 'read'), check);
    await assert.rejects(
      restoreBackup({
        target: file,
        connection: { url: 'postgres://nobody@127.0.0.1:1/nothing?sslmode=disable' },
        env: {},
        keys: { keyFile: join(dir, 'missing.key') }, // not even the key is looked at
      }),
      check,
    );
    const { readHeaderFromFile } = await import('../reader.js');
    assert.throws(() => payloadDecoder(readHeaderFromFile(file)), check);
    assert.throws(
      () => payloadEncoder('zstd-frames'),
      (error: unknown) =>
        error instanceof BackupError &&
        error.code === 'PGW_BACKUP_UNSUPPORTED' &&
        error.option === '--compress' &&
        /Node 22\.15\.0 or newer/.test(error.message),
    );
  },
);
