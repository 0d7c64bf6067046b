// What pg_dump and pg_restore receive: the connection as libpq variables,
// the password only in a 0600 passfile, stray PG* variables removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolveConfig } from '../config/resolve.js';
import { libpqEnvironment, passfileLine } from './libpq-env.js';

test('passfile lines escape ":" and "\\\\" and refuse line breaks', () => {
  assert.equal(passfileLine('a:b\\c'), '*:*:*:*:a\\:b\\\\c\n');
  assert.throws(() => passfileLine('two\nlines'), { code: 'PGW_CONFIG_INVALID' });
});

test('connection variables, a 0600 passfile, no PGPASSWORD, and everything removed on dispose', () => {
  const password = 'pw:with\\odd-chars-1234';
  const { config } = resolveConfig({
    url: `postgres://app:${encodeURIComponent(password)}@db.internal:6543/appdb?sslmode=require&application_name=nightly`,
    env: {},
  });
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
    assert.ok(!Object.values(env).some((value) => value?.includes(password)));
    const passfile = env.PGPASSFILE!;
    assert.equal(statSync(passfile).mode & 0o777, 0o600);
    assert.equal(readFileSync(passfile, 'utf8'), passfileLine(password));
    session.dispose();
    assert.equal(existsSync(passfile), false);
  } finally {
    session.dispose();
  }
});

test('without a password the passfile is /dev/null, so a ~/.pgpass cannot interfere', () => {
  const { config } = resolveConfig({ url: 'postgres://app@localhost/appdb', env: {} });
  const session = libpqEnvironment(config);
  assert.equal(session.env.PGPASSFILE, '/dev/null');
  assert.equal(session.env.PGAPPNAME, 'pgwarden-backup');
  session.dispose();
});
