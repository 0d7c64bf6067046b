import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { redact, redactValue } from './redactor.js';
import { Secret } from './secret.js';

test('shapes of secrets are redacted', () => {
  const cases: Array<[string, string]> = [
    ['postgresql://app:hunter2hunter2@db:5432/x', 'hunter2hunter2'],
    ['host=db password=s3cr3t-value user=app', 's3cr3t-value'],
    ["password='quoted secret' host=x", 'quoted secret'],
    ['{"password":"json-secret-1"}', 'json-secret-1'],
    ['Authorization: Bearer abcdefghijklmnop', 'abcdefghijklmnop'],
    ['token hvs.CAESIJ0123456789abcdefghijklmnop', 'hvs.CAESIJ0123456789abcdefghijklmnop'],
    ['-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----', 'MIIEvQIBADANBg'],
    [
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhk\n-----END ENCRYPTED PRIVATE KEY-----',
      'MIIFHDBOBgkqhk',
    ],
  ];
  for (const [input, secret] of cases) {
    const out = redact(input);
    assert.ok(!out.includes(secret), `${input} → ${out}`);
    assert.match(out, /redacted/);
  }
});

test('exact values of Secrets are redacted wherever they appear, also URL-encoded', () => {
  const value = 'canary-4b1d-P@ss/w0rd!';
  new Secret(value);
  assert.equal(redact(`authentication failed: ${value}`), 'authentication failed: [redacted]');
  assert.ok(!redact(`x ${encodeURIComponent(value)} y`).includes(encodeURIComponent(value)));
});

test('Secret never prints its value', () => {
  const s = new Secret('canary-secret-value-1');
  for (const text of [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ nested: { s } })]) {
    assert.ok(!text.includes('canary-secret-value-1'), text);
  }
  assert.equal(s.reveal(), 'canary-secret-value-1');
});

test('redactValue replaces secret-named keys and walks nested values without cycles', () => {
  const obj: Record<string, unknown> = {
    user: 'app',
    password: 'x',
    nested: { apiKey: 'k', list: ['password=abc123xyz'] },
  };
  obj.self = obj;
  const out = redactValue(obj) as Record<string, unknown>;
  assert.equal(out.password, '[redacted]');
  assert.equal((out.nested as Record<string, unknown>).apiKey, '[redacted]');
  assert.ok(!JSON.stringify(out).includes('abc123xyz'));
  assert.equal(out.self, '[circular]');
  assert.equal(out.user, 'app');
});

test('a weak password is not matched bare: ordinary words of a report survive (issue 12, item 10)', async () => {
  const { trackedSecretCount } = await import('./redactor.js');
  const before = trackedSecretCount();
  for (const weak of [
    'postgres',
    'Postgres',
    'app_user1',
    'password123',
    'db.example.com',
    '5432',
    '2026-12-01',
  ])
    new Secret(weak);
  assert.equal(trackedSecretCount(), before);
  const report = 'Superuser(s): postgres. See https://www.postgresql.org/docs/15/ (app_user1 on port 5432)';
  assert.equal(redact(report), report);
  // Where a password really sits in text, its shape gives it away whatever its value.
  assert.equal(redact('postgresql://app:postgres@db/x'), 'postgresql://app:[redacted]@db/x');
  assert.equal(redact('host=db password=postgres'), 'host=db password=[redacted]');
  assert.equal(redact('{"password":"postgres"}'), '{"password":[redacted]}');
  // Values that could not be ordinary text are still matched anywhere.
  for (const strong of ['hunter2hunter2', 's3cr3t-value', 'Xk9#fQ2m', 'correct-horse-battery-staple'])
    new Secret(strong);
  assert.equal(
    redact('x hunter2hunter2 s3cr3t-value Xk9#fQ2m correct-horse-battery-staple'),
    'x [redacted] [redacted] [redacted] [redacted]',
  );
});

test('"password: Invalid input" is prose, not a key=value pair', () => {
  assert.equal(redact('password: Invalid input'), 'password: Invalid input');
  assert.equal(redact('ERROR: token: Expired at 10:00'), 'ERROR: token: Expired at 10:00');
  // Still pairs: =, quoted values, a value that ends the line or is followed by a delimiter.
  assert.equal(redact('password: hunter2'), 'password: [redacted]');
  assert.equal(redact('password: Hunter\nnext'), 'password: [redacted]\nnext');
  assert.equal(redact('password=Invalid input'), 'password=[redacted] input');
  assert.equal(redact("password: 'Invalid input'"), 'password: [redacted]');
  assert.equal(redact('password: s3cret, user: app'), 'password: [redacted], user: app');
});

test('a retired Secret is no longer matched; another Secret of the same value keeps it', async () => {
  const { trackedSecretCount } = await import('./redactor.js');
  const before = trackedSecretCount();
  const value = 'canary-retire-Pw!-0123456789';
  const a = new Secret(value);
  const b = new Secret(value);
  assert.equal(trackedSecretCount(), before + 1);
  a.retire();
  a.retire();
  assert.equal(redact(value), '[redacted]');
  assert.equal(a.reveal(), value);
  b.retire();
  assert.equal(redact(value), value);
  assert.equal(trackedSecretCount(), before);
});
