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
