// `pgwarden roles plan|apply` against a real cluster: the second apply is a
// no-op, the application role can read and write its tables but cannot
// CREATE in public nor connect to other databases, dangerous attributes and
// malformed files are refused with line and column, names are quoted so an
// injection attempt is just a strange name, and a failing apply changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rolesCommand } from '../../src/cli/commands/roles.js';
import { createKeychainBackend } from '../../src/creds/keychain-backend.js';
import { CredentialStore } from '../../src/creds/store.js';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import { applyRoles } from '../../src/roles/apply.js';
import { parseRolesFile } from '../../src/roles/roles-file.js';
import { keyringSkipReason, startKeyring, type TestKeyring } from '../support/keychain.js';
import { assertNoCanary, canary, startCluster, type Cluster } from '../support/index.js';

const skip = keyringSkipReason();
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const adminPassword = canary();
let keyring: TestKeyring;
let cluster: Cluster;
let dir: string;
let home: string;
let store: CredentialStore;
const savedBus = process.env.DBUS_SESSION_BUS_ADDRESS;
const savedHome = process.env.PGWARDEN_HOME;

const ROLES = `version: 1
database: app
lock_databases: [postgres, other]
groups:
  app_rw: { preset: app, schemas: [public] }
  app_ro: { preset: readonly, schemas: [public] }
logins:
  app_user:
    groups: [app_rw]
    connection_limit: 20
    statement_timeout: 30s
    lock_timeout: 5s
    password: { creds: app-user }
  report_user:
    groups: [app_ro]
    password: { creds: report-user }
  'x"; DROP TABLE items; --':
    groups: [app_ro]
`;

function writeRoles(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function adminUrl(database = 'app'): string {
  return cluster.url({ user: 'admin', password: adminPassword, database, params: { sslmode: 'disable' } });
}

async function capture(
  args: string[],
): Promise<{ status: number; out: string; err: string; error?: Error & { code?: string } }> {
  let out = '';
  let err = '';
  try {
    const status = await rolesCommand(args, {
      out: (t) => (out += t),
      err: (t) => (err += t),
      stdin: process.stdin,
    });
    return { status, out, err };
  } catch (error) {
    return { status: -1, out, err, error: error as Error & { code?: string } };
  }
}

async function connectAs(user: string, database = 'app'): Promise<WardenPool> {
  const password = await store.password(user === 'app_user' ? 'app-user' : 'report-user');
  return createPool({
    url: cluster.url({ user, password, database, params: { sslmode: 'disable' } }),
    env: {},
    purpose: 'admin',
    checkRole: false,
  });
}

async function sqlstate(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    const e = error as { sqlstate?: string; code?: string; cause?: { code?: string } };
    return e.sqlstate ?? e.cause?.code ?? e.code;
  }
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pgw-roles-'));
  home = join(dir, 'pgwarden');
  [keyring, cluster] = await Promise.all([
    startKeyring(),
    startCluster({ hba: ['host all all 127.0.0.1/32 scram-sha-256'] }),
  ]);
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.PGWARDEN_HOME = home;
  store = new CredentialStore({ home, env: {} });
  await cluster.createRole('admin', { password: adminPassword, attributes: 'LOGIN SUPERUSER' });
  await cluster.createRole('helper', { password: adminPassword, attributes: 'LOGIN CREATEROLE' });
  await cluster.createDatabase('app');
  await cluster.createDatabase('other');
  const setup = await createPool({ url: adminUrl(), env: {}, purpose: 'admin', checkRole: false });
  await setup.query('CREATE TABLE items (id serial PRIMARY KEY, name text)');
  await setup.query('CREATE SCHEMA legacy');
  await setup.query('CREATE TABLE legacy.t (x int)');
  await setup.close();
});

after(async () => {
  if (skip) return;
  for (const [key, value] of [
    ['DBUS_SESSION_BUS_ADDRESS', savedBus],
    ['PGWARDEN_HOME', savedHome],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  const log = cluster?.readLog() ?? '';
  await Promise.all([keyring?.stop(), cluster?.stop()]);
  rmSync(dir, { recursive: true, force: true });
  assertNoCanary(log, adminPassword);
});

describe('pgwarden roles', { skip }, () => {
  test('CLI: plan, apply in one transaction, then the second apply is a no-op', async () => {
    const path = writeRoles('roles.yaml', ROLES);
    const plan = await capture(['plan', '-f', path, '--url', adminUrl('postgres'), '--json']);
    assert.equal(plan.status, 0, plan.error?.message);
    const planned = JSON.parse(plan.out) as {
      database: string;
      changes: number;
      statements: Array<{ sql: string }>;
    };
    assert.equal(planned.database, 'app', 'the file database wins over the URL database');
    assert.ok(planned.changes > 10);
    const sqls = planned.statements.map((s) => s.sql);
    assert.ok(
      sqls.includes(
        `CREATE ROLE "app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 20 PASSWORD '<SCRAM-SHA-256 verifier>' IN ROLE "app_rw"`,
      ),
      sqls.join('\n'),
    );
    assert.ok(sqls.includes('REVOKE ALL ON DATABASE "app" FROM PUBLIC'));
    assert.ok(
      sqls.includes(
        `ALTER DEFAULT PRIVILEGES FOR ROLE "admin" IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app_rw"`,
      ),
    );
    assert.equal(
      (await capture(['plan', '-f', path, '--url', adminUrl(), '--check'])).status,
      1,
      'drift is exit 1 with --check',
    );

    const applied = spawnSync(process.execPath, [...CLI, 'roles', 'apply', '-f', path, '--url', adminUrl()], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, PGWARDEN_HOME: home, ...keyring.env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(applied.status, 0, applied.stderr);
    assert.match(applied.stdout, /✓ applied \d+ statement\(s\) in one transaction to database "app"/);
    assert.match(applied.stdout, /generated password stored as creds environment "app-user"/);
    const generated = (await store.password('app-user')).reveal();
    assertNoCanary(applied.stdout + applied.stderr, generated);
    assertNoCanary(cluster.readLog(), generated);
    assert.equal((await store.get('app-user')).user, 'app_user');

    const again = await capture(['apply', '-f', path, '--url', adminUrl()]);
    assert.equal(again.status, 0);
    assert.match(again.out, /no changes: database "app" already matches/);
    const pool = await createPool({ url: adminUrl(), env: {}, purpose: 'admin', checkRole: false });
    try {
      const report = await applyRoles(pool, parseRolesFile(ROLES), { store });
      assert.deepEqual(report.applied, []);
      const [row] = await pool
        .query<{ rolconnlimit: number; setconfig: string[] }>(
          `SELECT rolconnlimit, (SELECT setconfig FROM pg_db_role_setting WHERE setrole = r.oid) FROM pg_roles r WHERE rolname = 'app_user'`,
        )
        .then((r) => r.rows);
      assert.deepEqual(row, { rolconnlimit: 20, setconfig: ['statement_timeout=30s', 'lock_timeout=5s'] });
    } finally {
      await pool.close();
    }
  });

  test('the app role reads and writes its tables, and future ones; cannot CREATE in public or reach other databases', async () => {
    const app = await connectAs('app_user');
    try {
      await app.query(`INSERT INTO items (name) VALUES ('a')`);
      await app.query(`UPDATE items SET name = 'b'`);
      assert.equal((await app.query('SELECT count(*)::int AS n FROM items')).rows[0]?.n, 1);
      await app.query('DELETE FROM items');
      assert.equal(await sqlstate(() => app.query('CREATE TABLE mine (x int)')), '42501');
      assert.equal(
        await sqlstate(() => app.query('SELECT * FROM legacy.t')),
        '42501',
        'schemas outside the file stay closed',
      );
      assert.equal(await sqlstate(() => app.query('TRUNCATE items')), '42501');
      // A table created later by the owner role gets the preset through default privileges.
      await cluster.adminQuery('SELECT 1');
      const admin = await createPool({ url: adminUrl(), env: {}, purpose: 'admin', checkRole: false });
      await admin.query('CREATE TABLE later (x int)');
      await admin.close();
      await app.query('INSERT INTO later VALUES (1)');
    } finally {
      await app.close();
    }
    for (const database of ['postgres', 'other']) {
      const code = await sqlstate(() => connectAs('app_user', database));
      // 42501 insufficient_privilege: "permission denied for database", not a wrong password.
      assert.equal(code, '42501', `connecting to ${database} must be refused by CONNECT, got ${code}`);
    }
    const reader = await connectAs('report_user');
    try {
      await reader.query('SELECT * FROM items');
      assert.equal(await sqlstate(() => reader.query(`INSERT INTO items (name) VALUES ('x')`)), '42501');
    } finally {
      await reader.close();
    }
  });

  test('an injection attempt in a name is only a name', async () => {
    const rows = await cluster.adminQuery<{ rolname: string }>(
      `SELECT rolname FROM pg_roles WHERE rolname LIKE 'x"%'`,
    );
    assert.deepEqual(rows, [{ rolname: 'x"; DROP TABLE items; --' }]);
    const admin = await createPool({ url: adminUrl(), env: {}, purpose: 'admin', checkRole: false });
    try {
      assert.equal(
        (await admin.query(`SELECT to_regclass('public.items') IS NOT NULL AS present`)).rows[0]?.present,
        true,
      );
    } finally {
      await admin.close();
    }
  });

  test('drift is planned back: extra grants revoked, a superuser app role demoted', async () => {
    const admin = await createPool({ url: adminUrl(), env: {}, purpose: 'admin', checkRole: false });
    try {
      await admin.query('GRANT TRUNCATE ON items TO app_rw');
      await admin.query('ALTER ROLE app_user SUPERUSER');
      const path = writeRoles('roles.yaml', ROLES);
      const plan = await capture(['plan', '-f', path, '--url', adminUrl()]);
      assert.match(plan.out, /ALTER ROLE "app_user" NOSUPERUSER;/);
      assert.match(plan.out, /REVOKE TRUNCATE ON TABLE "public"\."items" FROM "app_rw";/);
      assert.equal((await capture(['apply', '-f', path, '--url', adminUrl()])).status, 0);
      assert.equal((await capture(['plan', '-f', path, '--url', adminUrl(), '--check'])).status, 0);
    } finally {
      await admin.close();
    }
  });

  test('SUPERUSER, BYPASSRLS or REPLICATION in the file: refused with line and column, nothing applied', async () => {
    for (const attribute of ['SUPERUSER', 'BYPASSRLS', 'REPLICATION']) {
      const path = writeRoles(
        'bad.yaml',
        `groups:\n  g1: { preset: app, schemas: [public] }\nlogins:\n  sneaky:\n    groups: [g1]\n    attributes: [${attribute}]\n`,
      );
      const result = await capture(['apply', '-f', path, '--url', adminUrl()]);
      assert.equal(result.status, 2);
      assert.match(
        result.err,
        new RegExp(
          `PGW_ROLES_FORBIDDEN_ATTRIBUTE: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:18: logins\\.sneaky asks for ${attribute}`,
        ),
      );
    }
    assert.deepEqual(
      await cluster.adminQuery(`SELECT 1 FROM pg_roles WHERE rolname IN ('sneaky', 'g1')`),
      [],
    );
  });

  test('malformed files: YAML syntax, unknown keys, bad values, with line and column (exit 2)', async () => {
    const cases: Array<[string, RegExp]> = [
      ['groups:\n  g: { preset: app, schemas: [public\n', /:\d+:\d+: /],
      ['groups:\n  g:\n    preset: admin\n    schemas: [public]\n', /:3:13: groups\.g\.preset: /],
      ['logins:\n  u:\n    statement_timout: 5s\n', /:3:5: logins\.u: unknown key "statement_timout"/],
      ['logins:\n  u:\n    groups: [nope]\n', /:3:14: logins\.u\.groups: "nope" is not a group of this file/],
      [
        'logins:\n  pg_monitor2: {}\n',
        /:2:3: logins\.pg_monitor2: invalid name: names starting with pg_ are reserved/,
      ],
    ];
    for (const [text, pattern] of cases) {
      const result = await capture(['plan', '-f', writeRoles('bad.yaml', text), '--url', adminUrl()]);
      assert.equal(result.status, 2, text);
      assert.match(result.err, /PGW_ROLES_FILE_INVALID/);
      assert.match(result.err, pattern);
    }
    const missing = await capture(['plan', '-f', join(dir, 'nope.yaml')]);
    assert.equal(missing.error?.code, 'PGW_CLI_USAGE');
  });

  test('a migrator takes over every object of its schema: tables, sequences, views, functions, procedures, types', async () => {
    await cluster.adminQuery(`CREATE DATABASE mig_db`);
    const admin = await createPool({
      url: adminUrl('mig_db'),
      env: {},
      purpose: 'admin',
      checkRole: false,
    });
    try {
      await admin.query(`CREATE SCHEMA mig;
        CREATE TABLE mig.t (id serial PRIMARY KEY, v text);
        CREATE VIEW mig.v AS SELECT id FROM mig.t;
        CREATE FUNCTION mig.add(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $2';
        CREATE FUNCTION mig.add(text) RETURNS text LANGUAGE sql AS 'SELECT $1';
        CREATE PROCEDURE mig."odd ""name"""() LANGUAGE sql AS 'SELECT 1';
        CREATE TYPE mig.mood AS ENUM ('ok', 'sad');
        CREATE TYPE mig.pair AS (a int, b int);
        CREATE DOMAIN mig.positive AS int CHECK (VALUE > 0);`);
      const path = writeRoles(
        'mig.yaml',
        `database: mig_db\nrevoke_public: false\ngroups:\n  mig_owner: { preset: migrator, schemas: [mig] }\n`,
      );
      const first = await capture(['apply', '-f', path, '--url', adminUrl('mig_db')]);
      assert.equal(first.error, undefined, first.err);
      const { rows } = await admin.query<{ what: string; owner: string }>(`
        SELECT c.relname AS what, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
          WHERE c.relnamespace = 'mig'::regnamespace AND c.relkind IN ('r', 'v', 'S')
        UNION ALL SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner) FROM pg_proc p
          WHERE p.pronamespace = 'mig'::regnamespace
        UNION ALL SELECT t.typname, pg_get_userbyid(t.typowner) FROM pg_type t
          WHERE t.typnamespace = 'mig'::regnamespace AND t.typname IN ('mood', 'pair', 'positive')`);
      assert.equal(rows.length, 9, JSON.stringify(rows));
      assert.deepEqual(
        rows.filter((r) => r.owner !== 'mig_owner'),
        [],
      );
      const again = await capture(['apply', '-f', path, '--url', adminUrl('mig_db')]);
      assert.match(again.out, /no changes/);
    } finally {
      await admin.close();
    }
  });

  test('tables: a group holds its preset on the listed tables and their sequences only, nothing on others, no default privileges', async () => {
    await cluster.adminQuery('CREATE DATABASE tbl_db');
    const admin = await createPool({
      url: adminUrl('tbl_db'),
      env: {},
      purpose: 'admin',
      checkRole: false,
    });
    try {
      await admin.query(`CREATE TABLE users (id serial PRIMARY KEY, name text);
        CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id int);
        CREATE TABLE secrets (id serial PRIMARY KEY, value text);`);
      const path = writeRoles(
        'tables.yaml',
        `database: tbl_db\ngroups:\n  orders_rw: { preset: app, schemas: [public], tables: [users, orders, invoices] }\n`,
      );
      const first = await capture(['apply', '-f', path, '--url', adminUrl('tbl_db'), '--json']);
      assert.equal(first.error, undefined, first.err);
      const report = JSON.parse(first.out) as { warnings: string[] };
      assert.ok(
        report.warnings.some((w) => w.includes('"invoices" is in none of public')),
        JSON.stringify(report.warnings),
      );
      // Drift: someone grants the group a table the file does not list.
      await admin.query('GRANT SELECT ON secrets TO orders_rw');
      const plan = await capture(['plan', '-f', path, '--url', adminUrl('tbl_db'), '--json']);
      const sqls = (JSON.parse(plan.out) as { statements: Array<{ sql: string }> }).statements.map(
        (s) => s.sql,
      );
      assert.deepEqual(sqls, ['REVOKE SELECT ON TABLE "public"."secrets" FROM "orders_rw"']);
      assert.equal((await capture(['apply', '-f', path, '--url', adminUrl('tbl_db')])).status, 0);

      const { rows } = await admin.query<Record<string, boolean>>(`SELECT
        has_table_privilege('orders_rw', 'users', 'SELECT,INSERT,UPDATE,DELETE') AS users_rw,
        has_table_privilege('orders_rw', 'orders', 'SELECT,INSERT,UPDATE,DELETE') AS orders_rw,
        has_table_privilege('orders_rw', 'users', 'TRUNCATE') AS users_truncate,
        has_sequence_privilege('orders_rw', 'users_id_seq', 'USAGE') AS users_seq,
        has_table_privilege('orders_rw', 'secrets', 'SELECT') AS secrets_select,
        has_sequence_privilege('orders_rw', 'secrets_id_seq', 'USAGE') AS secrets_seq,
        EXISTS (SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) a
                 WHERE a.grantee = 'orders_rw'::regrole) AS default_privileges`);
      assert.deepEqual(rows[0], {
        users_rw: true,
        orders_rw: true,
        users_truncate: false,
        users_seq: true,
        secrets_select: false,
        secrets_seq: false,
        default_privileges: false,
      });
      const again = await capture(['apply', '-f', path, '--url', adminUrl('tbl_db')]);
      assert.match(again.out, /no changes/);
    } finally {
      await admin.close();
    }
  });

  test('a failing apply rolls back everything (one transaction)', async () => {
    // "helper" has CREATEROLE but does not own schema legacy: the ALTER SCHEMA near the end fails.
    const path = writeRoles(
      'partial.yaml',
      `database: app\nrevoke_public: false\ngroups:\n  early_group: { preset: readonly, schemas: [public] }\n  legacy_owner: { preset: migrator, schemas: [legacy] }\n`,
    );
    const admin = await createPool({ url: adminUrl(), env: {}, purpose: 'admin', checkRole: false });
    await admin.query('GRANT CONNECT ON DATABASE app TO helper');
    await admin.close();
    const result = await capture([
      'apply',
      '-f',
      path,
      '--url',
      cluster.url({
        user: 'helper',
        password: adminPassword,
        database: 'app',
        params: { sslmode: 'disable' },
      }),
    ]);
    assert.equal(result.error?.code, 'PGW_ROLES_APPLY_FAILED');
    assert.match(result.error?.message ?? '', /rolled back and nothing changed/);
    assert.deepEqual(
      await cluster.adminQuery(`SELECT 1 FROM pg_roles WHERE rolname IN ('early_group', 'legacy_owner')`),
      [],
    );
  });

  test('a new login gets its generated first password in either store, with VALID UNTIL from its expiry (issue 13)', async () => {
    const storePassphrase = canary();
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      PGWARDEN_HOME: home,
      PGWARDEN_STORE_PASSPHRASE: storePassphrase,
      ...keyring.env,
    };
    const apply = (file: string, extra: string[]) => {
      const run = spawnSync(
        process.execPath,
        [...CLI, 'roles', 'apply', '-f', file, '--url', adminUrl(), ...extra],
        {
          env,
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assertNoCanary(run.stdout + run.stderr, storePassphrase);
      return run;
    };
    const untilOf = async (role: string): Promise<number | null> => {
      const [row] = await cluster.adminQuery<{ t: Date | null }>(
        'SELECT rolvaliduntil AS t FROM pg_roles WHERE rolname = $1',
        [role],
      );
      return row?.t ? row.t.getTime() : null;
    };
    const fileStore = new CredentialStore({ home, env: { PGWARDEN_STORE_PASSPHRASE: storePassphrase } });
    const canLogin = async (user: string, password: string): Promise<boolean> => {
      // Earlier tests revoke CONNECT on app from PUBLIC: grant it, so only the password decides.
      await cluster.adminQuery(`GRANT CONNECT ON DATABASE app TO "${user}"`);
      const pool = await createPool({
        url: cluster.url({ user, password, database: 'app', params: { sslmode: 'disable' } }),
        env: {},
        checkRole: false,
      }).catch(() => undefined);
      await pool?.close();
      return pool !== undefined;
    };

    // The OS keychain (the default), 30 days.
    const keychainFile = writeRoles(
      'first-kc.yaml',
      'database: app\nrevoke_public: false\nlogins:\n  first_kc:\n    password: { creds: first-kc }\n',
    );
    const kc = apply(keychainFile, ['--expires-days', '30']);
    assert.equal(kc.status, 0, kc.stderr);
    assert.match(kc.stdout, /generated password stored as creds environment "first-kc" \(OS keychain\)/);
    const kcEnv = await store.get('first-kc');
    assert.equal(kcEnv.store, 'keychain');
    assert.equal(kcEnv.expiresDays, 30);
    assert.equal(await untilOf('first_kc'), kcEnv.expiresAt?.getTime(), 'VALID UNTIL is the stored expiry');
    assert.ok(await canLogin('first_kc', (await store.password('first-kc')).reveal()));

    // The encrypted file, for headless servers; a file valid_until is the expiry of both.
    const fileFile = writeRoles(
      'first-file.yaml',
      'database: app\nrevoke_public: false\nlogins:\n  first_file:\n    password: { creds: first-file }\n  first_fixed:\n    valid_until: 2031-01-02\n    password: { creds: first-fixed }\n',
    );
    const file = apply(fileFile, ['--store', 'file']);
    assert.equal(file.status, 0, file.stderr);
    assert.match(file.stdout, /"first-file" \(encrypted file\)/);
    const fileEnv = await fileStore.get('first-file');
    assert.equal(fileEnv.store, 'file');
    assert.equal(fileEnv.expiresDays, 90);
    assert.equal(await untilOf('first_file'), fileEnv.expiresAt?.getTime());
    const generated = (await fileStore.password('first-file')).reveal();
    assertNoCanary(file.stdout + file.stderr + cluster.readLog(), generated);
    assert.ok(await canLogin('first_file', generated));
    const fixed = await fileStore.get('first-fixed');
    assert.equal(fixed.expiresAt?.toISOString(), '2031-01-02T00:00:00.000Z');
    assert.equal(await untilOf('first_fixed'), Date.parse('2031-01-02T00:00:00Z'));
    // The keychain holds nothing for them.
    assert.equal(await createKeychainBackend().get('first-file'), undefined);

    // Applying again changes nothing (VALID UNTIL is left to creds rotate when the file sets none).
    const again = apply(fileFile, ['--store', 'file']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /no changes/);
  });
});
