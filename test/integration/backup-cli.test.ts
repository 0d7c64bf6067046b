// `pgwarden backup` as cron or a systemd timer runs it: configuration from
// DB_* variables over verify-full TLS, one JSON line per run, exit codes,
// list, verify, restore, cleanup with its dry run, and no secret in any
// output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '../../src/pool/pool.js';
import { createBackup, verifyBackup } from '../../src/backup/index.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type Pki,
  type PkiFiles,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
let cluster: Cluster;
let pki: Pki;
let files: PkiFiles;
let work: string;
let keyFile: string;
let keyText: string;
let dir: string;
let firstId: string;

function url(database: string): string {
  return cluster
    .url({
      user: 'app',
      password,
      database,
      params: { sslmode: 'verify-full', sslrootcert: files.caCertPath },
    })
    .replace('127.0.0.1', 'localhost');
}

/** The DB_* variables of the guidelines, TLS with an inline CA (no file path). */
function dbEnv(database: string): Record<string, string> {
  return {
    DB_HOST: 'localhost',
    DB_PORT: String(cluster.port),
    DB_NAME: database,
    DB_USER: 'app',
    DB_PASSWORD: password,
    DB_SSL: 'true',
    DB_SSL_CA: pki.ca.certPem,
  };
}

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const all = result.stdout + result.stderr;
  assertNoCanary(all, password);
  if (keyText) assertNoCanary(all, keyText);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

// JSON from the CLI is navigated freely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

function oneJsonLine(stdout: string): Json {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  assert.equal(lines.length, 1, `one JSON line expected on stdout: ${stdout}`);
  return JSON.parse(lines[0]!) as Json;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-bkcli-'));
  pki = await createPki();
  files = pki.writeFiles(join(work, 'pki'));
  cluster = await startCluster({ tls: { pki }, hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'] });
  await cluster.createRole('app', { password, attributes: 'LOGIN CREATEDB' });
  await cluster.createDatabase('app', 'app');
  await cluster.createDatabase('copy', 'app');
  const pool = await createPool({ url: url('app'), env: {}, environment: 'test', checkRole: false });
  await pool.query(
    `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g`,
  );
  await pool.close();
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'backup.key');
  keyText = '';
  dir = join(work, 'backups');
});

after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('a scheduled run', () => {
  test('keygen writes a 0600 key file and never overwrites it', () => {
    const made = run(['backup', 'keygen', '--out', keyFile, '--json']);
    assert.equal(made.status, 0, made.stderr);
    keyText = readFileSync(keyFile, 'utf8').trim();
    assert.match(oneJsonLine(made.stdout).keyId, /^[0-9a-f]{16}$/);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const again = run(['backup', 'keygen', '--out', keyFile]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /PGW_BACKUP_KEY_INVALID: .*never overwritten/);
  });

  test('create from DB_* variables over TLS: exit 0, exactly one JSON line on stdout, JSON progress on stderr', () => {
    const created = run(['backup', 'create', '--dir', dir, '--key-file', keyFile, '--json'], dbEnv('app'));
    assert.equal(created.status, 0, created.stderr);
    const result = oneJsonLine(created.stdout);
    assert.equal(result.ok, true);
    assert.equal(result.database, 'app');
    assert.equal(result.tables, 1);
    assert.equal(result.rows, 1000);
    assert.match(result.sha256, /^[0-9a-f]{64}$/);
    firstId = result.id;
    assert.ok(existsSync(join(dir, `${firstId}.pgwb`)));
    const progress = created.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; done: boolean; bytes: number });
    assert.ok(progress.length >= 1, created.stderr);
    assert.ok(progress.every((p) => p.event === 'progress'));
    assert.equal(progress.at(-1)!.done, true);
    assert.ok(progress.at(-1)!.bytes > 0);
  });

  test('list, verify --level 2, list again', () => {
    const before = oneJsonLine(run(['backup', 'list', '--dir', dir, '--json']).stdout);
    assert.equal(before.backups.length, 1);
    assert.equal(before.backups[0].id, firstId);
    assert.equal(before.backups[0].verified, null);
    assert.deepEqual(before.problems, []);

    const verified = run([
      'backup',
      'verify',
      firstId,
      '--dir',
      dir,
      '--level',
      '2',
      '--key-file',
      keyFile,
      '--json',
    ]);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    const result = oneJsonLine(verified.stdout);
    assert.equal(result.ok, true);
    assert.equal(result.recorded, 'authenticated');

    const text = run(['backup', 'list', '--dir', dir]);
    assert.equal(text.status, 0);
    assert.match(text.stdout, /^ID\s+DATABASE\s+CREATED\s+SIZE\s+VERIFIED\s+EXPIRES/m);
    assert.match(text.stdout, new RegExp(`${firstId}\\s+app\\s+.*L2 ok`));
  });

  test('restore --json into an empty database; the same again is refused', () => {
    const restored = run([
      'backup',
      'restore',
      firstId,
      '--dir',
      dir,
      '--url',
      url('copy'),
      '--key-file',
      keyFile,
      '--json',
    ]);
    assert.equal(restored.status, 0, restored.stdout + restored.stderr);
    const line = oneJsonLine(restored.stdout);
    assert.equal(line.singleTransaction, true);
    assert.ok(Number.isInteger(line.chunks) && line.chunks >= 1, restored.stdout);
    assert.ok(Number.isInteger(line.dumpBytes) && line.dumpBytes > 0, restored.stdout);
    assert.match(line.pgRestore, /^pg_restore \d+\.\d+/);
    assert.equal(line.manifest, undefined, 'the manifest stays in its file');
    const again = run([
      'backup',
      'restore',
      firstId,
      '--dir',
      dir,
      '--url',
      url('copy'),
      '--key-file',
      keyFile,
      '--json',
    ]);
    assert.equal(again.status, 1);
    assert.equal(oneJsonLine(again.stdout).error.code, 'PGW_BACKUP_TARGET_NOT_EMPTY');
  });

  test('text output for people', () => {
    const created = run([
      'backup',
      'create',
      '--url',
      url('app'),
      '--dir',
      dir,
      '--key-file',
      keyFile,
      '--compress',
      'gzip',
    ]);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /^✓ backup \S+-app-[0-9a-f]{6}$/m);
    assert.match(created.stdout, /gzip, \d+ chunks, AES-256-GCM/);
    assert.match(created.stdout, /1 tables, 1000 rows/);
    // stderr is not a TTY here: no progress bar.
    assert.doesNotMatch(created.stderr, /\r/);
  });
});

describe('cleanup', () => {
  test('a dry run by default; --confirm deletes what it planned and keeps the newest verified', async () => {
    // Three backups now: the verified first one, the gzip one, and a third.
    const third = await createBackup({ dir, connection: { url: url('app') }, env: {}, keys: { keyFile } });
    const ids = oneJsonLine(run(['backup', 'list', '--dir', dir, '--json']).stdout).backups.map(
      (b: { id: string }) => b.id,
    );
    assert.equal(ids.length, 3);
    assert.equal(ids[0], third.id);
    assert.equal(ids[2], firstId);
    const middle = ids[1];

    const dry = run(['backup', 'cleanup', '--dir', dir, '--keep-days', '0', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    const plan = oneJsonLine(dry.stdout);
    assert.equal(plan.dryRun, true);
    const actions = Object.fromEntries(
      plan.decisions.map((d: { id: string; action: string }) => [d.id, d.action]),
    );
    assert.deepEqual(actions, { [third.id]: 'keep', [middle]: 'delete', [firstId]: 'keep' });
    assert.equal(
      readdirSync(dir).filter((n) => n.endsWith('.pgwb')).length,
      3,
      'the dry run deleted nothing',
    );

    const text = run(['backup', 'cleanup', '--dir', dir, '--keep-days', '0']);
    assert.match(text.stdout, new RegExp(`would delete ${middle}`));
    assert.match(text.stdout, new RegExp(`keep\\s+${firstId}\\s+\\(one of the newest 1 verified\\)`));

    const confirmed = run(['backup', 'cleanup', '--dir', dir, '--keep-days', '0', '--confirm', '--json']);
    assert.equal(confirmed.status, 0);
    assert.deepEqual(oneJsonLine(confirmed.stdout).deleted, [middle]);
    const left = readdirSync(dir).sort();
    assert.deepEqual(
      left,
      [`${firstId}.manifest.json`, `${firstId}.pgwb`, `${third.id}.manifest.json`, `${third.id}.pgwb`].sort(),
    );
    // Both survivors still verify.
    assert.equal((await verifyBackup({ target: third.id, dir, level: 1 })).ok, true);
  });
});

describe('latest: the newest complete backup of --dir', () => {
  test('none yet, or no --dir: exit 1 with PGW_BACKUP_NOT_FOUND', () => {
    const empty = join(work, 'latest-empty');
    mkdirSync(empty, { mode: 0o700 });
    const none = run(['backup', 'verify', 'latest', '--dir', empty, '--level', '1', '--json']);
    assert.equal(none.status, 1, none.stderr);
    const error = oneJsonLine(none.stdout).error;
    assert.equal(error.code, 'PGW_BACKUP_NOT_FOUND');
    assert.match(error.message, /No complete backup in .*latest-empty/);
    const text = run([
      'backup',
      'restore',
      'latest',
      '--dir',
      empty,
      '--url',
      url('copy'),
      '--key-file',
      keyFile,
    ]);
    assert.equal(text.status, 1);
    assert.match(text.stderr, /PGW_BACKUP_NOT_FOUND: No complete backup/);
    const noDir = run(['backup', 'verify', 'latest', '--level', '1', '--json']);
    assert.equal(noDir.status, 1, noDir.stdout + noDir.stderr);
    assert.match(oneJsonLine(noDir.stdout).error.message, /"latest" names the newest backup of a directory/);
  });

  test('verify latest and restore latest pick it by manifest time, passing over partial and stray files', async () => {
    const latestDir = join(work, 'latest');
    const options = { dir: latestDir, connection: { url: url('app') }, env: {}, keys: { keyFile } };
    const oldest = await createBackup(options);
    const complete = await createBackup(options);
    // Newer than `complete`, but its file is cut short: not complete.
    const truncated = await createBackup(options);
    const file = join(latestDir, `${truncated.id}.pgwb`);
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    // Names that sort after every real backup: a run in progress, and a file no manifest describes.
    writeFileSync(join(latestDir, '.29991231T000000Z-app-eeeeee.pgwb.tmp'), 'partial', { mode: 0o600 });
    writeFileSync(join(latestDir, '29991231T000000Z-app-ffffff.pgwb'), 'stray', { mode: 0o600 });

    const verified = run([
      'backup',
      'verify',
      'latest',
      '--dir',
      latestDir,
      '--level',
      '2',
      '--key-file',
      keyFile,
      '--json',
    ]);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    const result = oneJsonLine(verified.stdout);
    assert.equal(result.id, complete.id);
    assert.equal(result.ok, true);

    await cluster.createDatabase('latest_copy', 'app');
    const restored = run([
      'backup',
      'restore',
      'latest',
      '--dir',
      latestDir,
      '--url',
      url('latest_copy'),
      '--key-file',
      keyFile,
      '--json',
    ]);
    assert.equal(restored.status, 0, restored.stdout + restored.stderr);
    assert.equal(oneJsonLine(restored.stdout).id, complete.id);
    const pool = await createPool({
      url: url('latest_copy'),
      env: {},
      environment: 'test',
      checkRole: false,
    });
    try {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM items');
      assert.equal(rows[0]?.n, 1000);
    } finally {
      await pool.close();
    }

    // Once only partial and stray files remain, the error says what was passed over.
    for (const id of [oldest.id, complete.id]) {
      for (const suffix of ['.pgwb', '.manifest.json']) rmSync(join(latestDir, `${id}${suffix}`));
    }
    const left = run(['backup', 'verify', 'latest', '--dir', latestDir, '--level', '1', '--json']);
    assert.equal(left.status, 1, left.stdout + left.stderr);
    assert.match(
      oneJsonLine(left.stdout).error.message,
      /passed over: .*1 truncated.*1 in progress or interrupted.*file without a manifest/,
    );
  });
});

describe('exit codes and refusals', () => {
  test('usage and configuration errors exit 2; no key, no backup', () => {
    const noKey = run(['backup', 'create', '--dir', join(work, 'never'), '--json'], dbEnv('app'));
    assert.equal(noKey.status, 2);
    assert.equal(oneJsonLine(noKey.stdout).error.code, 'PGW_BACKUP_KEY_REQUIRED');
    assert.equal(existsSync(join(work, 'never')), false, 'nothing created without a key');
    assert.equal(run(['backup', 'create', '--key-file', keyFile]).status, 2, 'missing --dir');
    assert.equal(run(['backup', 'verify', 'x', '--dir', dir, '--level', '4']).status, 2);
    assert.equal(run(['backup', 'no-such-subcommand']).status, 2);
    assert.equal(run(['backup', 'restore', 'x', '--dir', dir, '--url', url('copy'), '-j', 'many']).status, 2);

    const passphrase = join(work, 'keys', 'pass');
    writeFileSync(passphrase, 'a long enough passphrase\n', { mode: 0o600 });
    const both = run(
      ['backup', 'create', '--dir', dir, '--key-file', keyFile, '--passphrase-file', passphrase],
      dbEnv('app'),
    );
    assert.equal(both.status, 2);
    assert.match(both.stderr, /PGW_CONFIG_CONFLICT/);

    const openKey = join(work, 'keys', 'open.key');
    writeFileSync(openKey, readFileSync(keyFile));
    chmodSync(openKey, 0o644);
    const perms = run(['backup', 'create', '--dir', dir, '--key-file', openKey], dbEnv('app'));
    assert.equal(perms.status, 2);
    assert.match(perms.stderr, /PGW_BACKUP_KEY_PERMISSIONS: .*chmod 600/);
  });

  test('failures exit 1 with a coded error', () => {
    const missing = run(['backup', 'verify', 'no-such-backup', '--dir', dir, '--level', '1', '--json']);
    assert.equal(missing.status, 1);
    assert.equal(oneJsonLine(missing.stdout).error.code, 'PGW_BACKUP_NOT_FOUND');

    const shared = join(work, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    const unsafe = run(['backup', 'create', '--dir', shared, '--key-file', keyFile, '--json'], dbEnv('app'));
    assert.equal(unsafe.status, 1);
    assert.equal(oneJsonLine(unsafe.stdout).error.code, 'PGW_BACKUP_DIR_UNSAFE');

    const wrongPassword = run(
      ['backup', 'create', '--dir', join(work, 'bad-pw'), '--key-file', keyFile, '--json'],
      {
        ...dbEnv('app'),
        DB_PASSWORD: `${password}x`,
      },
    );
    assert.equal(wrongPassword.status, 1);
    assert.equal(oneJsonLine(wrongPassword.stdout).error.code, 'PGW_CONN_AUTH_FAILED');
  });

  test('pgwarden --help lists the backup command; backup --help its subcommands', () => {
    assert.match(
      run(['--help']).stdout,
      /backup <command>\s+Encrypted, compressed, verified backups: create, list,/,
    );
    const help = run(['backup', '--help']);
    assert.equal(help.status, 0);
    for (const sub of ['create', 'list', 'verify', 'restore', 'cleanup', 'keygen'])
      assert.match(help.stdout, new RegExp(`^  ${sub} `, 'm'));
  });
});
