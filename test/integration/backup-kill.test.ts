// A `backup create` killed with SIGKILL runs no cleanup code at all. The
// secrets pg_dump needs (the password, a decrypted client key) must then
// still be nowhere on disk: pg_dump receives them as descriptors of files
// that were unlinked before it started. Stale directories of killed older
// runs are removed by the next run, only when their owner process is gone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateKeyFile } from '../../src/backup/index.js';
import { findPgTool } from '../../src/backup/pg-tools.js';
import { createPool } from '../../src/pool/pool.js';
import {
  assertNoCanary,
  canary,
  createPki,
  encryptClientKey,
  isProcessAlive,
  startCluster,
  until,
  waitForProcessExit,
  type Cluster,
  type Pki,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
const keyPassphrase = canary();
let cluster: Cluster;
let pki: Pki;
let work: string;
let keyFile: string;
/** The client key as pg_dump needs it (decrypted PKCS#8): the secret that must not stay on disk. */
let plainKeyBody: string;
let skipReason: string | undefined;

/** DB_* variables with every TLS file inline: the CA, the client certificate, an encrypted client key. */
function dbEnv(tmp: string): NodeJS.ProcessEnv {
  const clean = withoutConnectionVariables();
  const client = pki.client('app');
  return {
    ...clean,
    TMPDIR: tmp,
    DB_HOST: 'localhost',
    DB_PORT: String(cluster.port),
    DB_NAME: 'app',
    DB_USER: 'app',
    DB_PASSWORD: password,
    DB_SSL: 'true',
    DB_SSL_CA: pki.ca.certPem,
    DB_SSL_CERT: client.certPem,
    DB_SSL_KEY: encryptClientKey(client.keyPem, keyPassphrase),
    DB_SSL_KEY_PASSPHRASE: keyPassphrase,
  };
}

function childrenNamed(pid: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && comm === name) found.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/** Every regular file under `dir` (tsx keeps its cache there too), with its content. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const entry of readdirSync(dir, { recursive: true })) {
    const path = join(dir, String(entry));
    try {
      if (statSync(path).isFile()) out.push({ path, text: readFileSync(path, 'latin1') });
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

function assertNoSecretIn(dir: string): void {
  for (const { path, text } of filesUnder(dir)) {
    assertNoCanary(text, password);
    assert.ok(!text.includes(plainKeyBody), `the decrypted client key is on disk: ${path}`);
  }
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith('pgwarden-libpq')),
    [],
    'a pgwarden-libpq directory remains',
  );
}

before(async () => {
  if (process.platform !== 'linux') {
    skipReason = 'descriptor passing through /dev/fd is the Linux mechanism (see docs/backup.md)';
    return;
  }
  work = mkdtempSync(join(tmpdir(), 'pgw-bkkill-'));
  pki = await createPki({ clientRoles: ['app'] });
  cluster = await startCluster({
    tls: { pki },
    hba: ['hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-full'],
  });
  await cluster.createRole('app', { password, attributes: 'LOGIN' });
  await cluster.createDatabase('app', 'app');
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'k');
  generateKeyFile(keyFile);
  const plain = createPrivateKey({ key: pki.client('app').keyPem, format: 'pem' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  // One base64 line of the key body: present in any copy of the decrypted key.
  plainKeyBody = plain.split('\n')[1]!;
  assert.ok(plainKeyBody.length >= 40);
});

after(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('SIGKILL of backup create', () => {
  test('mid-dump: no password, no decrypted client key and no pgwarden-libpq directory remain on disk', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const dir = join(work, 'killed');
    const app = await createPool({ env: dbEnv(tmp), checkRole: false });
    await app.query('CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t VALUES (1)');
    await app.close();
    // The cluster admin (over the private socket) holds a lock pg_dump waits for, inside the dump.
    const lock = await holdLock('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    try {
      const child = spawn(
        process.execPath,
        [...CLI, 'backup', 'create', '--dir', dir, '--key-file', keyFile, '--json'],
        {
          env: dbEnv(tmp),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const dump = await until('pg_dump to start dumping', () =>
        childrenNamed(child.pid!, 'pg_dump').find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--snapshot=');
          } catch {
            return false;
          }
        }),
      );
      // pg_dump is inside the dump (waiting for the lock), with everything it needs open.
      const environ = readFileSync(`/proc/${dump}/environ`, 'utf8').split('\0');
      const variable = (name: string) =>
        environ.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1);
      for (const name of ['PGPASSFILE', 'PGSSLKEY']) {
        const value = variable(name);
        assert.match(value ?? '', /^\/dev\/fd\/\d+$/, `${name}=${value}`);
        const target = readlinkSync(`/proc/${dump}/fd/${value!.slice('/dev/fd/'.length)}`);
        assert.match(target, / \(deleted\)$/, `${name} is a file with a name: ${target}`);
      }
      assertNoSecretIn(tmp);

      process.kill(child.pid!, 'SIGKILL');
      await exited;
      assertNoSecretIn(tmp);
      assertNoCanary(output, password);
      assertNoCanary(output, keyPassphrase);
      // pg_dump dies on its broken pipe once the lock is gone.
      await lock.release();
      assert.ok(await waitForProcessExit(dump, 15_000), 'pg_dump still running');
      assertNoSecretIn(tmp);
    } finally {
      await lock.release();
    }
  });

  test('restore --jobs 2: a SIGKILL while pg_restore runs leaves no decrypted dump on disk', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const rowSecret = canary();
    const app = await createPool({ env: dbEnv(tmp), checkRole: false });
    await app.query('CREATE TABLE IF NOT EXISTS notes (body text)');
    await app.query('INSERT INTO notes VALUES ($1)', [rowSecret]);
    await app.close();
    const dir = join(work, 'for-restore');
    const made = spawnSync(
      process.execPath,
      [...CLI, 'backup', 'create', '--dir', dir, '--key-file', keyFile, '--json'],
      {
        env: dbEnv(tmp),
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(made.status, 0, made.stdout + made.stderr);
    const id = (JSON.parse(made.stdout.trim()) as { id: string }).id;
    await cluster.createDatabase('restore_target', 'app');
    // pg_restore, wrapped: it waits before running, with the decrypted dump handed to it.
    const bin = join(work, 'slow-bin');
    mkdirSync(bin, { recursive: true });
    const real = findPgTool('pg_restore').path;
    writeFileSync(
      join(bin, 'pg_restore'),
      `#!/bin/sh\ncase "$1" in --version) exec "${real}" "$@";; esac\nsleep 60\nexec "${real}" "$@"\n`,
      { mode: 0o755 },
    );
    // --url names the target; the password and every TLS file still come from the DB_* variables.
    const target = cluster.url({ user: 'app', database: 'restore_target' }).replace('127.0.0.1', 'localhost');
    const child = spawn(
      process.execPath,
      [
        ...CLI,
        'backup',
        'restore',
        id,
        '--dir',
        dir,
        '--key-file',
        keyFile,
        '--jobs',
        '2',
        '--pg-bin',
        bin,
        '--url',
        target,
        '--json',
      ],
      { env: dbEnv(tmp), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const wrapper = await until('pg_restore to start', () =>
      childrenNamed(child.pid!, 'pg_restore').find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--jobs=2');
        } catch {
          return false;
        }
      }),
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${output}`);
    });
    try {
      const findings = () => filesUnder(tmp).filter((f) => f.text.includes(rowSecret));
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      assert.deepEqual(
        findings().map((f) => f.path),
        [],
        'the decrypted dump is on disk',
      );
      assert.deepEqual(
        readdirSync(tmp).filter((n) => n.startsWith('pgwarden')),
        [],
      );
      // The dump existed when pgwarden died: pg_restore holds it, as a descriptor only.
      const args = readFileSync(`/proc/${wrapper}/cmdline`, 'utf8').split('\0');
      const dumpArg = args.find((a) => a.startsWith('/dev/fd/'));
      assert.ok(dumpArg, `the dump is not a descriptor: ${args.join(' ')}`);
      const held = readFileSync(`/proc/${wrapper}/fd/${dumpArg.slice('/dev/fd/'.length)}`, 'latin1');
      assert.ok(held.includes(rowSecret), 'the handed-over dump is not the decrypted dump');
      assertNoCanary(output, password);
    } finally {
      process.kill(wrapper, 'SIGKILL');
      await waitForProcessExit(wrapper, 5_000);
    }
  });

  test('the next run removes stale directories whose owner process is gone, and keeps those of live processes', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(gone.stdout);
    assert.equal(isProcessAlive(deadPid), false);
    const stale = join(tmp, `pgwarden-libpq-${deadPid}-AbCdEf`);
    const live = join(tmp, `pgwarden-libpq-${process.pid}-GhIjKl`);
    const foreign = join(tmp, 'pgwarden-libpq-XyZ123');
    for (const d of [stale, live, foreign]) {
      mkdirSync(d, { mode: 0o700 });
      writeFileSync(join(d, 'pgpass'), `*:*:*:*:${password}\n`, { mode: 0o600 });
    }
    const result = spawnSync(
      process.execPath,
      [...CLI, 'backup', 'create', '--dir', join(work, 'second'), '--key-file', keyFile, '--json'],
      { env: dbEnv(tmp), encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(existsSync(stale), false, 'the stale directory of a dead process was kept');
    assert.equal(existsSync(live), true, 'the directory of a live process was removed');
    // Without an owner PID in its name (an older pgwarden), nobody can tell whether it is in use.
    assert.equal(existsSync(foreign), true);
  });
});

/** Holds `sql` in an open transaction as the cluster's admin, until released. */
async function holdLock(sql: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({
    host: cluster.socketDir,
    port: cluster.port,
    user: cluster.superuser,
    database: 'app',
  });
  await client.connect();
  await client.query('BEGIN');
  await client.query(sql);
  return {
    release: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
