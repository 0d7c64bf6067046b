// Whoever can connect chooses text that pgwarden prints: query text (kept
// verbatim in pg_stat_activity), application names, role and table names.
// None of it may drive the terminal (ESC, BEL, CR, C1 controls) and none of
// it may smuggle a statement into SQL that pgwarden prints for `psql -f`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import {
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
/** Clears the screen, sets the window title, rings the bell, overwrites the line, reverses text. */
const HOSTILE = '\u001b]0;owned\u0007\u001b[2J\r\u009b31m\u202e';
const HOSTILE_ROLE = `evil${HOSTILE}\nDROP TABLE public.victim;`;
const HOSTILE_TABLE = 't\n; DROP TABLE public.victim; --';
/** Any control character but the newlines that separate lines (and tabs). */
// eslint-disable-next-line no-control-regex -- the characters under test
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
let cluster: Cluster;
let work: string;
let sleeper: pg.Client;
let sleeping: Promise<unknown>;

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: clean,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assertNoCanary(result.stdout + result.stderr, password);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function assertNoRawControl(text: string, what: string): void {
  const at = text.search(RAW_CONTROL);
  assert.equal(
    at,
    -1,
    `${what} prints a raw control character: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))}`,
  );
}

function url(database = 'postgres'): string {
  return cluster.url({ user: 'mon', password, database, params: { sslmode: 'disable' } });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-hostile-'));
  cluster = await startCluster();
  await cluster.createRole('mon', { password, attributes: 'LOGIN SUPERUSER' });
  await cluster.createRole(HOSTILE_ROLE, { password, attributes: 'LOGIN SUPERUSER' });
  await cluster.createDatabase('app', 'mon');
  // (The server itself replaces non-ASCII in application_name with "?": the role name carries the attack.)
  sleeper = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: HOSTILE_ROLE,
    password,
    database: 'app',
  });
  await sleeper.connect();
  sleeper.on('error', () => undefined);
  sleeping = sleeper.query(`SELECT pg_sleep(120) /* ${HOSTILE} */`).catch(() => undefined);
  const admin = new pg.Client({ connectionString: url('app') });
  await admin.connect();
  await admin.query(
    `CREATE TABLE public.victim (id int); CREATE TABLE public.${pg.escapeIdentifier(HOSTILE_TABLE)} (id int)`,
  );
  await admin.end();
  // The statement must have run long enough to count as long-running.
  await delay(300);
});

after(async () => {
  await sleeper?.end().catch(() => undefined);
  await sleeping;
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('text from the server is neutralised', () => {
  test('monitor --once: query text and application names with ESC/BEL are shown escaped', () => {
    const out = run(['monitor', '--once', '--url', url(), '--long-query', '100ms']);
    assert.equal(out.status, 0, out.stderr);
    assertNoRawControl(out.stdout, 'monitor');
    // (Query text is collapsed to one line first: the CR became a space.)
    assert.match(out.stdout, /pg_sleep\(120\) \/\* \\x1b\]0;owned\\x07\\x1b\[2J \\x9b31m\\u202e \*\//);
    assert.match(out.stdout, /evil\\x1b/, 'the hostile role is listed by user');
  });

  test('incident sessions: role names are shown escaped', () => {
    const out = run(['incident', 'sessions', '--url', url()]);
    assert.equal(out.status, 0, out.stderr);
    assertNoRawControl(out.stdout, 'incident sessions');
    assert.match(out.stdout, /evil\\x1b\]0;owned\\x07/);
  });

  test('audit text: role names are shown escaped', () => {
    const out = run(['audit', '--url', url(), '--format', 'text', '--no-color']);
    assert.ok(out.status === 0 || out.status === 1, out.stderr);
    assertNoRawControl(out.stdout, 'audit');
    assert.match(out.stdout, /evil\\x1b/, 'the hostile superuser is reported');
  });

  test('roles plan: names from the catalog cannot end a comment; the plan runs under psql -f and drops nothing', () => {
    const file = join(work, 'roles.yaml');
    writeFileSync(
      file,
      'version: 1\ndatabase: app\ngroups:\n  app_ro: { preset: readonly, schemas: [public] }\n',
    );
    const plan = run(['roles', 'plan', '--file', file, '--url', url('app')]);
    assert.equal(plan.status, 0, plan.stderr);
    assertNoRawControl(plan.stdout, 'roles plan');
    // The GRANT on the hostile table: one line, the name exact (U& escapes), the reason escaped.
    assert.match(plan.stdout, /^-- app_ro lacks SELECT on public\.t\\n; DROP TABLE public\.victim; --$/m);
    const planFile = join(work, 'plan.sql');
    writeFileSync(planFile, plan.stdout);
    const psql = spawnSync(
      join(cluster.binDir, 'psql'),
      [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        cluster.socketDir,
        '-p',
        String(cluster.port),
        '-U',
        cluster.superuser,
        '-d',
        'app',
        '-f',
        planFile,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(psql.status, 0, psql.stderr);
    const check = spawnSync(
      join(cluster.binDir, 'psql'),
      [
        '-X',
        '-At',
        '-h',
        cluster.socketDir,
        '-p',
        String(cluster.port),
        '-U',
        cluster.superuser,
        '-d',
        'app',
        '-c',
        `SELECT to_regclass('public.victim') IS NOT NULL, has_table_privilege('app_ro', 'public.${pg.escapeIdentifier(HOSTILE_TABLE).replace(/'/g, "''")}', 'SELECT')`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(check.stdout.trim(), 't|t', check.stderr);
    // Nothing left to do: the plan did exactly what it said.
    const again = run(['roles', 'plan', '--file', file, '--url', url('app'), '--check']);
    assert.equal(again.status, 0, again.stdout + again.stderr);
  });

  test('roles file: a name with a control character is refused (exit 2), naming the key', () => {
    const file = join(work, 'bad-roles.yaml');
    writeFileSync(
      file,
      'version: 1\ndatabase: app\ngroups:\n  "ro\\nDROP TABLE victim;": { preset: readonly, schemas: [public] }\n',
    );
    const plan = run(['roles', 'plan', '--file', file, '--url', url('app')]);
    assert.equal(plan.status, 2, plan.stdout + plan.stderr);
    assert.match(plan.stderr, /PGW_ROLES_FILE_INVALID: .*control character/);
    assertNoRawControl(plan.stderr, 'the refusal');
  });
});
