// pgwarden monitor against real clusters in a provoked state: an idle-in-transaction
// session holding a password in its last statement, a long pg_sleep, TLS and plain
// sessions, a deadlock and a temp file; pg_stat_statements preloaded on one cluster
// and missing on the other. The live view is driven through tmux when it is installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { createPool } from '../../src/pool/pool.js';
import { takeSnapshot, type MonitorSnapshot, type SnapshotSource } from '../../src/monitor/snapshot.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
/** Written into a statement that is left idle in transaction, and into pg_stat_statements. */
const statementSecret = canary();
let withStatements: Cluster;
let plain: Cluster;
const clients: pg.Client[] = [];

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: clean,
    encoding: 'utf8',
    timeout: 60_000,
  });
  for (const secret of [password, statementSecret]) assertNoCanary(result.stdout + result.stderr, secret);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function client(cluster: Cluster, ssl: boolean): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: cluster.url({ user: 'app', password }),
    ssl: ssl ? { rejectUnauthorized: false } : false,
  });
  await c.connect();
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(50);
  }
}

function monitorUrl(cluster: Cluster, sslmode: string): string {
  return cluster.url({ user: 'mon', password, params: { sslmode } });
}

before(async () => {
  const pki = await createPki({ validityDays: 365 });
  [withStatements, plain] = await Promise.all([
    startCluster({
      tls: { pki },
      conf: { shared_preload_libraries: 'pg_stat_statements', deadlock_timeout: '100ms', work_mem: '64kB' },
    }),
    startCluster({}),
  ]);
  for (const cluster of [withStatements, plain]) {
    await cluster.createRole('app', { password });
    await cluster.createRole('mon', { password, inRoles: ['pg_read_all_stats'] });
  }
  await withStatements.adminQuery('CREATE EXTENSION pg_stat_statements');
  await withStatements.adminQuery(
    'CREATE TABLE locks (id int PRIMARY KEY); INSERT INTO locks VALUES (1), (2);',
  );
  await withStatements.adminQuery('GRANT ALL ON locks TO app');
});

after(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await Promise.all([withStatements?.stop(), plain?.stop()]);
});

describe('pgwarden monitor --once --json', () => {
  test('reports provoked sessions, the TLS split, slow statements and database counters', async () => {
    // A deadlock (deadlock_timeout is 100ms) and a temp file (work_mem is 64kB).
    const [a, b] = [await client(withStatements, true), await client(withStatements, true)];
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query('UPDATE locks SET id = id WHERE id = 1');
    await b.query('UPDATE locks SET id = id WHERE id = 2');
    const outcomes = await Promise.allSettled([
      a.query('UPDATE locks SET id = id WHERE id = 2'),
      b.query('UPDATE locks SET id = id WHERE id = 1'),
    ]);
    assert.ok(outcomes.some((o) => o.status === 'rejected' && /deadlock/.test(String(o.reason))));
    await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')]);
    await a.query('SELECT count(*) FROM (SELECT g FROM generate_series(1, 50000) g ORDER BY g DESC) s');
    for (let i = 0; i < 3; i++) await a.query('SELECT pg_sleep(0.05)');
    await waitFor('deadlock and temp file counters', async () => {
      const [row] = await withStatements.adminQuery<{ deadlocks: string; temp_files: string }>(
        "SELECT deadlocks, temp_files FROM pg_stat_database WHERE datname = 'postgres'",
      );
      return Number(row?.deadlocks) >= 1 && Number(row?.temp_files) >= 1;
    });

    // Idle in transaction over plain TCP, its last statement holding a password.
    const idle = await client(withStatements, false);
    const idlePid = (await idle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await idle.query('BEGIN');
    await idle.query(`ALTER ROLE app PASSWORD '${statementSecret}'`);
    // A long query over TLS.
    const sleeper = await client(withStatements, true);
    const sleeperPid = (await sleeper.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const sleeping = sleeper.query('SELECT pg_sleep(60)').catch(() => undefined);
    await waitFor('pg_sleep to run for 300 ms', async () => {
      const rows = await withStatements.adminQuery(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND now() - query_start > interval '300 ms'",
        [sleeperPid],
      );
      return rows.length === 1;
    });

    const { status, stdout } = run([
      'monitor',
      '--once',
      '--json',
      '--long-query',
      '300ms',
      '--url',
      monitorUrl(withStatements, 'require'),
    ]);
    await withStatements.adminQuery('SELECT pg_cancel_backend($1)', [sleeperPid]);
    await sleeping;
    await idle.query('ROLLBACK');
    assert.equal(status, 0, stdout);
    const snapshot = JSON.parse(stdout) as MonitorSnapshot;

    assert.equal(snapshot.visibility, 'full');
    assert.equal(snapshot.server.user, 'mon');
    const c = snapshot.connections;
    assert.equal(c.max, 100);
    assert.equal(c.usedShare, c.total / c.max);
    // The monitor's own session and the sleeper use TLS; the idle one does not; the harness uses the socket.
    assert.ok(c.byTls.tls >= 4, JSON.stringify(c.byTls));
    assert.ok(c.byTls.plain >= 1, JSON.stringify(c.byTls));
    assert.ok(c.byTls.local >= 1, JSON.stringify(c.byTls));
    assert.equal(c.byTls.tls + c.byTls.plain + c.byTls.local + c.byTls.unknown, c.total);
    assert.ok((c.byTls.versions['TLSv1.3'] ?? 0) + (c.byTls.versions['TLSv1.2'] ?? 0) === c.byTls.tls);
    assert.ok((c.byState['idle in transaction'] ?? 0) >= 1);
    assert.ok((c.byState.active ?? 0) >= 2);
    assert.ok((c.byUser.find((u) => u.user === 'app')?.count ?? 0) >= 4);

    const long = snapshot.longRunning.queries.find((q) => q.pid === sleeperPid);
    assert.ok(long, JSON.stringify(snapshot.longRunning));
    assert.equal(snapshot.longRunning.thresholdMs, 300);
    assert.ok(long.durationMs >= 300);
    assert.equal(long.query, 'SELECT pg_sleep(60)');
    assert.equal(long.ssl, true);
    assert.equal(long.waitEvent, 'Timeout:PgSleep');

    const idleSession = snapshot.idleInTransaction.sessions.find((s) => s.pid === idlePid);
    assert.ok(idleSession, JSON.stringify(snapshot.idleInTransaction));
    assert.equal(idleSession.query, "ALTER ROLE app PASSWORD '?'");
    assert.equal(idleSession.ssl, false);
    assert.equal(idleSession.aborted, false);
    assert.ok(idleSession.transactionMs >= idleSession.idleMs);

    assert.equal(snapshot.slowQueries.available, true);
    if (!snapshot.slowQueries.available) return;
    const sleeps = snapshot.slowQueries.statements.find((s) => s.query === 'SELECT pg_sleep($1)');
    assert.ok(sleeps, JSON.stringify(snapshot.slowQueries.statements));
    assert.ok(sleeps.calls >= 3 && sleeps.meanMs >= 50 && sleeps.user === 'app');
    // pg_stat_statements keeps utility statements verbatim in PostgreSQL 15: masked here.
    const alter = snapshot.slowQueries.statements.find((s) => s.query?.startsWith('ALTER ROLE app'));
    if (alter) assert.equal(alter.query, "ALTER ROLE app PASSWORD '?'");

    const db = snapshot.databases.find((d) => d.name === 'postgres');
    assert.ok(db);
    assert.ok(db.sizeBytes !== null && db.sizeBytes > 1_000_000);
    assert.ok(
      db.commits > 0 && db.rollbacks >= 2 && db.deadlocks >= 1 && db.tempFiles >= 1 && db.tempBytes > 0,
    );
    assert.ok(snapshot.hints.length === 0, snapshot.hints.join('\n'));
  });

  test('a cluster without pg_stat_statements gets a hint on how to enable it', () => {
    const { status, stdout } = run(['monitor', '--once', '--json', '--url', monitorUrl(plain, 'disable')]);
    assert.equal(status, 0, stdout);
    const snapshot = JSON.parse(stdout) as MonitorSnapshot;
    assert.equal(snapshot.slowQueries.available, false);
    if (snapshot.slowQueries.available) return;
    assert.match(snapshot.slowQueries.hint, /shared_preload_libraries = 'pg_stat_statements'/);
    assert.match(snapshot.slowQueries.hint, /CREATE EXTENSION pg_stat_statements/);
    assert.ok(snapshot.hints.includes(snapshot.slowQueries.hint));
    assert.equal(snapshot.connections.byTls.tls, 0);
  });

  test('the text form shows every section and the hint', () => {
    const { status, stdout } = run(['monitor', '--once', '--url', monitorUrl(plain, 'disable')]);
    assert.equal(status, 0, stdout);
    for (const heading of [
      /^Connections +\d+ of 100 max_connections/m,
      /^Long-running queries \(> 5\.0s\): 0/m,
    ]) {
      assert.match(stdout, heading);
    }
    assert.match(stdout, /^Idle in transaction: 0/m);
    assert.match(stdout, /^ {2}hint: Slow queries need pg_stat_statements/m);
    assert.match(stdout, /^Databases +size +backends +commits +rollbacks +deadlocks +temp files/m);
  });
});

describe('takeSnapshot (library)', () => {
  /** Counts statements sent over the real connections the pool hands out. */
  function counting(source: SnapshotSource): { source: SnapshotSource; count: () => number } {
    let count = 0;
    return {
      count: () => count,
      source: {
        async connect() {
          const c = await source.connect();
          const query = c.query.bind(c) as (...args: unknown[]) => unknown;
          (c as unknown as { query: unknown }).query = (...args: unknown[]) => {
            count++;
            return query(...args);
          };
          return c;
        },
      },
    };
  }

  test('one round trip without pg_stat_statements, two with it', async () => {
    for (const [cluster, sslMode, expected] of [
      [plain, 'disable', 1],
      [withStatements, 'require', 2],
    ] as const) {
      const pool = await createPool({
        url: monitorUrl(cluster, sslMode),
        enforcePolicy: false,
        checkRole: false,
        max: 1,
      });
      try {
        const counted = counting(pool);
        const snapshot = await takeSnapshot(counted.source);
        assert.equal(counted.count(), expected);
        assert.equal(snapshot.slowQueries.available, expected === 2);
      } finally {
        await pool.close();
      }
    }
  });

  test('an extension created without the preloaded library gets the restart hint', async () => {
    await plain.adminQuery('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const pool = new pg.Pool({ connectionString: monitorUrl(plain, 'disable'), max: 1 });
    try {
      const snapshot = await takeSnapshot(pool);
      assert.equal(snapshot.slowQueries.available, false);
      if (snapshot.slowQueries.available) return;
      assert.match(snapshot.slowQueries.hint, /exists in postgres but its library is not loaded/);
      assert.match(snapshot.slowQueries.hint, /restart the server/);
    } finally {
      await pool.end();
      await plain.adminQuery('DROP EXTENSION pg_stat_statements');
    }
  });

  test('a role without pg_read_all_stats is told what it cannot see', async () => {
    const pool = new pg.Pool({ connectionString: plain.url({ user: 'app', password }), max: 1 });
    const other = new pg.Client({ connectionString: monitorUrl(plain, 'disable') });
    await other.connect();
    try {
      const snapshot = await takeSnapshot(pool);
      assert.equal(snapshot.visibility, 'own-sessions');
      assert.ok(snapshot.connections.byTls.unknown >= 1, JSON.stringify(snapshot.connections.byTls));
      assert.ok(snapshot.hints.some((h) => /GRANT pg_read_all_stats TO app/.test(h)));
    } finally {
      await other.end();
      await pool.end();
    }
  });
});

describe('pgwarden monitor errors', () => {
  test('bad intervals are usage errors (exit 2); an unreachable server is exit 1 with a code', () => {
    for (const interval of ['5', '10ms', 'soon']) {
      const { status, stderr } = run(['monitor', '--once', '--interval', interval]);
      assert.equal(status, 2, stderr);
      assert.match(stderr, /PGW_CLI_USAGE: --interval/);
    }
    const closed = plain
      .url({ user: 'mon', password, params: { sslmode: 'disable' } })
      .replace(`:${plain.port}/`, ':1/');
    const { status, stderr } = run(['monitor', '--once', '--json', '--url', closed]);
    assert.equal(status, 1, stderr);
    assert.match(stderr, /PGW_CONN_REFUSED/);
  });
});

describe('pgwarden monitor --json without --once', () => {
  test('streams one JSON snapshot per line and exits 0 on SIGINT', async () => {
    const child = spawn(
      process.execPath,
      [...CLI, 'monitor', '--json', '--interval', '200ms', '--url', monitorUrl(plain, 'disable')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor('three snapshots', async () => stdout.split('\n').filter(Boolean).length >= 3);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, stderr);
    const lines = stdout.split('\n').filter(Boolean);
    const snapshots = lines.map((line) => JSON.parse(line) as MonitorSnapshot);
    assert.ok(snapshots.every((s) => s.connections.max === 100 && s.slowQueries.available === false));
    assert.ok(new Set(snapshots.map((s) => s.takenAt)).size === snapshots.length, 'a new snapshot each time');
    for (const secret of [password, statementSecret]) assertNoCanary(stdout + stderr, secret);
  });
});

const tmux = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
describe('pgwarden monitor live view', { skip: tmux.status === 0 ? false : 'tmux is not installed' }, () => {
  test('redraws in place on a terminal and exits 0 on Ctrl-C', async () => {
    const socket = `pgw-monitor-${process.pid}`;
    const tm = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    const command = [
      process.execPath,
      ...CLI,
      'monitor',
      '--interval',
      '300ms',
      '--url',
      `'${monitorUrl(plain, 'disable')}'`,
    ];
    const started = tm(
      'new-session',
      '-d',
      '-s',
      'mon',
      '-x',
      '160',
      '-y',
      '60',
      '-c',
      process.cwd(),
      `${command.join(' ')}; echo EXIT=$?; sleep 120`,
    );
    assert.equal(started.status, 0, started.stderr);
    const serverPid = Number(tm('display-message', '-p', '#{pid}').stdout.trim());
    const screen = () => tm('capture-pane', '-p', '-t', 'mon').stdout;
    try {
      await waitFor('a redrawn frame', async () => /frame [3-9]\b/.test(screen()));
      const live = screen();
      // Redrawn in place: one title and one footer on the screen, not a scroll of frames.
      assert.equal(live.match(/^pgwarden monitor — mon@127\.0\.0\.1/gm)?.length, 1, live);
      assert.equal(live.match(/Ctrl-C to quit/g)?.length, 1, live);
      assert.match(live, /^Connections +\d+ of 100/m);
      tm('send-keys', '-t', 'mon', 'C-c');
      await waitFor('the monitor to exit', async () => /EXIT=\d+/.test(screen()));
      const end = screen();
      assert.match(end, /EXIT=0/);
      // The alternate screen was left: the frames are gone from the normal screen.
      assert.doesNotMatch(end, /Ctrl-C to quit/);
      for (const secret of [password, statementSecret]) assertNoCanary(live + end, secret);
    } finally {
      tm('kill-server');
      if (serverPid > 0) {
        try {
          process.kill(serverPid, 'SIGKILL');
        } catch {
          // already gone after kill-server
        }
      }
    }
  });
});
