import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Secret } from '../redact/secret.js';
import {
  parseScramVerifier,
  scramSha256Verifier,
  scramVerifierMatches,
  serverScramIterations,
} from './scram-verifier.js';

test('RFC 7677 test vector: the keys prove the exchange of section 3', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const verifier = scramSha256Verifier('pencil', { iterations: 4096, salt });
  const parts = parseScramVerifier(verifier);
  assert.ok(parts);
  assert.equal(parts.iterations, 4096);
  const authMessage =
    'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const serverSignature = createHmac('sha256', parts.serverKey).update(authMessage).digest('base64');
  assert.equal(serverSignature, '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
  const clientSignature = createHmac('sha256', parts.storedKey).update(authMessage).digest();
  const clientKey = Buffer.from(proof.map((byte, i) => byte ^ (clientSignature[i] ?? 0)));
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), parts.storedKey);
});

test('format, random salt, iterations, Secret input', () => {
  const a = scramSha256Verifier(new Secret('correct horse battery'), 10_000);
  const b = scramSha256Verifier('correct horse battery', 10_000);
  assert.match(a, /^SCRAM-SHA-256\$10000:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(a, b, 'each verifier has its own salt');
  assert.ok(scramVerifierMatches(a, 'correct horse battery'));
  assert.ok(scramVerifierMatches(b, new Secret('correct horse battery')));
  assert.ok(!scramVerifierMatches(a, 'correct horse battery!'));
  assert.ok(!scramVerifierMatches('md5abc', 'x'));
  assert.equal(parseScramVerifier('SCRAM-SHA-256$x:y$z'), undefined);
});

test('SASLprep mapping: non-ASCII spaces map to a space, soft hyphens to nothing', () => {
  const v = scramSha256Verifier('pass\u00A0word\u00AD');
  assert.ok(scramVerifierMatches(v, 'pass word'));
});

test('bad input is a coded error', () => {
  assert.throws(() => scramSha256Verifier(''), { code: 'PGW_SQL_INVALID', option: 'password' });
  assert.throws(() => scramSha256Verifier('x', 0), { code: 'PGW_SQL_INVALID', option: 'iterations' });
  assert.throws(() => scramSha256Verifier('x', 1.5), { code: 'PGW_SQL_INVALID' });
});

test('serverScramIterations: the setting where it exists, else 4096', async () => {
  const answer = (rows: Array<Record<string, unknown>>) => ({ query: async () => ({ rows }) });
  assert.equal(await serverScramIterations(answer([{ setting: '10000' }])), 10_000);
  assert.equal(await serverScramIterations(answer([])), 4096);
  assert.equal(await serverScramIterations(answer([{ setting: 'junk' }])), 4096);
});
