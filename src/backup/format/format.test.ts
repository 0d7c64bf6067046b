// The file format on its own, in memory: round trips at chunk-size edges,
// every kind of structural damage, wrong keys, and the bounds enforced when
// a header is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as NodeCrypto from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Secret } from '../../redact/secret.js';
import { BackupError } from '../backup-error.js';
import { generateKeyFile, KeyFileSource } from '../keys/key-file.js';
import type { KeySource } from '../keys/key-source.js';
import { PassphraseSource } from '../keys/passphrase.js';
import { ChunkDecryptor } from './chunk-decryptor.js';
import { ChunkEncryptor } from './chunk-encryptor.js';
import { INFO_PAYLOAD, MAGIC, PRELUDE_LENGTH, TAG_LENGTH } from './constants.js';
import { payloadKey } from './derive.js';
import { decodeHeader, encodeHeader, type BackupHeader, type EncodedHeader } from './header.js';

const CHUNK = 1024;
const dir = mkdtempSync(join(tmpdir(), 'pgw-format-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const keyPath = join(dir, 'a.key');
generateKeyFile(keyPath);
const keyFile = new KeyFileSource(keyPath);

async function seal(
  plaintext: Buffer,
  source: KeySource = keyFile,
  id = 'unit-test',
): Promise<{ bytes: Buffer; header: EncodedHeader }> {
  const { dataKey, wrap } = await source.createDataKey(id);
  const salt = randomBytes(32);
  const header = encodeHeader({
    backupId: id,
    createdAt: new Date().toISOString(),
    cipher: 'aes-256-gcm',
    kdf: 'hkdf-sha256',
    salt: salt.toString('base64'),
    noncePrefix: randomBytes(7).toString('base64'),
    chunkSize: CHUNK,
    compression: 'none',
    key: wrap,
    database: 'app',
    server: { version: '15.18' },
    pgDump: { version: '15.18' },
  } satisfies BackupHeader);
  const encryptor = new ChunkEncryptor({ header, payloadKey: payloadKey(dataKey, salt) });
  return { bytes: await collect(Readable.from(pieces(plaintext)), encryptor), header };
}

/** Random-sized pieces, so every boundary case of the byte queue is exercised. */
function pieces(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(Math.random() * 3000);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    source,
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function open(bytes: Buffer, source: KeySource = keyFile): Promise<Buffer> {
  const decryptor = new ChunkDecryptor({
    openKey: async ({ header }) => source.openDataKey(header.key, header.backupId),
  });
  return collect(Readable.from(pieces(bytes)), decryptor);
}

async function rejectsWith(bytes: Buffer, codes: string[], source: KeySource = keyFile): Promise<string> {
  try {
    await open(bytes, source);
  } catch (error) {
    assert.ok(error instanceof BackupError, `not a BackupError: ${String(error)}`);
    assert.ok(codes.includes(error.code), `${error.code}: ${error.message}`);
    return error.code;
  }
  assert.fail('damage went undetected');
}

test('round trips at every chunk-size edge; chunk count and file size as specified', async () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 4 * CHUNK, 4 * CHUNK + 17, 50_000]) {
    const plaintext = randomBytes(size);
    const { bytes, header } = await seal(plaintext);
    assert.deepEqual(await open(bytes), plaintext, `size ${size}`);
    const chunks = Math.max(1, Math.ceil(size / CHUNK));
    assert.equal(bytes.length, header.bytes.length + size + chunks * TAG_LENGTH, `size ${size}`);
  }
});

test('a stream destroyed without a flush zeroes its key: an encryptor aborted mid-dump, a decryptor on a tampered chunk', async () => {
  const { header } = await seal(randomBytes(10));
  const key = randomBytes(32);
  const encryptor = new ChunkEncryptor({ header, payloadKey: key });
  encryptor.write(randomBytes(CHUNK / 2));
  encryptor.on('error', () => undefined);
  encryptor.destroy(new Error('aborted'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(key.equals(Buffer.alloc(32)), 'the payload key outlived the aborted encryptor');

  const { bytes, header: sealed } = await seal(randomBytes(4 * CHUNK));
  const tampered = Buffer.from(bytes);
  tampered[sealed.bytes.length + CHUNK + TAG_LENGTH + 3]! ^= 0x01; // in the second chunk
  // The decryptor derives its key itself: record what hkdfSync hands it (derive.ts wraps it without a copy).
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  const original = crypto.hkdfSync;
  const derived: ArrayBuffer[] = [];
  crypto.hkdfSync = ((...args: Parameters<typeof original>) => {
    const out = original(...args);
    if (args[3] === INFO_PAYLOAD) derived.push(out);
    return out;
  }) as typeof original;
  syncBuiltinESMExports();
  try {
    await rejectsWith(tampered, ['PGW_BACKUP_CORRUPT']);
  } finally {
    crypto.hkdfSync = original;
    syncBuiltinESMExports();
  }
  assert.equal(derived.length, 1);
  assert.ok(
    Buffer.from(derived[0]!).equals(Buffer.alloc(32)),
    'the payload key outlived the failed decryption',
  );
});

test('truncation at every chunk boundary and at many offsets is corruption', async () => {
  const { bytes, header } = await seal(randomBytes(6 * CHUNK + 100));
  const record = CHUNK + TAG_LENGTH;
  const cuts = new Set<number>([0, 5, PRELUDE_LENGTH, header.bytes.length - 1]);
  for (let at = header.bytes.length; at < bytes.length; at += record) cuts.add(at);
  for (let at = 1; at < bytes.length; at += 97) cuts.add(at);
  for (const cut of cuts) await rejectsWith(bytes.subarray(0, cut), ['PGW_BACKUP_CORRUPT']);
});

test('chunks swapped, duplicated, removed, or data appended: corruption', async () => {
  const { bytes, header } = await seal(randomBytes(5 * CHUNK + 10));
  const record = CHUNK + TAG_LENGTH;
  const h = header.bytes.length;
  const chunk = (i: number) => bytes.subarray(h + i * record, Math.min(bytes.length, h + (i + 1) * record));
  const head = bytes.subarray(0, h);
  const variants = [
    Buffer.concat([head, chunk(1), chunk(0), chunk(2), chunk(3), chunk(4), chunk(5)]),
    Buffer.concat([head, chunk(0), chunk(1), chunk(1), chunk(2), chunk(3), chunk(4), chunk(5)]),
    Buffer.concat([head, chunk(0), chunk(2), chunk(3), chunk(4), chunk(5)]),
    Buffer.concat([head, chunk(0), chunk(1), chunk(2), chunk(3), chunk(5)]),
    Buffer.concat([bytes, randomBytes(40)]),
    Buffer.concat([bytes, chunk(5)]),
  ];
  for (const variant of variants) await rejectsWith(variant, ['PGW_BACKUP_CORRUPT']);
  // A chunk from another file with the same key is not accepted either.
  const other = await seal(randomBytes(5 * CHUNK + 10));
  const foreign = Buffer.concat([
    head,
    chunk(0),
    other.bytes.subarray(other.header.bytes.length + record, other.header.bytes.length + 2 * record),
    chunk(2),
    chunk(3),
    chunk(4),
    chunk(5),
  ]);
  await rejectsWith(foreign, ['PGW_BACKUP_CORRUPT']);
});

test('any byte of the header altered: never accepted', async () => {
  const { bytes, header } = await seal(randomBytes(2 * CHUNK));
  const seen = new Set<string>();
  for (let i = 0; i < header.bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i] = copy[i]! ^ (1 << (i % 8));
    // WRONG_KEY only when the key id itself was edited; UNSUPPORTED for the version field.
    seen.add(
      await rejectsWith(copy, ['PGW_BACKUP_CORRUPT', 'PGW_BACKUP_WRONG_KEY', 'PGW_BACKUP_UNSUPPORTED']),
    );
  }
  assert.ok(seen.has('PGW_BACKUP_CORRUPT'));
});

test('header bounds are enforced before anything large is read', async () => {
  const { bytes } = await seal(randomBytes(10));
  const huge = Buffer.from(bytes);
  huge.writeUInt32BE(0x7fffffff, 10);
  await rejectsWith(huge, ['PGW_BACKUP_CORRUPT']);
  const future = Buffer.from(bytes);
  future.writeUInt16BE(3, 8);
  assert.equal(await rejectsWith(future, ['PGW_BACKUP_UNSUPPORTED']), 'PGW_BACKUP_UNSUPPORTED');
  await rejectsWith(Buffer.concat([Buffer.from('PGDMP'), bytes.subarray(5)]), ['PGW_BACKUP_CORRUPT']);
  assert.ok(bytes.subarray(0, 8).equals(MAGIC));
});

test('wrong key file: PGW_BACKUP_WRONG_KEY, distinct from corruption', async () => {
  const otherPath = join(dir, 'b.key');
  generateKeyFile(otherPath);
  const { bytes } = await seal(randomBytes(3000));
  assert.equal(
    await rejectsWith(bytes, ['PGW_BACKUP_WRONG_KEY'], new KeyFileSource(otherPath)),
    'PGW_BACKUP_WRONG_KEY',
  );
});

test('a wrapped key altered under the right key id is corruption, and wraps are bound to the backup id', async () => {
  const { wrap } = await keyFile.createDataKey('first');
  assert.equal(wrap.type, 'key-file');
  await assert.rejects(keyFile.openDataKey(wrap, 'second'), { code: 'PGW_BACKUP_CORRUPT' });
  const opened = await keyFile.openDataKey(wrap, 'first');
  assert.equal(opened.length, 32);
});

test('passphrase: round trip, wrong passphrase is WRONG_KEY, scrypt bounds refused before scrypt runs', async () => {
  const right = new PassphraseSource(new Secret('correct horse battery staple'));
  const wrong = new PassphraseSource(new Secret('correct horse battery stapler'));
  const plaintext = randomBytes(2500);
  const { bytes } = await seal(plaintext, right);
  assert.deepEqual(await open(bytes, right), plaintext);
  assert.equal(await rejectsWith(bytes, ['PGW_BACKUP_WRONG_KEY'], wrong), 'PGW_BACKUP_WRONG_KEY');

  const { wrap } = await right.createDataKey('bounds');
  assert.equal(wrap.type, 'passphrase');
  if (wrap.type !== 'passphrase') return;
  assert.equal(wrap.logN, 17);
  for (const bad of [{ logN: 30 }, { logN: 16 }, { r: 1 }, { r: 64 }, { p: 99 }, { logN: 20, r: 32 }]) {
    await assert.rejects(right.openDataKey({ ...wrap, ...bad }, 'bounds'), {
      code: 'PGW_BACKUP_UNSUPPORTED',
    });
  }
  await assert.rejects(new PassphraseSource(new Secret('short')).createDataKey('x'), {
    code: 'PGW_BACKUP_KEY_INVALID',
  });
});

test('key files: generated 0600 and never overwritten; refused when readable by others or malformed', () => {
  const path = join(dir, 'c.key');
  generateKeyFile(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.throws(() => generateKeyFile(path), { code: 'PGW_BACKUP_KEY_INVALID' });
  chmodSync(path, 0o644);
  assert.throws(() => new KeyFileSource(path), { code: 'PGW_BACKUP_KEY_PERMISSIONS' });
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'not base64 at all\n', { mode: 0o600 });
  assert.throws(() => new KeyFileSource(bad), { code: 'PGW_BACKUP_KEY_INVALID' });
  writeFileSync(join(dir, 'short.key'), `${randomBytes(16).toString('base64')}\n`, { mode: 0o600 });
  assert.throws(() => new KeyFileSource(join(dir, 'short.key')), { code: 'PGW_BACKUP_KEY_INVALID' });
  assert.throws(() => new KeyFileSource(join(dir, 'missing.key')), { code: 'PGW_BACKUP_KEY_INVALID' });
});

test('version 2 headers: frameSize exactly for the compressions pgwarden applies; version 1 knows no zstd-frames', () => {
  const base: BackupHeader = {
    backupId: 'v2-header',
    createdAt: new Date().toISOString(),
    cipher: 'aes-256-gcm',
    kdf: 'hkdf-sha256',
    salt: randomBytes(32).toString('base64'),
    noncePrefix: randomBytes(7).toString('base64'),
    chunkSize: CHUNK,
    compression: 'brotli',
    frameSize: 1024 * 1024,
    key: {
      type: 'key-file',
      keyId: '0123456789abcdef',
      nonce: randomBytes(12).toString('base64'),
      wrapped: randomBytes(48).toString('base64'),
    },
    database: 'app',
    server: { version: '15.18' },
    pgDump: { version: '15.18' },
  };
  for (const compression of ['brotli', 'gzip', 'zstd-frames'] as const) {
    const encoded = encodeHeader({ ...base, compression });
    assert.equal(encoded.version, 2);
    assert.equal(encoded.bytes.readUInt16BE(8), 2);
    assert.deepEqual(decodeHeader(encoded.bytes).header, { ...base, compression });
    const { frameSize: _frameSize, ...withoutFrames } = base;
    assert.throws(() => encodeHeader({ ...withoutFrames, compression }), /frameSize/);
  }
  for (const compression of ['none', 'zstd'] as const) {
    const { frameSize: _frameSize, ...withoutFrames } = base;
    assert.equal(
      decodeHeader(encodeHeader({ ...withoutFrames, compression }).bytes).header.frameSize,
      undefined,
    );
    assert.throws(() => encodeHeader({ ...base, compression }), /frameSize/);
  }
  for (const frameSize of [1024, 64 * 1024 - 1, 16 * 1024 * 1024 + 1]) {
    assert.throws(() => encodeHeader({ ...base, frameSize }));
  }
  // Version 1 has neither zstd-frames nor frameSize: such a header read as version 1 is corrupt.
  const { frameSize: _frameSize, ...v1 } = base;
  assert.equal(encodeHeader(v1, 1).version, 1);
  assert.throws(() => encodeHeader({ ...v1, compression: 'zstd-frames' }, 1));
  const v2bytes = Buffer.from(encodeHeader({ ...base, compression: 'zstd-frames' }).bytes);
  v2bytes.writeUInt16BE(1, 8);
  assert.throws(() => decodeHeader(v2bytes), { code: 'PGW_BACKUP_CORRUPT' });
});
