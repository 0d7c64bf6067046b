// The background fdatasync of create's output: bytes pass unchanged, the
// stream ends only after its last sync, and a sync that fails fails the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { fdatasync } from 'node:fs';
import {
  closeSync,
  createWriteStream,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SyncTap } from './sync-tap.js';

const blocks = (count: number, size: number) => Array.from({ length: count }, () => randomBytes(size));

/** Yields each block in its own turn of the event loop, as reads from a pipe arrive. */
async function* arriving(data: Buffer[]): AsyncGenerator<Buffer> {
  for (const block of data) {
    await new Promise((resolve) => setImmediate(resolve));
    yield block;
  }
}

/** Pipes `data` through a SyncTap into a new file; returns the file's bytes. */
async function throughSyncTap(data: Buffer[], everyBytes: number, sync: typeof fdatasync): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-sync-'));
  try {
    const path = join(dir, 'out');
    const fd = openSync(path, 'wx', 0o600);
    await pipeline(
      Readable.from(arriving(data)),
      new SyncTap(fd, everyBytes, sync),
      createWriteStream('', { fd }),
    );
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('bytes reach the file unchanged while the file is synced every few KiB', async () => {
  const data = blocks(64, 4096);
  const synced: number[] = [];
  // The real sync, answered at once: one per 16 KiB can then run.
  const recording = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    synced.push(fd);
    fdatasyncSync(fd);
    process.nextTick(callback, null);
  }) as typeof fdatasync;
  assert.deepEqual(await throughSyncTap(data, 16 * 1024, recording), Buffer.concat(data));
  // 256 KiB at one sync per 16 KiB, never two at once.
  assert.ok(synced.length >= 8 && synced.length <= 16, `${synced.length} syncs`);
  assert.equal(new Set(synced).size, 1, 'every sync was of the one output descriptor');
});

test('the stream ends only after its last sync has finished', async () => {
  let syncDone = 0;
  const slow = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    setTimeout(() => {
      fdatasyncSync(fd);
      syncDone = performance.now();
      callback(null);
    }, 50);
  }) as typeof fdatasync;
  const data = blocks(8, 4096);
  assert.deepEqual(await throughSyncTap(data, 4096, slow), Buffer.concat(data));
  const ended = performance.now();
  assert.ok(syncDone > 0 && syncDone <= ended, 'the sync finished before the stream ended');
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
