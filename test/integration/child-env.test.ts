// What pg_dump and pg_restore receive from `pgwarden backup`: each real tool
// is wrapped by a script (given with --pg-bin) that records the environment
// it was started with, then runs the real tool. Secrets of the parent
// (VAULT_TOKEN, AWS keys, PGWARDEN_STORE_PASSPHRASE, PGPASSWORD) must reach
// none of them: only PATH, HOME, TMPDIR, TZ, locale and the PG* variables
// pgwarden sets, and those only for the tools that connect; plus, where
// coreutils' stdbuf runs a tool, the two variables stdbuf itself sets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFile } from '../../src/backup/index.js';
import { findPgTool } from '../../src/backup/pg-tools.js';
import { STDIO_BUFFER } from '../../src/backup/stdio-buffer.js';
import {
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
const secrets = {
  VAULT_TOKEN: canary(),
  AWS_ACCESS_KEY_ID: canary(),
  AWS_SECRET_ACCESS_KEY: canary(),
  AWS_SESSION_TOKEN: canary(),
  PGWARDEN_STORE_PASSPHRASE: canary(),
  SOME_APPLICATION_SECRET: canary(),
};
/** What any tool may inherit from pgwarden's environment. */
const INHERITABLE = /^(PATH|HOME|TMPDIR|TZ|LANG|LANGUAGE|LC_[A-Z_]+|LD_LIBRARY_PATH)$/;
/** The libpq variables pgwarden sets for a tool that connects. */
const CONNECTING =
  /^PG(HOST|PORT|USER|DATABASE|APPNAME|SSLMODE|SSLMINPROTOCOLVERSION|CHANNELBINDING|CONNECT_TIMEOUT|PASSFILE|SSLNEGOTIATION|SSLROOTCERT|SSLCERT|SSLKEY)$/;

/** What stdbuf sets for the tool it runs (stdio-buffer.ts), and the only values they may have. */
const STDBUF: Record<string, RegExp> = {
  LD_PRELOAD: /^\/[^:\s]*\/libstdbuf\.so$/,
  _STDBUF_O: new RegExp(`^${STDIO_BUFFER}$`),
  _STDBUF_I: new RegExp(`^${STDIO_BUFFER}$`),
};

let skipReason: string | undefined;
let cluster: Cluster;
let work: string;
let bin: string;
let records: string;
let keyFile: string;

interface Recorded {
  tool: string;
  args: string[];
  env: Map<string, string>;
}

/** One script per tool: record argv and the environment it was started with, then run the real tool. */
function wrap(tool: 'pg_dump' | 'pg_restore', real: string): void {
  const script = `#!/bin/sh
n="${records}/${tool}.$$"
tr '\\0' '\\n' < /proc/$$/environ > "$n.env"
printf '%s\\n' "$@" > "$n.args"
exec "${real}" "$@"
`;
  const path = join(bin, tool);
  writeFileSync(path, script);
  chmodSync(path, 0o755);
}

function recorded(): Recorded[] {
  const names = readdirSync(records).filter((n) => n.endsWith('.env'));
  return names.map((name) => {
    const base = name.slice(0, -'.env'.length);
    const env = new Map<string, string>();
    for (const line of readFileSync(join(records, name), 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
    }
    const args = readFileSync(join(records, `${base}.args`), 'utf8')
      .split('\n')
      .filter(Boolean);
    return { tool: base.replace(/\.\d+$/, ''), args, env };
  });
}

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables(['AWS_', 'VAULT_']);
  // The password comes from PGPASSWORD, as a cron job's environment would give it.
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: { ...clean, ...secrets, PGPASSWORD: password, LANG: 'C.UTF-8', TZ: 'UTC' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  for (const value of [password, ...Object.values(secrets)])
    assertNoCanary(result.stdout + result.stderr, value);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function url(database: string): string {
  // No password in the URL: it comes from PGPASSWORD.
  return cluster.url({ user: 'app', database, params: { sslmode: 'disable' } });
}

function assertAllowListed(r: Recorded, connects: boolean): void {
  const context = `${r.tool} ${r.args.join(' ')}`;
  const environ = [...r.env].map(([key, value]) => `${key}=${value}`).join('\n');
  for (const secret of [password, ...Object.values(secrets)]) assertNoCanary(environ, secret);
  for (const [key, value] of r.env) {
    if (Object.hasOwn(STDBUF, key)) {
      assert.match(value, STDBUF[key]!, `${context} received ${key}=${value}`);
      continue;
    }
    const allowed = INHERITABLE.test(key) || (connects && CONNECTING.test(key));
    assert.ok(allowed, `${context} received ${key}`);
  }
  assert.ok(r.env.has('PATH'), `${context} lost PATH`);
  assert.equal(r.env.get('LANG'), 'C.UTF-8', `${context} lost the locale`);
  assert.equal(r.env.get('TZ'), 'UTC', `${context} lost TZ`);
  if (connects) {
    assert.ok(r.env.has('PGPASSFILE'), `${context} has no passfile`);
    assert.ok(r.env.has('PGHOST'), `${context} has no PGHOST`);
  }
}

before(async () => {
  let dump;
  let restore;
  try {
    dump = findPgTool('pg_dump');
    restore = findPgTool('pg_restore');
  } catch (error) {
    skipReason = `pg_dump/pg_restore not installed: ${(error as Error).message}`;
    return;
  }
  work = mkdtempSync(join(tmpdir(), 'pgw-childenv-'));
  bin = join(work, 'bin');
  records = join(work, 'records');
  mkdirSync(bin);
  mkdirSync(records);
  wrap('pg_dump', dump.path);
  wrap('pg_restore', restore.path);
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'k');
  generateKeyFile(keyFile);
  cluster = await startCluster();
  await cluster.createRole('app', { password, attributes: 'LOGIN CREATEDB' });
  await cluster.createDatabase('app', 'app');
  await cluster.createDatabase('copy', 'app');
  await cluster.adminQuery('SELECT 1');
  const pool = await (
    await import('../../src/pool/pool.js')
  ).createPool({ url: cluster.url({ user: 'app', password, database: 'app' }), env: {}, checkRole: false });
  await pool.query('CREATE TABLE t AS SELECT generate_series(1, 100) AS id');
  await pool.close();
});

after(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('backup tools get an allow-listed environment', () => {
  test('create, verify --level 2 and restore: no parent secret reaches any pg_dump or pg_restore', (t) => {
    if (skipReason) return t.skip(skipReason);
    const dir = join(work, 'backups');
    const created = run([
      'backup',
      'create',
      '--url',
      url('app'),
      '--dir',
      dir,
      '--key-file',
      keyFile,
      '--pg-bin',
      bin,
      '--json',
    ]);
    assert.equal(created.status, 0, created.stdout + created.stderr);
    const id = (JSON.parse(created.stdout.trim()) as { id: string }).id;
    const verified = run([
      'backup',
      'verify',
      id,
      '--dir',
      dir,
      '--level',
      '2',
      '--key-file',
      keyFile,
      '--pg-bin',
      bin,
      '--json',
    ]);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    const restored = run([
      'backup',
      'restore',
      id,
      '--dir',
      dir,
      '--url',
      url('copy'),
      '--key-file',
      keyFile,
      '--pg-bin',
      bin,
      '--json',
    ]);
    assert.equal(restored.status, 0, restored.stdout + restored.stderr);

    const runs = recorded();
    const probes = runs.filter((r) => r.args.includes('--version'));
    const lists = runs.filter((r) => r.args.includes('--list'));
    const connecting = runs.filter((r) => !r.args.includes('--version') && !r.args.includes('--list'));
    assert.ok(probes.length >= 2, `version probes: ${probes.length}`);
    assert.equal(lists.length, 1);
    assert.deepEqual(connecting.map((r) => r.tool).sort(), ['pg_dump', 'pg_restore']);
    for (const r of [...probes, ...lists]) assertAllowListed(r, false);
    for (const r of connecting) assertAllowListed(r, true);
  });
});
