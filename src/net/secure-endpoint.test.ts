import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeEndpoint, judgeResolvedEndpoint, requireSecureEndpoint } from './secure-endpoint.js';

const context = { option: 'VAULT_ADDR', service: 'Vault' };

test('https anywhere; plain http on 127.0.0.1, ::1 and localhost only', () => {
  for (const ok of [
    'https://vault.example.com:8200',
    'https://10.0.0.5',
    'http://127.0.0.1:8200',
    'http://localhost:8200',
    'http://LOCALHOST:8200',
    'http://[::1]:8200/',
  ]) {
    assert.equal(judgeEndpoint(ok, context).ok, true, ok);
  }
  for (const [bad, kind] of [
    ['http://vault.example.com:8200', 'insecure'],
    ['http://10.0.0.5:8200', 'insecure'],
    // Loopback, but not one of the three names: the rule is an exact list.
    ['http://127.0.0.2:8200', 'insecure'],
    ['http://localhost.example.com', 'insecure'],
    ['ftp://vault.example.com', 'scheme'],
    ['vault.example.com:8200', 'scheme'],
    ['not a url', 'malformed'],
    ['', 'malformed'],
    ['https://user:pw@vault.example.com', 'credentials'],
  ] as const) {
    const verdict = judgeEndpoint(bad, context);
    assert.equal(verdict.ok, false, bad);
    if (!verdict.ok) {
      assert.equal(verdict.problem.kind, kind, bad);
      assert.match(verdict.problem.message, /^VAULT_ADDR /);
      assert.doesNotMatch(verdict.problem.message, /pw@/);
    }
  }
});

test('the message names the host and never the path or query, which may hold a token', () => {
  const verdict = judgeEndpoint('http://hooks.example.com/services/T0/B0/tok3n-secret?k=v', {
    option: '--webhook',
    service: 'the webhook receiver',
    refuseCredentials: false,
  });
  assert.equal(verdict.ok, false);
  if (!verdict.ok) {
    assert.match(verdict.problem.message, /plain http:\/\/hooks\.example\.com:/);
    assert.doesNotMatch(verdict.problem.message, /tok3n|services|k=v/);
  }
});

test('a resolved endpoint is judged from its parts (as an SDK request carries them)', () => {
  assert.equal(
    judgeResolvedEndpoint({ protocol: 'https:', hostname: 'kms.us-east-1.amazonaws.com' }, context).ok,
    true,
  );
  assert.equal(
    judgeResolvedEndpoint({ protocol: 'http:', hostname: '127.0.0.1', port: 4566 }, context).ok,
    true,
  );
  assert.equal(judgeResolvedEndpoint({ protocol: 'http:', hostname: '::1', port: 4566 }, context).ok, true);
  assert.equal(judgeResolvedEndpoint({ protocol: 'http', hostname: '192.0.2.1' }, context).ok, false);
});

test('requireSecureEndpoint throws the caller error built from the problem', () => {
  assert.throws(
    () => requireSecureEndpoint('http://192.0.2.1', context, (p) => new RangeError(`${p.kind}: ${p.fix}`)),
    /insecure: Use the https:\/\/ address of Vault/,
  );
});
