import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../redact/secret.js';
import { createKeychainBackend, type KeyringEntry } from './keychain-backend.js';

/** Entries that fail as the keyring crate does (its errors arrive as message text). */
function failing(message: string): () => KeyringEntry {
  const fail = async (): Promise<never> => {
    throw new Error(message);
  };
  return () => ({ getPassword: fail, setPassword: fail, deletePassword: fail });
}

test('service pgwarden, account <env>; empty entries read as absent', async () => {
  const seen: string[] = [];
  const values = new Map<string, string>();
  const backend = createKeychainBackend({
    openEntry: (service, account) => {
      seen.push(`${service}/${account}`);
      return {
        getPassword: async () => values.get(account) ?? null,
        setPassword: async (pw) => void values.set(account, pw),
        deletePassword: async () => values.delete(account),
      };
    },
  });
  assert.equal(await backend.get('prod'), undefined);
  await backend.set('prod', new Secret('the-password-123'));
  assert.equal((await backend.get('prod'))?.reveal(), 'the-password-123');
  values.set('blank', '');
  assert.equal(await backend.get('blank'), undefined);
  assert.equal(await backend.delete('prod'), true);
  assert.deepEqual([...new Set(seen)], ['pgwarden/prod', 'pgwarden/blank']);
});

test('keyring failures become coded errors with a fix', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ["Couldn't access platform storage: no dbus", 'PGW_CREDS_STORE_UNAVAILABLE', /--store file/],
    ['The unlock prompt was dismissed', 'PGW_CREDS_STORE_LOCKED', /Unlock the login keychain/],
    ['Collection is locked', 'PGW_CREDS_STORE_LOCKED', /Unlock/],
    ['something else', 'PGW_CREDS_STORE_UNAVAILABLE', /secret-tool search service pgwarden/],
  ];
  for (const [message, code, fix] of cases) {
    const backend = createKeychainBackend({ openEntry: failing(message) });
    await assert.rejects(backend.get('prod'), (error: Error & { code: string; fix: string }) => {
      assert.equal(error.code, code, message);
      assert.match(error.fix, fix);
      return true;
    });
  }
  await assert.rejects(
    createKeychainBackend({ openEntry: failing('boom') }).set('x', new Secret('y'.repeat(20))),
    {
      code: 'PGW_CREDS_STORE_WRITE_FAILED',
    },
  );
});
