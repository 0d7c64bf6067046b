import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storePassphraseVariable } from '../config/store-passphrase-variable.js';
import { storePassphraseFromEnv } from './encrypted-store-reader.js';

const CASES: Array<[Record<string, string>, string | undefined]> = [
  [{}, undefined],
  [{ PGWARDEN_STORE_PASSPHRASE: 'canary-pass' }, 'PGWARDEN_STORE_PASSPHRASE'],
  [{ PGWARDEN_STORE_PASSPHRASE_FILE: '/run/secrets/p' }, 'PGWARDEN_STORE_PASSPHRASE_FILE'],
  [
    { PGWARDEN_STORE_PASSPHRASE_FILE: '/run/secrets/p', PGWARDEN_STORE_PASSPHRASE: 'canary-pass' },
    'PGWARDEN_STORE_PASSPHRASE_FILE',
  ],
  // An empty value is unset (Compose and Helm render an unset value as "").
  [
    { PGWARDEN_STORE_PASSPHRASE_FILE: '', PGWARDEN_STORE_PASSPHRASE: 'canary-pass' },
    'PGWARDEN_STORE_PASSPHRASE',
  ],
  [{ PGWARDEN_STORE_PASSPHRASE: '' }, undefined],
];

test('the file variable wins, and an empty value counts as unset', () => {
  for (const [env, expected] of CASES)
    assert.equal(storePassphraseVariable(env), expected, JSON.stringify(env));
});

test('the store reader takes the passphrase from the variable the policy judges', () => {
  for (const [env, expected] of CASES) {
    const read = storePassphraseFromEnv(env);
    assert.equal(read?.from, expected, JSON.stringify(env));
    if (read?.from === 'PGWARDEN_STORE_PASSPHRASE_FILE') assert.equal(read.path, '/run/secrets/p');
    if (read?.from === 'PGWARDEN_STORE_PASSPHRASE') assert.equal(read.value.reveal(), 'canary-pass');
  }
});
