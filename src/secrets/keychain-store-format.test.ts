import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  emptyKeychainStore,
  KeychainStoreFormatError,
  parseKeychainStore,
  pgwardenHome,
  serializeKeychainStore,
} from './keychain-store-format.js';

describe('credentials.json format', () => {
  test('round-trips a full environment entry', () => {
    const store = {
      version: 1 as const,
      environments: {
        prod: {
          host: 'db.example.com',
          port: 5432,
          database: 'app',
          user: 'app_user',
          sslmode: 'verify-full' as const,
          sslrootcert: '/etc/ssl/rds-ca.pem',
          production: true,
          updated_at: '2025-01-31T10:00:00Z',
          expires_at: '2025-05-01T10:00:00+02:00',
        },
      },
    };
    const text = serializeKeychainStore(store);
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(parseKeychainStore(text), store);
    assert.deepEqual(parseKeychainStore(serializeKeychainStore(emptyKeychainStore())).environments, {});
  });

  test('unknown fields are ignored for forward compatibility', () => {
    const parsed = parseKeychainStore('{"version":1,"environments":{"dev":{"user":"u","color":"blue"}}}');
    assert.deepEqual(parsed.environments.dev, { user: 'u' });
  });

  test('refuses secret-looking keys, bad JSON, newer versions and bad values, naming the place only', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"version":1,"environments":{"prod":{"password":"hunter2-value"}}}', /environments\.prod\.password/],
      ['{"version":1,"environments":{"prod":{"db_token":"hunter2-value"}}}', /db_token/],
      ['{"version":1,', /not valid JSON/],
      ['{"version":2,"environments":{}}', /version/],
      ['{"version":1,"environments":{"prod":{"port":"hunter2-value"}}}', /environments\.prod\.port/],
      ['{"version":1,"environments":{"prod":{"sslmode":"hunter2-value"}}}', /sslmode/],
      ['{"version":1,"environments":{"a/../b":{}}}', /environments/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(
        () => parseKeychainStore(text),
        (e: Error) =>
          e instanceof KeychainStoreFormatError && pattern.test(e.message) && !e.message.includes('hunter2'),
      );
    }
    // An environment may itself be called "tokens".
    assert.doesNotThrow(() => parseKeychainStore('{"version":1,"environments":{"tokens":{}}}'));
  });

  test('PGWARDEN_HOME, else XDG_CONFIG_HOME/pgwarden, else ~/.config/pgwarden', () => {
    assert.equal(pgwardenHome({ PGWARDEN_HOME: '/srv/pgw' }), '/srv/pgw');
    assert.equal(pgwardenHome({ XDG_CONFIG_HOME: '/x' }), join('/x', 'pgwarden'));
    assert.equal(pgwardenHome({ HOME: '/home/a' }), join('/home/a', '.config', 'pgwarden'));
  });
});
