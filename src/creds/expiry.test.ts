import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toCredentialEnvironment } from './environment.js';
import { checkExpiry } from './expiry.js';
import { exportEnvironment, assertExportFormat } from './export.js';
import { Secret } from '../redact/secret.js';

const now = new Date('2025-06-01T00:00:00Z');
const env = (name: string, expires?: string) =>
  toCredentialEnvironment(name, {
    user: 'u',
    ...(expires ? { expires_at: expires, updated_at: '2025-01-01T00:00:00Z' } : {}),
  });

test('checkExpiry groups expired, expiring within 14 days, healthy and without expiry', () => {
  const report = checkExpiry(
    [
      env('old', '2025-05-29T00:00:00Z'),
      env('edge', '2025-06-01T00:00:00Z'),
      env('soon', '2025-06-10T12:00:00Z'),
      env('fine', '2025-08-01T00:00:00Z'),
      env('forever'),
    ],
    { now },
  );
  assert.equal(report.ok, false);
  assert.deepEqual(
    report.expired.map((e) => [e.name, e.daysLeft]),
    [
      ['old', -3],
      ['edge', 0],
    ],
  );
  assert.deepEqual(
    report.expiring.map((e) => [e.name, e.daysLeft]),
    [['soon', 10]],
  );
  assert.deepEqual(
    report.healthy.map((e) => e.name),
    ['fine'],
  );
  assert.deepEqual(
    report.noExpiry.map((e) => e.name),
    ['forever'],
  );
  assert.equal(checkExpiry([env('fine', '2025-08-01T00:00:00Z')], { now, warnDays: 90 }).expiring.length, 1);
  assert.equal(checkExpiry([], { now }).ok, true);
});

test('export formats; the password only when given', () => {
  const e = toCredentialEnvironment('prod', {
    host: 'db.example.com',
    port: 5432,
    database: 'app db',
    user: 'app@corp',
    sslmode: 'verify-full',
    sslrootcert: '/etc/ssl/ca.pem',
  });
  assert.equal(
    exportEnvironment(e, 'uri'),
    'postgresql://app%40corp@db.example.com:5432/app%20db?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fca.pem\n',
  );
  const pw = new Secret("p'w:@/x");
  assert.match(exportEnvironment(e, 'uri', pw), /^postgresql:\/\/app%40corp:p'w%3A%40%2Fx@db/);
  // Exported and always single-quoted: `eval "$(pgwarden creds export …)"` sets them for child processes.
  assert.equal(
    exportEnvironment(e, 'env', pw),
    "export PGHOST='db.example.com'\nexport PGPORT='5432'\nexport PGDATABASE='app db'\nexport PGUSER='app@corp'\nexport PGSSLMODE='verify-full'\nexport PGSSLROOTCERT='/etc/ssl/ca.pem'\nexport PGPASSWORD='p'\\''w:@/x'\n",
  );
  assert.equal(
    exportEnvironment(e, 'dotenv', { passfile: '/run/app/pgpass' }),
    "PGHOST='db.example.com'\nPGPORT='5432'\nPGDATABASE='app db'\nPGUSER='app@corp'\nPGSSLMODE='verify-full'\nPGSSLROOTCERT='/etc/ssl/ca.pem'\nPGPASSFILE='/run/app/pgpass'\n",
  );
  assert.match(exportEnvironment(e, 'dotenv', pw), /\nPGPASSWORD="p'w:@\/x"\n$/);
  assert.deepEqual(JSON.parse(exportEnvironment(e, 'json')), {
    host: 'db.example.com',
    port: 5432,
    database: 'app db',
    user: 'app@corp',
    sslmode: 'verify-full',
    sslrootcert: '/etc/ssl/ca.pem',
  });
  assert.equal(JSON.parse(exportEnvironment(e, 'json', pw)).password, "p'w:@/x");
  assert.throws(() => assertExportFormat('yaml'), { code: 'PGW_CREDS_INVALID', option: '--format' });
});

test('dotenv and shell quoting read back exactly, whatever the value holds', async () => {
  const { dotenvQuote, shellQuote } = await import('./export.js');
  const { parseDotenv } = await import('../secrets/dotenv-parser.js');
  for (const value of [
    'plain',
    "it's",
    'a"b',
    'x$(id)`id`',
    'back\\slash',
    'two\nlines\r',
    'all \' " $ \\ \n #',
  ]) {
    assert.equal(parseDotenv(`V=${dotenvQuote(value)}\n`).get('V'), value, JSON.stringify(value));
    assert.match(shellQuote(value), /^'.*'$/s);
  }
});
