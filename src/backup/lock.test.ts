// The lock file against overlapping runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, LOCK_FILE } from './lock.js';

const dir = mkdtempSync(join(tmpdir(), 'pgw-lock-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('a second holder is refused while the first holds the lock; release frees it', () => {
  const first = acquireLock(dir, 'create');
  assert.throws(
    () => acquireLock(dir, 'cleanup'),
    (error: Error & { code?: string }) => {
      return error.code === 'PGW_BACKUP_LOCKED' && error.message.includes(`pid ${process.pid}`);
    },
  );
  first.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  acquireLock(dir, 'create').release();
});

test('a lock left by a dead process on this host is taken over', () => {
  // A pid that existed and is gone: a child that has exited.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const pid = Number(dead.stdout);
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid, host: hostname(), command: 'create', startedAt: '2026-01-01T00:00:00Z' }),
  );
  const lock = acquireLock(dir, 'create');
  lock.release();
});

test('a lock held on another host is respected', () => {
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({
      pid: 1,
      host: 'other-host.example',
      command: 'create',
      startedAt: '2026-01-01T00:00:00Z',
    }),
  );
  assert.throws(() => acquireLock(dir, 'create'), { code: 'PGW_BACKUP_LOCKED' });
  rmSync(join(dir, LOCK_FILE));
});
