// libpq's password file as libpq reads it (fe-connect.c, passwordFromFile):
// every rule here is one a psql on the same machine applies, so a ~/.pgpass
// that works for psql works for pgwarden, and one psql ignores is ignored.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { lookupPgpass, pgpassPath, type PgpassTarget } from './pgpass.js';
import { resolveConfig } from './resolve.js';
import { evaluateConfigPolicy } from './policy.js';

const CANARY = 'canary-5d1e0b9c2a-Pw!q';
const dir = mkdtempSync(join(tmpdir(), 'pgw-pgpass-'));
let files = 0;

after(() => rmSync(dir, { recursive: true, force: true }));

/** A 0600 password file with these lines; its path. */
function passfile(lines: readonly string[], mode = 0o600): string {
  const path = join(dir, `pgpass-${++files}`);
  writeFileSync(path, lines.join('\n') + '\n', { mode });
  chmodSync(path, mode); // the umask may have narrowed a wider mode
  return path;
}

const target: PgpassTarget = { host: 'db.example.com', port: 5432, database: 'app', user: 'app_user' };

function lookup(lines: readonly string[], to: Partial<PgpassTarget> = {}): string | undefined {
  const file = passfile(lines);
  const found = lookupPgpass({ ...target, ...to }, { PGPASSFILE: file });
  assert.deepEqual(found.warnings, []);
  return found.password;
}

describe('matching, as libpq matches', () => {
  test('host, port, database and user must each match', () => {
    const line = 'db.example.com:5432:app:app_user:right';
    assert.equal(lookup([line]), 'right');
    assert.equal(lookup([line], { host: 'db2.example.com' }), undefined);
    assert.equal(lookup([line], { port: 5433 }), undefined);
    assert.equal(lookup([line], { database: 'other' }), undefined);
    assert.equal(lookup([line], { user: 'someone' }), undefined);
    // No prefix or case folding: the field is the whole value.
    assert.equal(lookup([line], { host: 'DB.example.com' }), undefined);
    assert.equal(lookup([line], { database: 'ap' }), undefined);
    assert.equal(lookup([line], { user: 'app_user2' }), undefined);
  });

  test('a field that is exactly * matches anything, in every position', () => {
    assert.equal(lookup(['*:5432:app:app_user:p1']), 'p1');
    assert.equal(lookup(['db.example.com:*:app:app_user:p2'], { port: 6543 }), 'p2');
    assert.equal(lookup(['db.example.com:5432:*:app_user:p3'], { database: 'x' }), 'p3');
    assert.equal(lookup(['db.example.com:5432:app:*:p4'], { user: 'y' }), 'p4');
    assert.equal(lookup(['*:*:*:*:p5'], { host: 'anything', port: 1, database: 'd', user: 'u' }), 'p5');
    // A star inside a field is no wildcard, and an escaped star is a literal one.
    assert.equal(lookup(['db.*.com:5432:app:app_user:p6']), undefined);
    assert.equal(lookup(['db.example.com:5432:app:\\*:p7']), undefined);
    assert.equal(lookup(['db.example.com:5432:app:\\*:p8'], { user: '*' }), 'p8');
  });

  test('backslash escapes ":" and "\\" in the fields and in the password', () => {
    assert.equal(lookup(['db.example.com:5432:a\\:b:app_user:p1'], { database: 'a:b' }), 'p1');
    assert.equal(lookup(['db.example.com:5432:app:dom\\\\user:p2'], { user: 'dom\\user' }), 'p2');
    assert.equal(lookup(['db.example.com:5432:app:app_user:pa\\:ss\\\\word']), 'pa:ss\\word');
    // libpq lets an unescaped colon match a colon of the value (so bare IPv6 addresses work);
    // the escape is still needed where the colon would end the field early.
    assert.equal(lookup(['db.example.com:5432:a:b:app_user:p3'], { database: 'a:b' }), 'p3');
    assert.equal(lookup(['db.example.com:5432:a:b:app_user:p4'], { database: 'a' }), undefined);
  });

  test('the password ends at the first unescaped colon; later fields are ignored', () => {
    assert.equal(lookup(['db.example.com:5432:app:app_user:secret:extra:fields']), 'secret');
    assert.equal(lookup(['db.example.com:5432:app:app_user:']), '');
  });

  test('a line of four fields matches nothing', () => {
    assert.equal(lookup(['db.example.com:5432:app:app_user']), undefined);
    assert.equal(lookup(['*:*:*:*']), undefined);
  });

  test('the first matching line wins', () => {
    assert.equal(
      lookup([
        'other.example.com:5432:app:app_user:not-this',
        'db.example.com:5432:app:app_user:first',
        '*:*:*:*:second',
      ]),
      'first',
    );
    assert.equal(
      lookup(['*:*:*:*:wildcard-first', 'db.example.com:5432:app:app_user:exact']),
      'wildcard-first',
    );
  });

  test('comment lines and empty lines are skipped; CRLF line ends are stripped', () => {
    assert.equal(lookup(['# db.example.com:5432:app:app_user:commented', '', '*:*:*:*:live']), 'live');
    assert.equal(lookup(['#*:*:*:*:commented']), undefined);
    assert.equal(lookup(['db.example.com:5432:app:app_user:crlf\r', '*:*:*:*:no\r']), 'crlf');
  });

  test('localhost matches a unix socket in the default directory; another directory by its path', () => {
    const lines = ['localhost:5432:app:app_user:via-localhost', '/srv/pg/sock:5432:app:app_user:via-path'];
    for (const socketDir of ['/tmp', '/var/run/postgresql', '/run/postgresql']) {
      assert.equal(lookup(lines, { host: socketDir }), 'via-localhost', socketDir);
    }
    assert.equal(lookup(lines, { host: 'localhost' }), 'via-localhost');
    assert.equal(lookup(lines, { host: '/srv/pg/sock' }), 'via-path');
    assert.equal(lookup(['localhost:5432:app:app_user:x'], { host: '/srv/pg/sock' }), undefined);
    // A TCP address is its own name: 127.0.0.1 is not localhost.
    assert.equal(lookup(['localhost:5432:app:app_user:x'], { host: '127.0.0.1' }), undefined);
  });

  test('an IPv6 address matches with its colons escaped, or unescaped as libpq allows', () => {
    assert.equal(lookup(['\\:\\:1:5432:app:app_user:escaped'], { host: '::1' }), 'escaped');
    assert.equal(lookup(['::1:5432:app:app_user:bare'], { host: '::1' }), 'bare');
  });
});

describe('which file, and when it is ignored', () => {
  test('PGPASSFILE overrides ~/.pgpass; HOME locates the default; an options env without HOME has none', () => {
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.pgpass'), '*:*:*:*:from-home\n', { mode: 0o600 });
    const override = passfile(['*:*:*:*:from-pgpassfile']);
    assert.equal(pgpassPath({ HOME: home }), join(home, '.pgpass'));
    assert.equal(lookupPgpass(target, { HOME: home }).password, 'from-home');
    assert.equal(pgpassPath({ HOME: home, PGPASSFILE: override }), override);
    const found = lookupPgpass(target, { HOME: home, PGPASSFILE: override });
    assert.equal(found.password, 'from-pgpassfile');
    assert.equal(found.file, override);
    assert.equal(pgpassPath({}), undefined);
    assert.equal(lookupPgpass(target, {}).password, undefined);
  });

  test('a missing file is fine: no password, no warning', () => {
    const found = lookupPgpass(target, { PGPASSFILE: join(dir, 'does-not-exist') });
    assert.equal(found.password, undefined);
    assert.deepEqual(found.warnings, []);
  });

  test('a file group or others can access is ignored, with a warning that names it and never the password', () => {
    for (const mode of [0o640, 0o604, 0o660, 0o644, 0o601, 0o610]) {
      const file = passfile([`*:*:*:*:${CANARY}`], mode);
      const found = lookupPgpass(target, { PGPASSFILE: file });
      assert.equal(found.password, undefined, mode.toString(8));
      assert.equal(found.warnings.length, 1);
      const [warning] = found.warnings;
      assert.equal(warning!.code, 'PGW_CONFIG_INVALID');
      assert.equal(warning!.option, 'PGPASSFILE');
      assert.ok(warning!.message.includes(file), warning!.message);
      assert.match(warning!.message, /chmod 600/);
      assert.ok(!inspect(found, { depth: 5 }).includes(CANARY));
    }
    // 0600 and narrower are read.
    for (const mode of [0o600, 0o400]) {
      assert.equal(lookupPgpass(target, { PGPASSFILE: passfile(['*:*:*:*:ok'], mode) }).password, 'ok');
    }
  });

  test('a directory or a FIFO in its place is ignored with a warning (and a FIFO does not block)', () => {
    const directory = join(dir, 'a-directory');
    mkdirSync(directory, { mode: 0o700 });
    const fifo = join(dir, 'a-fifo');
    const made = spawnSync('mkfifo', ['-m', '600', fifo]);
    assert.equal(made.status, 0, `mkfifo failed: ${String(made.stderr)}`);
    for (const path of [directory, fifo]) {
      const found = lookupPgpass(target, { PGPASSFILE: path });
      assert.equal(found.password, undefined);
      assert.equal(found.warnings.length, 1, path);
      assert.match(found.warnings[0]!.message, /not a plain file/);
    }
  });

  test('a symlink is followed, as libpq follows it, and the file it names is judged', () => {
    const real = passfile(['*:*:*:*:through-link']);
    const link = join(dir, 'linked-pgpass');
    symlinkSync(real, link);
    assert.equal(lookupPgpass(target, { PGPASSFILE: link }).password, 'through-link');
    chmodSync(real, 0o644);
    const found = lookupPgpass(target, { PGPASSFILE: link });
    assert.equal(found.password, undefined);
    assert.equal(found.warnings.length, 1);
  });
});

describe('in the resolved config', () => {
  test('used only when no source gives a password, for the configured host, port, database and user', () => {
    const file = passfile([
      `db.example.com:6432:orders:svc:${CANARY}`,
      '*:*:*:*:catch-all-for-everything-else',
    ]);
    const env = { PGPASSFILE: file, PGHOST: 'db.example.com', PGPORT: '6432', PGDATABASE: 'orders' };
    const { config, warnings } = resolveConfig({ env: { ...env, PGUSER: 'svc' }, environment: 'test' });
    assert.equal(config.password?.reveal(), CANARY);
    assert.equal(config.sources.password, `PGPASSFILE ${file}`);
    assert.deepEqual(warnings, []);
    assert.ok(!JSON.stringify(config).includes(CANARY) && !inspect(config, { depth: 6 }).includes(CANARY));
    // The database defaults to the user, as libpq's does, before the file is searched.
    const other = resolveConfig({ env: { PGPASSFILE: file, PGUSER: 'svc' }, environment: 'test' });
    assert.equal(other.config.password?.reveal(), 'catch-all-for-everything-else');
    // Any other source wins, and the file is then not read at all.
    const given = resolveConfig({
      env: { ...env, PGUSER: 'svc', PGPASSWORD: 'from-the-environment-xyz' },
      environment: 'test',
    });
    assert.equal(given.config.password?.reveal(), 'from-the-environment-xyz');
    assert.equal(given.config.sources.password, 'PGPASSWORD');
  });

  test('an unsafe file reaches the caller as a warning, and no password', () => {
    const file = passfile([`*:*:*:*:${CANARY}`], 0o644);
    const { config, warnings } = resolveConfig({ env: { PGPASSFILE: file }, environment: 'test' });
    assert.equal(config.password, undefined);
    assert.deepEqual(
      warnings.map((w) => [w.code, w.option]),
      [['PGW_CONFIG_INVALID', 'PGPASSFILE']],
    );
  });

  test('the policy judges a password from the file like one from the environment', () => {
    const file = passfile(['*:*:*:*:Xk2#pq9!Lm4$wz8&Rt-from-file']);
    const resolve = (policy: 'standard' | 'strict') =>
      resolveConfig({ env: { PGPASSFILE: file, DB_SSL: 'true' }, environment: 'development', policy }).config;
    assert.deepEqual(evaluateConfigPolicy(resolve('standard')), []);
    assert.deepEqual(
      evaluateConfigPolicy(resolve('strict')).map((v) => v.code),
      ['PGW_POLICY_PASSWORD_PLAINTEXT_ENV'],
    );
    const weak = passfile(['*:*:*:*:postgres']);
    assert.deepEqual(
      evaluateConfigPolicy(
        resolveConfig({ env: { PGPASSFILE: weak, DB_SSL: 'true' }, environment: 'development' }).config,
      ).map((v) => v.code),
      ['PGW_POLICY_WEAK_PASSWORD'],
    );
  });
});
