// The background fdatasync of create's output: bytes pass unchanged, the
// stream ends only after its last sync, and a sync that fails fails the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SyncTap } from './sync-tap.js';

const blocks = (count: number, size: number) => Array.from({ length: count }, () => randomBytes(size));

test('bytes reach the file unchanged while syncs run every few KiB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-sync-'));
  try {
    const path = join(dir, 'out');
    const fd = openSync(path, 'wx', 0o600);
    const data = blocks(64, 4096);
    await pipeline(Readable.from(data), new SyncTap(fd, 16 * 1024), createWriteStream('', { fd }));
    assert.deepEqual(readFileSync(path), Buffer.concat(data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a background sync that fails fails the stream', async () => {
  // /dev/null takes writes but cannot be synced: fdatasync answers EINVAL.
  const fd = openSync('/dev/null', 'w');
  try {
    // However late the failure arrives, the stream's end waits for it.
    await assert.rejects(
      pipeline(Readable.from(blocks(8, 1024)), new SyncTap(fd, 1024), createWriteStream('/dev/null')),
      { code: 'EINVAL' },
    );
  } finally {
    closeSync(fd);
  }
});
