import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { assertNoCanary, canary } from '../../test/support/canary.js';
import type { SecretError } from '../errors.js';
import { credentialsFromObject, RDS_SECRET_FIELDS } from './credential-fields.js';

const where = { backend: 'test', where: 'secret x' };

describe('credentialsFromObject', () => {
  test('reads the RDS format, with the port as number or numeric string', () => {
    const pw = canary();
    const object = {
      username: 'app',
      password: pw,
      host: 'db',
      port: '5433',
      dbname: 'd',
      engine: 'postgres',
    };
    const c = credentialsFromObject(object, RDS_SECRET_FIELDS, where);
    assert.deepEqual(
      { ...c, password: c.password?.reveal() },
      { user: 'app', password: pw, host: 'db', port: 5433, database: 'd' },
    );
    assert.equal(credentialsFromObject({ password: pw, port: 5432 }, RDS_SECRET_FIELDS, where).port, 5432);
  });

  test('errors name fields and present keys, never values', () => {
    const pw = canary();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ username: pw }, 'PGW_SECRET_FIELD_MISSING'],
      [{ password: '', DB_PASS: pw }, 'PGW_SECRET_FIELD_MISSING'],
      [{ password: 12345678 }, 'PGW_SECRET_MALFORMED'],
      [{ password: pw, port: 'abc' }, 'PGW_SECRET_MALFORMED'],
      [{ password: pw, port: 70000 }, 'PGW_SECRET_MALFORMED'],
      [{ password: pw, username: { nested: pw } }, 'PGW_SECRET_MALFORMED'],
    ];
    for (const [object, code] of cases) {
      assert.throws(
        () => credentialsFromObject(object, RDS_SECRET_FIELDS, where),
        (e: SecretError) => {
          assert.equal(e.code, code);
          for (const text of [e.message, String(e), JSON.stringify(e), inspect(e)]) assertNoCanary(text, pw);
          return true;
        },
      );
    }
    assert.throws(
      () => credentialsFromObject({ DB_PASS: 'x' }, RDS_SECRET_FIELDS, where),
      /keys present: "DB_PASS"/,
    );
  });

  test('field lists are tried in order', () => {
    const fields = {
      ...RDS_SECRET_FIELDS,
      password: ['DB_PASSWORD', 'password'],
      user: ['DB_USER', 'username'],
    };
    const c = credentialsFromObject(
      { password: 'b-pass', DB_PASSWORD: 'a-pass', username: 'u2', DB_USER: 'u1' },
      fields,
      where,
    );
    assert.equal(c.password?.reveal(), 'a-pass');
    assert.equal(c.user, 'u1');
  });
});
