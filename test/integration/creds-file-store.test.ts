// The encrypted credential store (`creds --store file`) under real
// concurrency (issue 12, item 7): separate CLI processes adding and rotating
// at the same time all keep their changes, because every read-modify-write
// of credentials.json and credentials.enc runs under one lock and re-reads
// inside it; a lock held too long is a coded error that changes nothing; a
// tampered header cannot make the reader run scrypt with a huge cost.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool } from '../../src/pool/pool.js';
import { parseDotenv } from '../../src/secrets/dotenv-parser.js';
import {
  assertNoCanary,
  canary,
  hasTool,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const passphrase = canary();
const adminPassword = canary();
const appPassword = canary();
const exportPassword = canary();
const poolPassword = canary();
let cluster: Cluster;
let dir: string;
let home: string;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the child (VmHWM), in bytes, sampled every 10 ms. */
  peakRss: number;
}

/** One CLI child, asynchronous so several run at once. */
function creds(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const clean = withoutConnectionVariables();
  const child = spawn(process.execPath, [...CLI, 'creds', ...args], {
    env: { ...clean, PGWARDEN_HOME: home, PGWARDEN_STORE_PASSPHRASE: passphrase, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  let peakRss = 0;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const poll = setInterval(() => {
    try {
      const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
      if (kb) peakRss = Math.max(peakRss, Number(kb) * 1024);
    } catch {
      // exited
    }
  }, 10);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(poll);
      for (const secret of [passphrase, adminPassword, poolPassword]) assertNoCanary(stdout + stderr, secret);
      resolve({ status: code ?? -1, stdout, stderr, peakRss });
    }),
  );
}

/** A real POSIX sh running `script`, asynchronously (the cluster answers from this process's harness). */
function sh(
  script: string,
  env: Record<string, string>,
): Promise<{ status: number; stdout: string; stderr: string }> {
  const clean = withoutConnectionVariables();
  const child = spawn('/bin/sh', ['-c', script], {
    env: {
      ...clean,
      PGWARDEN_HOME: home,
      PGWARDEN_STORE_PASSPHRASE: passphrase,
      NODE: process.execPath,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr })),
  );
}

async function storedPassword(name: string): Promise<string> {
  const shown = await creds(['show', name, '--password', '--json']);
  assert.equal(shown.status, 0, shown.stderr);
  return (JSON.parse(shown.stdout) as { password: string }).password;
}

async function listed(): Promise<string[]> {
  const list = await creds(['list', '--json']);
  assert.equal(list.status, 0, list.stderr);
  return (JSON.parse(list.stdout) as Array<{ name: string }>).map((e) => e.name).sort();
}

async function canLogin(user: string, password: string): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: cluster.port,
    user,
    password,
    database: 'postgres',
  });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-filestore-'));
  cluster = await startCluster();
  await cluster.createRole('admin', { password: adminPassword, attributes: 'LOGIN CREATEROLE' });
  await cluster.createRole('app', { password: appPassword });
  // Own roles for the export and pool tests: the race test rotates app's password.
  await cluster.createRole('export_app', { password: exportPassword });
  await cluster.createRole('pool_app', { password: poolPassword });
});

after(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('creds --store file: concurrent writers', () => {
  test('six concurrent `creds add --store file` processes: all six are stored', async () => {
    home = join(dir, 'six');
    const passwords = Array.from({ length: 6 }, () => canary());
    const runs = await Promise.all(
      passwords.map((password, i) =>
        creds(
          [
            'add',
            `env${i}`,
            '--store',
            'file',
            '--password-stdin',
            '--host',
            'db.example.com',
            '--user',
            `u${i}`,
          ],
          {
            input: password,
          },
        ),
      ),
    );
    for (const run of runs) assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(await listed(), ['env0', 'env1', 'env2', 'env3', 'env4', 'env5']);
    for (const [i, password] of passwords.entries()) assert.equal(await storedPassword(`env${i}`), password);
    assert.equal(existsSync(join(home, '.credentials.lock')), false, 'the lock is released');
  });

  test('a rotation racing nine adds: every add survives, and the rotated password is the one stored', async () => {
    home = join(dir, 'race');
    const url = cluster.url({ user: 'app' }).replace(/\?.*$/, '');
    const added = await creds(['add', 'app', '--store', 'file', '--password-stdin', '--url', url], {
      input: appPassword,
    });
    assert.equal(added.status, 0, added.stderr);
    const passwords = Array.from({ length: 9 }, () => canary());
    const admin = cluster.url({ user: 'admin', password: adminPassword });
    const [rotation, ...adds] = await Promise.all([
      creds(['rotate', 'app', '--url', admin, '--json']),
      ...passwords.map((password, i) =>
        creds(['add', `extra${i}`, '--store', 'file', '--password-stdin', '--host', 'db.example.com'], {
          input: password,
        }),
      ),
    ]);
    assert.equal(rotation!.status, 0, rotation!.stderr);
    for (const run of adds) assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(await listed(), ['app', ...passwords.map((_, i) => `extra${i}`)].sort());
    for (const [i, password] of passwords.entries())
      assert.equal(await storedPassword(`extra${i}`), password);
    const rotated = await storedPassword('app');
    assert.notEqual(rotated, appPassword);
    assert.equal(await canLogin('app', rotated), true, 'the stored password is the one the server has');
    assert.equal(await canLogin('app', appPassword), false);
  });

  test('a lock held by a live process past PGWARDEN_LOCK_TIMEOUT_MS: PGW_CREDS_STORE_BUSY, nothing changed', async () => {
    home = join(dir, 'busy');
    const first = await creds(['add', 'kept', '--store', 'file', '--password-stdin'], { input: canary() });
    assert.equal(first.status, 0, first.stderr);
    const before = readFileSync(join(home, 'credentials.enc'), 'utf8');
    // This test process is alive on this host: its lock must be waited for, not taken over.
    const lock = join(home, '.credentials.lock');
    writeFileSync(
      lock,
      JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }),
      {
        mode: 0o600,
      },
    );
    try {
      const busy = await creds(['add', 'blocked', '--store', 'file', '--password-stdin'], {
        input: canary(),
        env: { PGWARDEN_LOCK_TIMEOUT_MS: '400' },
      });
      assert.equal(busy.status, 1, busy.stdout + busy.stderr);
      assert.match(busy.stderr, new RegExp(`PGW_CREDS_STORE_BUSY.*pid ${process.pid}`));
      assert.deepEqual(await listed(), ['kept']);
      assert.equal(readFileSync(join(home, 'credentials.enc'), 'utf8'), before);
    } finally {
      rmSync(lock, { force: true });
    }
    // A lock left by a process that no longer exists is taken over.
    writeFileSync(
      lock,
      JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), startedAt: '2026-01-01T00:00:00Z' }),
      {
        mode: 0o600,
      },
    );
    const after = await creds(['add', 'after', '--store', 'file', '--password-stdin'], { input: canary() });
    assert.equal(after.status, 0, after.stderr);
    assert.deepEqual(await listed(), ['after', 'kept']);
  });
});

describe('creds export for shells and .env files (issue 13)', () => {
  test('eval "$(pgwarden creds export … --format env --passfile F)" in sh: its child sees the variables and logs in', async (t) => {
    if (!hasTool(cluster.binaries, 'psql'))
      return t.skip('no psql next to the server binaries (embedded binaries)');
    home = join(dir, 'export');
    const url = cluster.url({ user: 'export_app' }).replace(/\?.*$/, '');
    const added = await creds(['add', 'app', '--store', 'file', '--password-stdin', '--url', url], {
      input: exportPassword,
    });
    assert.equal(added.status, 0, added.stderr);
    const passfile = join(dir, 'export', 'pgpass');
    const psql = join(cluster.binDir, 'psql');
    // The child is psql: it reads PGHOST, PGPORT, PGUSER, PGDATABASE and the passfile, as any libpq tool.
    const script = `eval "$("$NODE" ${CLI.join(' ')} creds export app --format env --passfile "$PF")" && "$PSQL" -XAtc 'SELECT current_user' && env`;
    const shell = await sh(script, { PF: passfile, PSQL: psql });
    assert.equal(shell.status, 0, shell.stderr);
    const [user, ...envLines] = shell.stdout.split('\n');
    assert.equal(user, 'export_app');
    const childEnv = new Map(envLines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(childEnv.get('PGHOST'), '127.0.0.1');
    assert.equal(childEnv.get('PGPORT'), String(cluster.port));
    assert.equal(childEnv.get('PGPASSFILE'), passfile);
    assert.equal(childEnv.has('PGPASSWORD'), false, 'the password is not in the environment');
    assertNoCanary(shell.stdout + shell.stderr, exportPassword);
    assert.equal(statSync(passfile).mode & 0o777, 0o600);
    assert.match(
      readFileSync(passfile, 'utf8'),
      new RegExp(`^127\\.0\\.0\\.1:${cluster.port}:postgres:export_app:`),
    );
  });

  test('values that are shell syntax stay literal; dotenv reads back exactly', async () => {
    home = join(dir, 'export-hostile');
    const marker = join(dir, 'PWNED');
    const database = `it's $(touch ${marker}) \`touch ${marker}\` "q" \\ ; end`;
    const added = await creds(
      [
        'add',
        'odd',
        '--store',
        'file',
        '--password-stdin',
        '--host',
        'db.example.com',
        '--database',
        database,
      ],
      { input: canary() },
    );
    assert.equal(added.status, 0, added.stderr);
    const shell = await sh(`eval "$("$NODE" ${CLI.join(' ')} creds export odd --format env)" && env`, {});
    assert.equal(shell.status, 0, shell.stderr);
    assert.ok(shell.stdout.split('\n').includes(`PGDATABASE=${database}`), shell.stdout);
    assert.match(shell.stderr, /password not included; add --passfile FILE/);
    assert.equal(existsSync(marker), false, 'nothing in the values ran');

    const dotenv = await creds(['export', 'odd', '--format', 'dotenv']);
    assert.equal(dotenv.status, 0, dotenv.stderr);
    assert.doesNotMatch(dotenv.stdout, /^export /m);
    const parsed = parseDotenv(dotenv.stdout);
    assert.equal(parsed.get('PGDATABASE'), database);
    assert.equal(parsed.get('PGHOST'), 'db.example.com');

    const both = await creds([
      'export',
      'odd',
      '--format',
      'env',
      '--passfile',
      join(dir, 'x'),
      '--password',
    ]);
    assert.equal(both.status, 2, both.stderr);
    const uri = await creds(['export', 'odd', '--format', 'uri', '--passfile', join(dir, 'x')]);
    assert.equal(uri.status, 2, uri.stderr);
    assert.match(uri.stderr, /--passfile goes with --format env or dotenv/);
  });
});

describe('an application reads what creds --store file stored (issue 13)', () => {
  test('createPool with SECRETS_BACKEND=keychain logs in with the file store; the key is derived once across refreshes', async () => {
    home = join(dir, 'app-pool');
    const url = cluster.url({ user: 'pool_app' }).replace(/\?.*$/, '');
    const added = await creds(['add', 'app', '--store', 'file', '--password-stdin', '--url', url], {
      input: poolPassword,
    });
    assert.equal(added.status, 0, added.stderr);
    const passphraseFile = join(dir, 'app-pool-passphrase');
    writeFileSync(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
    const lines: string[] = [];
    const pool = await createPool({
      env: {
        SECRETS_BACKEND: 'keychain',
        DB_CREDENTIALS_ENV: 'app',
        PGWARDEN_HOME: home,
        PGWARDEN_STORE_PASSPHRASE_FILE: passphraseFile,
      },
      logger: {
        info: (...a: unknown[]) => lines.push(String(a)),
        warn: (...a: unknown[]) => lines.push(String(a)),
        error: (...a: unknown[]) => lines.push(String(a)),
      },
      idleTimeoutMs: 20,
      secretsCache: { ttlMs: 30 },
    });
    try {
      for (let i = 0; i < 6; i++) {
        assert.equal((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'pool_app');
        await sleep(60); // idle connections close and the TTL passes: the next query refetches
      }
      const info = pool.credentialsInfo();
      assert.equal(info.backend, 'keychain');
      assert.equal(info.description.store, 'file');
      assert.equal(info.description.passphraseSource, 'PGWARDEN_STORE_PASSPHRASE_FILE');
      assert.ok((info.cache?.fetches as number) >= 3, `fetches ${String(info.cache?.fetches)}`);
      assert.equal(info.description.keyDerivations, 1, 'scrypt ran once for all the refreshes');
      for (const line of lines) {
        assertNoCanary(line, poolPassword);
        assertNoCanary(line, passphrase);
      }
    } finally {
      await pool.close();
    }
  });

  test('no passphrase, a wrong one, a group-readable passphrase file: coded errors naming the setting', async () => {
    home = join(dir, 'app-pool');
    const env = { SECRETS_BACKEND: 'keychain', DB_CREDENTIALS_ENV: 'app', PGWARDEN_HOME: home };
    const bad = join(dir, 'bad-passphrase');
    writeFileSync(bad, 'not the passphrase at all\n', { mode: 0o600 });
    const open = join(dir, 'open-passphrase');
    writeFileSync(open, passphrase, { mode: 0o640 });
    for (const [extra, code, option] of [
      [{}, 'PGW_SECRET_CONFIG', 'PGWARDEN_STORE_PASSPHRASE_FILE'],
      [{ PGWARDEN_STORE_PASSPHRASE_FILE: bad }, 'PGW_SECRET_ACCESS_DENIED', 'PGWARDEN_STORE_PASSPHRASE_FILE'],
      [
        { PGWARDEN_STORE_PASSPHRASE_FILE: open },
        'PGW_SECRET_FILE_PERMISSIONS',
        'PGWARDEN_STORE_PASSPHRASE_FILE',
      ],
    ] as const) {
      await assert.rejects(
        createPool({ env: { ...env, ...extra } }),
        (error: Error & { code?: string; option?: string }) => {
          assert.equal(error.code, code, error.message);
          assert.equal(error.option, option);
          assertNoCanary(error.message, passphrase);
          return true;
        },
      );
    }
  });
});

describe('creds --store file: a tampered header', () => {
  test('scrypt parameters above 1 GiB are refused before derivation (PGW_CREDS_METADATA_INVALID), in little memory', async () => {
    home = join(dir, 'tampered');
    const added = await creds(['add', 'prod', '--store', 'file', '--password-stdin'], { input: canary() });
    assert.equal(added.status, 0, added.stderr);
    const path = join(home, 'credentials.enc');
    const file = JSON.parse(readFileSync(path, 'utf8')) as { kdf: { N: number; r: number } };
    // 2 GiB: within what the old reader accepted (N up to 2^22, r up to 32), twice the bound.
    file.kdf.N = 2 ** 21;
    file.kdf.r = 8;
    writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
    const shown = await creds(['show', 'prod', '--password']);
    assert.equal(shown.status, 1, shown.stdout + shown.stderr);
    assert.match(
      shown.stderr,
      /PGW_CREDS_METADATA_INVALID: .*credentials\.enc: its header asks for scrypt parameters/,
    );
    assert.ok(shown.peakRss < 512 * 2 ** 20, `peak RSS ${Math.round(shown.peakRss / 2 ** 20)} MiB`);
  });
});
