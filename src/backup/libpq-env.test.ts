// What pg_dump and pg_restore receive: the connection as libpq variables,
// the password only in a 0600 passfile, unlinked and handed over as a
// descriptor on Linux, stray PG* variables removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../config/resolve.js';
import { spawnSyncChild } from '../process/child-process.js';
import { libpqEnvironment, passfileLine } from './libpq-env.js';

test('passfile lines escape ":" and "\\\\" and refuse line breaks', () => {
  assert.equal(passfileLine('a:b\\c'), '*:*:*:*:a\\:b\\\\c\n');
  assert.throws(() => passfileLine('two\nlines'), { code: 'PGW_CONFIG_INVALID' });
});

const password = 'pw:with\\odd-chars-1234';
const url = `postgres://app:${encodeURIComponent(password)}@db.internal:6543/appdb?sslmode=require&application_name=nightly`;

test('connection variables, no PGPASSWORD, nothing but libpq variables', () => {
  const { config } = resolveConfig({ url, env: {} });
  const session = libpqEnvironment(config);
  try {
    const env = session.env;
    assert.equal(env.PGHOST, 'db.internal');
    assert.equal(env.PGPORT, '6543');
    assert.equal(env.PGUSER, 'app');
    assert.equal(env.PGDATABASE, 'appdb');
    assert.equal(env.PGSSLMODE, 'require');
    assert.equal(env.PGAPPNAME, 'nightly');
    assert.equal(env.PGPASSWORD, undefined);
    // Only libpq variables: PATH, HOME and locale are added by spawnChild's allow-list.
    assert.deepEqual(
      Object.keys(env).filter((key) => !key.startsWith('PG')),
      [],
    );
    assert.ok(!Object.values(env).some((value) => value.includes(password)));
  } finally {
    session.dispose();
  }
});

test('files mode: a 0600 passfile in a pgwarden-libpq-<pid>- directory, removed on dispose', () => {
  const { config } = resolveConfig({ url, env: {} });
  const tmp = mkdtempSync(join(tmpdir(), 'pgw-libpq-test-'));
  try {
    const session = libpqEnvironment(config, { secretFiles: 'files', tmpDir: tmp });
    const passfile = session.env.PGPASSFILE!;
    assert.ok(passfile.startsWith(join(tmp, `pgwarden-libpq-${process.pid}-`)), passfile);
    assert.equal(statSync(passfile).mode & 0o777, 0o600);
    assert.equal(readFileSync(passfile, 'utf8'), passfileLine(password));
    assert.deepEqual(session.stdio(['ignore', 'pipe', 'pipe']), ['ignore', 'pipe', 'pipe']);
    session.dispose();
    assert.deepEqual(readdirSync(tmp), []);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('descriptors mode: nothing on disk by name; the child reads the passfile at /dev/fd/3, a 0600 regular file', (t) => {
  if (process.platform !== 'linux') return t.skip('descriptors are the Linux mechanism');
  const { config } = resolveConfig({ url, env: {} });
  const tmp = mkdtempSync(join(tmpdir(), 'pgw-libpq-test-'));
  try {
    const session = libpqEnvironment(config, { tmpDir: tmp });
    assert.equal(session.env.PGPASSFILE, '/dev/fd/3');
    assert.deepEqual(readdirSync(tmp), [], 'a file or directory has a name');
    const child = spawnSyncChild(
      '/bin/sh',
      ['-c', 'stat -L -c "%F %a" "$PGPASSFILE"; cat "$PGPASSFILE"; cat "$PGPASSFILE"'],
      { set: session.env, stdio: session.stdio(['ignore', 'pipe', 'pipe']), encoding: 'utf8' },
    );
    assert.equal(child.status, 0, String(child.stderr));
    // Read twice from the start: every connection (and pg_restore -j worker) reads it whole.
    assert.equal(child.stdout, `regular file 600\n${passfileLine(password)}${passfileLine(password)}`);
    session.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('without a password the passfile is empty, so a ~/.pgpass cannot interfere', () => {
  const { config } = resolveConfig({ url: 'postgres://app@localhost/appdb', env: {} });
  const tmp = mkdtempSync(join(tmpdir(), 'pgw-libpq-test-'));
  try {
    const session = libpqEnvironment(config, { secretFiles: 'files', tmpDir: tmp });
    assert.equal(readFileSync(session.env.PGPASSFILE!, 'utf8'), '');
    assert.equal(session.env.PGAPPNAME, 'pgwarden-backup');
    session.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
