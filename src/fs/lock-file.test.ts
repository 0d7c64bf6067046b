// The lock file shared by the backup directory and the credential store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLockStale, readLockHolder, releaseOnExit, takeOverStaleLock, tryCreateLock } from './lock-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pgw-lockfile-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `lock-${++n}`);

/** A pid that existed and is gone: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

test('created once, 0600, with this process as holder; a second create is refused; release removes it', () => {
  const path = freshPath();
  assert.equal(tryCreateLock(path, { command: 'create' }), true);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const holder = readLockHolder(path)!;
  assert.equal(holder.pid, process.pid);
  assert.equal(holder.host, hostname());
  assert.equal(holder.command, 'create');
  assert.equal(tryCreateLock(path), false);
  assert.equal(isLockStale(path, holder), false, 'a live holder');
  releaseOnExit(path)();
  assert.equal(existsSync(path), false);
});

test('a dead holder on this host is stale; one on another host never is', () => {
  const path = freshPath();
  const dead = { pid: deadPid(), host: hostname(), startedAt: '2026-01-01T00:00:00Z' };
  writeFileSync(path, JSON.stringify(dead));
  assert.equal(isLockStale(path, readLockHolder(path)), true);
  assert.equal(isLockStale(path, { ...dead, host: 'other-host.example' }), false);
});

test('a lock without a readable holder is being written for a minute, then abandoned', () => {
  const path = freshPath();
  writeFileSync(path, '');
  assert.equal(readLockHolder(path), undefined);
  assert.equal(isLockStale(path, undefined), false);
  const old = new Date(Date.now() - 61_000);
  utimesSync(path, old, old);
  assert.equal(isLockStale(path, undefined), true);
});

test('two takers of one stale lock: the second does not remove the lock the first took meanwhile', () => {
  const path = freshPath();
  const stale = { pid: deadPid(), host: hostname(), startedAt: '2026-01-01T00:00:00Z' };
  writeFileSync(path, JSON.stringify(stale));
  // Both judge the same stale holder...
  const seenByFirst = readLockHolder(path);
  const seenBySecond = readLockHolder(path);
  assert.equal(isLockStale(path, seenByFirst), true);
  assert.equal(isLockStale(path, seenBySecond), true);
  // ...the first takes it over and locks...
  takeOverStaleLock(path, seenByFirst);
  assert.equal(tryCreateLock(path), true);
  const live = readLockHolder(path)!;
  // ...and the second, late, must leave that live lock in place.
  takeOverStaleLock(path, seenBySecond);
  assert.deepEqual(readLockHolder(path), live);
  assert.equal(tryCreateLock(path), false);
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.includes('.stale-')),
    [],
    'nothing left aside',
  );
  releaseOnExit(path)();
});

test("release leaves a lock that is no longer this process's", () => {
  const path = freshPath();
  assert.equal(tryCreateLock(path), true);
  const release = releaseOnExit(path);
  const other = { pid: process.pid + 1, host: hostname(), startedAt: new Date().toISOString() };
  writeFileSync(path, JSON.stringify(other));
  release();
  assert.deepEqual(readLockHolder(path), other);
});
