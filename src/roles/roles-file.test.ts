import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRolesFile } from './roles-file.js';

const rejects = (text: string, code: string, pattern: RegExp): void => {
  assert.throws(
    () => parseRolesFile(text, 'r.yaml'),
    (error: Error & { code: string }) => {
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      return true;
    },
  );
};

test('a full file parses with defaults; dates become UTC timestamps; durations are normalised', () => {
  const file = parseRolesFile(`
database: app
groups:
  app_rw: { preset: app, schemas: [public, billing] }
logins:
  app_user:
    groups: [app_rw]
    statement_timeout: 30 s
    lock_timeout: 500
    valid_until: 2026-12-31
    password: { creds: prod }
`);
  assert.equal(file.version, 1);
  assert.equal(file.revoke_public, true);
  assert.deepEqual(file.lock_databases, []);
  assert.deepEqual(file.logins.app_user, {
    groups: ['app_rw'],
    statement_timeout: '30s',
    lock_timeout: '500',
    valid_until: '2026-12-31T00:00:00Z',
    password: { creds: 'prod' },
    attributes: [],
  });
});

test('names that need quotes, even injection attempts, are accepted as names', () => {
  const file = parseRolesFile(`logins:\n  'x"; DROP TABLE t; --': {}\n  "Mixed Case": {}\n`);
  assert.deepEqual(Object.keys(file.logins), ['x"; DROP TABLE t; --', 'Mixed Case']);
});

test('errors carry the file, line and column', () => {
  rejects(
    'groups:\n  g:\n    preset: admin\n    schemas: [public]\n',
    'PGW_ROLES_FILE_INVALID',
    /^r\.yaml:3:13: groups\.g\.preset: /,
  );
  rejects('groups:\n  g: { preset: app }\n', 'PGW_ROLES_FILE_INVALID', /^r\.yaml:2:6: groups\.g\.schemas: /);
  rejects(
    'logins:\n  u:\n    color: red\n',
    'PGW_ROLES_FILE_INVALID',
    /^r\.yaml:3:5: logins\.u: unknown key "color"/,
  );
  rejects('logins:\n  u: {}\n  u: {}\n', 'PGW_ROLES_FILE_INVALID', /^r\.yaml:3:3: Map keys must be unique/);
  rejects('logins:\n  u: { groups: [g] }\n', 'PGW_ROLES_FILE_INVALID', /^r\.yaml:2:17: .*"g" is not a group/);
  rejects(
    `logins:\n  ${'a'.repeat(64)}: {}\n`,
    'PGW_ROLES_FILE_INVALID',
    /^r\.yaml:2:3: .*longer than 63 bytes/,
  );
  rejects(
    'groups:\n  x: { preset: app, schemas: [public] }\nlogins:\n  x: {}\n',
    'PGW_ROLES_FILE_INVALID',
    /^r\.yaml:4:3: "x" is both a group and a login/,
  );
  rejects(
    'logins:\n  u: { connection_limit: many }\n',
    'PGW_ROLES_FILE_INVALID',
    /^r\.yaml:2:26: logins\.u\.connection_limit/,
  );
  rejects('version: 2\n', 'PGW_ROLES_FILE_INVALID', /^r\.yaml:1:10: version/);
  rejects('- a\n- b\n', 'PGW_ROLES_FILE_INVALID', /^r\.yaml:1:1: /);
});

test('SUPERUSER, BYPASSRLS, REPLICATION and CREATEROLE are refused where they are written', () => {
  for (const attribute of ['SUPERUSER', 'BYPASSRLS', 'REPLICATION', 'CREATEROLE']) {
    rejects(
      `groups:\n  g:\n    preset: app\n    schemas: [public]\n    attributes: [CREATEDB, ${attribute}]\n`,
      'PGW_ROLES_FORBIDDEN_ATTRIBUTE',
      new RegExp(`^r\\.yaml:5:28: groups\\.g asks for ${attribute}`),
    );
  }
  assert.deepEqual(parseRolesFile('logins:\n  u: { attributes: [CREATEDB] }\n').logins.u?.attributes, [
    'CREATEDB',
  ]);
});

test('tables: narrows an app or readonly group; on a migrator it is refused at its line and column', () => {
  const file = parseRolesFile(`
groups:
  orders_rw: { preset: app, schemas: [public], tables: [users, orders] }
`);
  assert.deepEqual(file.groups.orders_rw?.tables, ['users', 'orders']);
  rejects(
    `groups:\n  owner:\n    preset: migrator\n    schemas: [app]\n    tables: [users]\n`,
    'PGW_ROLES_FILE_INVALID',
    /^r\.yaml:5:5: groups\.owner\.tables: a migrator owns every object/,
  );
  rejects(
    `groups:\n  ro: { preset: readonly, schemas: [public], tables: [] }\n`,
    'PGW_ROLES_FILE_INVALID',
    /groups\.ro\.tables/,
  );
});
