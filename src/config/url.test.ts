import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatabaseUrl } from './url.js';

test('libpq URL forms', () => {
  const a = parseDatabaseUrl(
    'postgresql://us%40er:p%40ss%3Aw@[::1]:6543/my%20db?sslmode=verify-ca&application_name=x&connect_timeout=5',
    'url',
  );
  assert.deepEqual(a.values, {
    host: '::1',
    port: '6543',
    user: 'us@er',
    password: 'p@ss:w',
    database: 'my db',
    sslMode: 'verify-ca',
    applicationName: 'x',
    connectionTimeoutMs: 5000,
  });
  const b = parseDatabaseUrl('postgres:///db?host=/var/run/postgresql', 'url');
  assert.equal(b.values.host, '/var/run/postgresql');
  assert.equal(b.values.database, 'db');
  const c = parseDatabaseUrl('postgres://h/db?ssl=true', 'url');
  assert.equal(c.values.sslMode, 'verify-full');
});

test('multi-host URLs, as libpq writes them', () => {
  const a = parseDatabaseUrl(
    'postgresql://u:p@db1:5432,db2:5433,[::1]/app?target_session_attrs=read-write',
    'url',
  );
  assert.equal(a.values.host, 'db1,db2,::1');
  assert.equal(a.values.port, '5432,5433,');
  assert.equal(a.values.targetSessionAttrs, 'read-write');
  assert.equal(a.values.user, 'u');
  assert.equal(a.values.database, 'app');
});
