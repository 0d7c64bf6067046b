// One name for a stored connection: `--profile NAME` on every command that
// connects and `DB_PROFILE` for the CLI default and the application's keychain
// backend, against a real TLS cluster and the real encrypted file store. The
// deprecated spellings (`--admin-env`, `DB_CREDENTIALS_ENV`) still work and
// warn once; an unknown profile is PGW_CONFIG_PROFILE_UNKNOWN; `--url` with
// `--profile` is a usage error; a production profile meets the same TLS gate
// as a URL. No canary password or passphrase reaches any output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyError } from '../../src/errors.js';
import { createPool } from '../../src/pool/pool.js';
import {
  assertNoCanary,
  canary,
  createPki,
  recordingLogger,
  startCluster,
  withoutConnectionVariables,
  type Cluster,
  type PkiFiles,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const appPassword = canary();
const adminPassword = canary();
const passphrase = canary();
const SECRETS = [appPassword, adminPassword, passphrase];
let cluster: Cluster;
let files: PkiFiles;
let dir: string;
let home: string;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, input = ''): Run {
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: {
      ...withoutConnectionVariables(),
      PGWARDEN_HOME: home,
      PGWARDEN_STORE_PASSPHRASE: passphrase,
      ...env,
    },
    input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  for (const secret of SECRETS) assertNoCanary(result.stdout + result.stderr, secret);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A profile URL (no password): verify-full against the test CA, over TLS on localhost. */
function profileUrl(user: string, sslmode = 'verify-full'): string {
  return `postgresql://${user}@localhost:${cluster.port}/postgres?sslmode=${sslmode}&sslrootcert=${encodeURIComponent(files.caCertPath)}`;
}

function addProfile(name: string, user: string, password: string, extra: string[] = []): void {
  const added = run(
    ['creds', 'add', name, '--store', 'file', '--password-stdin', '--url', profileUrl(user), ...extra],
    {},
    password,
  );
  assert.equal(added.status, 0, added.stderr);
}

// A shell variable pointing elsewhere must not redirect a command that names a profile.
const DECOY = { DATABASE_URL: 'postgresql://decoy@203.0.113.1:1/decoy' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-profile-'));
  home = join(dir, 'home');
  const pki = await createPki();
  files = pki.writeFiles(dir);
  cluster = await startCluster({
    tls: { pki },
    hba: ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256'],
  });
  await cluster.createRole('app', { password: appPassword });
  await cluster.createRole('admin', { password: adminPassword, attributes: 'LOGIN SUPERUSER' });
  addProfile('app', 'app', appPassword);
  addProfile('admin', 'admin', adminPassword);
});

after(async () => {
  const log = cluster?.readLog() ?? '';
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
  for (const secret of SECRETS) assertNoCanary(log, secret);
});

describe('--profile on the commands that connect', () => {
  test('doctor --profile app connects with the stored profile over verify-full, not DATABASE_URL', () => {
    const { status, stdout, stderr } = run(['doctor', '--profile', 'app', '--json'], DECOY);
    assert.equal(status, 0, stdout + stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.connection.ok, true);
    assert.equal(report.connection.role.name, 'app');
    assert.equal(report.config.effectiveSslMode, 'verify-full');
    assert.match(report.connection.tls.protocol, /^TLSv1\.[23]$/);
  });

  test('DB_PROFILE is the default of --profile; --url given wins over it', () => {
    const viaEnv = run(['doctor', '--json'], { ...DECOY, DB_PROFILE: 'app' });
    assert.equal(viaEnv.status, 0, viaEnv.stdout + viaEnv.stderr);
    assert.equal(JSON.parse(viaEnv.stdout).connection.role.name, 'app');
    const url = `postgresql://admin:${encodeURIComponent(adminPassword)}@localhost:${cluster.port}/postgres?sslmode=verify-full&sslrootcert=${encodeURIComponent(files.caCertPath)}`;
    const viaUrl = run(['doctor', '--json', '--url', url], { DB_PROFILE: 'app' });
    assert.equal(JSON.parse(viaUrl.stdout).connection.role.name, 'admin', viaUrl.stderr);
  });

  test('backup create --profile app, then verify latest: the dump came from the profile', () => {
    const backups = join(dir, 'backups');
    const keyFile = join(dir, 'backup.key');
    assert.equal(run(['backup', 'keygen', '--out', keyFile]).status, 0);
    const created = run(
      [
        'backup',
        'create',
        '--profile',
        'app',
        '--dir',
        backups,
        '--key-file',
        keyFile,
        '--json',
        '--no-progress',
      ],
      DECOY,
    );
    assert.equal(created.status, 0, created.stdout + created.stderr);
    const manifest = JSON.parse(created.stdout.trim().split('\n').at(-1)!);
    assert.equal(manifest.ok, true, created.stdout);
    const verified = run([
      'backup',
      'verify',
      'latest',
      '--dir',
      backups,
      '--level',
      '2',
      '--key-file',
      keyFile,
      '--json',
    ]);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    assert.equal(JSON.parse(verified.stdout).ok, true);
    const restore = run(['backup', 'restore', 'latest', '--dir', backups, '--key-file', keyFile], {
      DB_PROFILE: 'app',
    });
    assert.equal(restore.status, 2, 'a restore target never comes from DB_PROFILE');
    assert.match(restore.stderr, /--url or --profile/);
  });

  test('monitor, audit, incident, roles and alerts take --profile', () => {
    const monitor = run(['monitor', '--once', '--json', '--profile', 'admin'], DECOY);
    assert.equal(monitor.status, 0, monitor.stderr);
    assert.equal(typeof JSON.parse(monitor.stdout), 'object');

    const audit = run(['audit', '--profile', 'app', '--format', 'json', '--fail-on', 'critical'], DECOY);
    const report = JSON.parse(audit.stdout);
    assert.equal(report.connection.ok, true, audit.stderr);

    const sessions = run(['incident', 'sessions', '--profile', 'admin', '--json'], DECOY);
    assert.equal(sessions.status, 0, sessions.stderr);
    assert.ok(Array.isArray(JSON.parse(sessions.stdout).sessions));

    const rolesFile = join(dir, 'roles.yaml');
    writeFileSync(rolesFile, 'version: 1\ngroups:\n  reporting: { preset: readonly, schemas: [public] }\n');
    const plan = run(['roles', 'plan', '--file', rolesFile, '--profile', 'admin', '--json'], DECOY);
    assert.equal(plan.status, 0, plan.stderr);
    assert.ok(JSON.stringify(JSON.parse(plan.stdout)).includes('reporting'));

    const alerts = run(['alerts', 'check', '--profile', 'admin', '--json', '--disable', 'backup-age'], DECOY);
    const checked = JSON.parse(alerts.stdout);
    assert.equal(checked.label, `localhost:${cluster.port}/postgres`, alerts.stderr);
    assert.match(JSON.stringify(checked), /"connected":true|"attempted":true/);
  });
});

describe('bad input', () => {
  test('an unknown profile is PGW_CONFIG_PROFILE_UNKNOWN naming the profile, the store and the fix', () => {
    for (const args of [
      ['doctor', '--profile', 'nope'],
      [
        'backup',
        'create',
        '--profile',
        'nope',
        '--dir',
        join(dir, 'b2'),
        '--key-file',
        join(dir, 'backup.key'),
      ],
      ['roles', 'plan', '--file', join(dir, 'roles.yaml'), '--profile', 'nope'],
    ]) {
      const { status, stderr } = run(args);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /PGW_CONFIG_PROFILE_UNKNOWN: No profile is called "nope"/);
      assert.ok(stderr.includes(join(home, 'credentials.json')), stderr);
      assert.match(stderr, /pgwarden creds add nope/);
    }
    const near = run(['doctor', '--profile', 'apq']);
    assert.match(near.stderr, /Did you mean "app"\? See: pgwarden creds list/);
    // A name is quoted back escaped: it cannot drive the terminal.
    const hostile = run(['doctor', '--profile', 'x\u001b]0;owned\u0007\u001b[2J']);
    assert.equal(hostile.status, 2, hostile.stderr);
    assert.match(hostile.stderr, /PGW_CONFIG_PROFILE_UNKNOWN/);
    for (const control of ['\u001b', '\u0007']) assert.ok(!hostile.stderr.includes(control), hostile.stderr);
  });

  test('--url with --profile is a usage error', () => {
    const { status, stderr } = run(['doctor', '--profile', 'app', '--url', profileUrl('app')]);
    assert.equal(status, 2);
    assert.match(stderr, /PGW_CLI_USAGE: --url and --profile both name the connection/);
  });

  test('--admin-env still works and warns once naming --profile; --admin-env and --profile disagreeing is a conflict', () => {
    const plan = run(
      ['roles', 'plan', '--file', join(dir, 'roles.yaml'), '--admin-env', 'admin', '--json'],
      DECOY,
    );
    assert.equal(plan.status, 0, plan.stderr);
    const warnings = plan.stderr.match(
      /PGW_CONFIG_DEPRECATED: --admin-env is deprecated; use --profile admin/g,
    );
    assert.equal(warnings?.length, 1, plan.stderr);
    // The alias keeps its stable code for an unknown name.
    const unknown = run(['roles', 'plan', '--file', join(dir, 'roles.yaml'), '--admin-env', 'nosuch']);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /PGW_CREDS_UNKNOWN_ENV/, unknown.stderr);
    const conflict = run(['incident', 'sessions', '--admin-env', 'admin', '--profile', 'app']);
    assert.equal(conflict.status, 2);
    assert.match(
      conflict.stderr,
      /PGW_CONFIG_CONFLICT: --profile "app" and --admin-env "admin" name different profiles/,
    );
  });

  test('a production profile meets the production TLS gate as a URL would', () => {
    const added = run(
      [
        'creds',
        'add',
        'weak',
        '--store',
        'file',
        '--password-stdin',
        '--production',
        '--url',
        profileUrl('app', 'require'),
      ],
      {},
      appPassword,
    );
    assert.equal(added.status, 0, added.stderr);
    const doctor = run(['doctor', '--profile', 'weak', '--json']);
    assert.equal(doctor.status, 1);
    const report = JSON.parse(doctor.stdout);
    assert.equal(report.environment, 'production');
    assert.ok(
      report.violations.some((v: { code: string }) => v.code === 'PGW_POLICY_TLS_NOT_VERIFY_FULL'),
      doctor.stdout,
    );
    const backup = run([
      'backup',
      'create',
      '--profile',
      'weak',
      '--dir',
      join(dir, 'b3'),
      '--key-file',
      join(dir, 'backup.key'),
    ]);
    assert.notEqual(backup.status, 0);
    assert.match(backup.stderr, /PGW_POLICY_VIOLATION/);
    const relaxed = run(['doctor', '--profile', 'weak', '--env', 'development']);
    assert.equal(relaxed.status, 2);
    assert.match(relaxed.stderr, /cannot judge the production profile "weak"/);
  });
});

describe('the application: SECRETS_BACKEND=keychain reads DB_PROFILE', () => {
  const base = (): Record<string, string> => ({
    SECRETS_BACKEND: 'keychain',
    PGWARDEN_HOME: home,
    PGWARDEN_STORE_PASSPHRASE: passphrase,
  });

  test('DB_PROFILE=app logs in as the stored profile, from the encrypted file, with no warning', async () => {
    const { lines, logger } = recordingLogger();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code} ${w.message}`);
    process.on('warning', onWarning);
    const pool = await createPool({ env: { ...base(), DB_PROFILE: 'app' }, logger });
    try {
      assert.equal((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'app');
      assert.equal(pool.credentialsInfo().description.store, 'file');
    } finally {
      await pool.close();
      process.off('warning', onWarning);
    }
    assert.equal([...lines, ...warnings].filter((l) => l.includes('PGW_CONFIG_DEPRECATED')).length, 0);
    for (const secret of SECRETS) for (const line of lines) assertNoCanary(line, secret);
  });

  test('the strict policy refuses the store passphrase as a plaintext variable, and takes it from a 0600 file', async () => {
    const strict = { ...base(), DB_PROFILE: 'app', NODE_ENV: 'production', DB_POLICY: 'strict' };
    await assert.rejects(createPool({ env: strict }), (error: PolicyError) => {
      assert.equal(error.code, 'PGW_POLICY_VIOLATION');
      assert.deepEqual(
        error.violations.map((v) => [v.code, v.option]),
        [['PGW_POLICY_PASSWORD_PLAINTEXT_ENV', 'PGWARDEN_STORE_PASSPHRASE']],
      );
      for (const secret of SECRETS) assertNoCanary(`${error.message} ${error.stack}`, secret);
      return true;
    });
    const file = join(dir, 'store-passphrase');
    writeFileSync(file, `${passphrase}\n`, { mode: 0o600 });
    const withoutPlain = Object.fromEntries(
      Object.entries(strict).filter(([name]) => name !== 'PGWARDEN_STORE_PASSPHRASE'),
    );
    const pool = await createPool({ env: { ...withoutPlain, PGWARDEN_STORE_PASSPHRASE_FILE: file } });
    try {
      assert.equal((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'app');
    } finally {
      await pool.close();
    }
  });

  test('DB_CREDENTIALS_ENV still works with one deprecation warning; both and different is PGW_CONFIG_CONFLICT', async () => {
    const { lines, logger } = recordingLogger();
    const pool = await createPool({ env: { ...base(), DB_CREDENTIALS_ENV: 'app' }, logger });
    try {
      assert.equal((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'app');
    } finally {
      await pool.close();
    }
    const deprecations = lines.filter((l) => l.includes('DB_CREDENTIALS_ENV is deprecated: set DB_PROFILE'));
    assert.equal(deprecations.length, 1, lines.join('\n'));
    for (const secret of SECRETS) for (const line of lines) assertNoCanary(line, secret);
    await assert.rejects(createPool({ env: { ...base(), DB_PROFILE: 'app', DB_CREDENTIALS_ENV: 'admin' } }), {
      code: 'PGW_CONFIG_CONFLICT',
      option: 'DB_PROFILE',
    });
  });
});
