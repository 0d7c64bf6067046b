import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ConfigError } from '../../src/errors.js';
import {
  HarnessError,
  assertNoCanary,
  canary,
  isProcessAlive,
  startCluster,
  withCluster,
  type Cluster,
} from '../support/index.js';

/** A TCP client for `user`, with every setting explicit so PG* variables cannot interfere. */
function tcpClient(cluster: Cluster, user: string, password: string, database = 'postgres'): pg.Client {
  return new pg.Client({ host: cluster.host, port: cluster.port, user, password, database, ssl: false });
}

async function queryAs<R extends pg.QueryResultRow>(client: pg.Client, sql: string): Promise<R[]> {
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('a plain cluster', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({
      listen: ['127.0.0.1', '::1'],
      conf: { work_mem: '7MB', cluster_name: "harness's test" },
    });
  });
  after(() => cluster?.stop());

  test('answers SELECT version() over TCP with SCRAM for a created role', async () => {
    const password = canary();
    await cluster.createRole('app_user', { password });
    const rows = await queryAs<{ version: string; user: string }>(
      tcpClient(cluster, 'app_user', password),
      'SELECT version(), current_user AS user',
    );
    assert.match(rows[0]?.version ?? '', new RegExp(`^PostgreSQL ${cluster.major}\\.`));
    assert.equal(rows[0]?.user, 'app_user');

    const [stored] = await cluster.adminQuery<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'",
    );
    assert.match(stored?.rolpassword ?? '', /^SCRAM-SHA-256\$4096:/);
    await assert.rejects(queryAs(tcpClient(cluster, 'app_user', `${password}x`), 'SELECT 1'), {
      code: '28P01',
    });
  });

  test('never sends a role password to the server, even in a failing statement', async () => {
    const password = canary();
    await cluster.createRole('leaky', { password });
    // The duplicate fails, and the server logs the failing statement.
    await assert.rejects(cluster.createRole('leaky', { password }), { code: '42710' });
    assert.match(cluster.readLog(), /role "leaky" already exists/);
    assertNoCanary(cluster.readLog(), password);
  });

  test('quotes awkward role names, passwords and database names, also in url()', async () => {
    const role = 'we"ird role';
    const password = `${canary()} ':@/?#%\\ é`;
    await cluster.createRole(role, { password, attributes: 'LOGIN CREATEDB' });
    await cluster.createDatabase('odd "db"', role);
    const url = cluster.url({ user: role, password, database: 'odd "db"', params: { sslmode: 'disable' } });
    assert.match(
      url,
      new RegExp(
        `^postgresql://we%22ird%20role:.*@127\\.0\\.0\\.1:${cluster.port}/odd%20%22db%22\\?sslmode=disable$`,
      ),
    );
    const rows = await queryAs<{ user: string; db: string; createdb: boolean }>(
      new pg.Client({ connectionString: url }),
      'SELECT current_user AS user, current_database() AS db, rolcreatedb AS createdb FROM pg_roles WHERE rolname = current_user',
    );
    assert.deepEqual(rows, [{ user: role, db: 'odd "db"', createdb: true }]);
  });

  test('runs with the harness settings, caller settings winning', async () => {
    const rows = await cluster.adminQuery<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN
        ('listen_addresses', 'port', 'unix_socket_directories', 'fsync', 'data_checksums', 'work_mem', 'cluster_name')`,
    );
    const settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]));
    assert.deepEqual(settings, {
      cluster_name: "harness's test",
      data_checksums: 'on',
      fsync: 'off',
      listen_addresses: '127.0.0.1,::1',
      port: String(cluster.port),
      unix_socket_directories: cluster.socketDir,
      work_mem: '7168',
    });
    assert.ok(cluster.dataDir.startsWith(cluster.dir) && cluster.dir.startsWith(tmpdir()));
  });

  test('answers on ::1 too when asked to', async () => {
    const password = canary();
    await cluster.createRole('v6_user', { password });
    const client = new pg.Client({
      host: '::1',
      port: cluster.port,
      user: 'v6_user',
      password,
      database: 'postgres',
    });
    const rows = await queryAs<{ addr: string }>(client, 'SELECT inet_client_addr()::text AS addr');
    assert.deepEqual(rows, [{ addr: '::1/128' }]);
  });

  test('setConf() reloads, reports settings that need a restart, and restart() applies them', async () => {
    assert.deepEqual(await cluster.setConf({ work_mem: '9MB' }), { pendingRestart: [] });
    assert.deepEqual(await cluster.adminQuery('SHOW work_mem'), [{ work_mem: '9MB' }]);

    const { pendingRestart } = await cluster.setConf({ max_connections: 50 });
    assert.deepEqual(pendingRestart, ['max_connections']);
    const port = cluster.port;
    await cluster.restart();
    assert.equal(cluster.port, port);
    assert.deepEqual(await cluster.adminQuery('SHOW max_connections'), [{ max_connections: '50' }]);
  });

  test('setConf() refuses reserved names and values the server rejects, keeping the old configuration', async () => {
    await assert.rejects(cluster.setConf({ port: 1 }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'PGW_CONFIG_INVALID');
      assert.equal(error.option, 'conf.port');
      return true;
    });
    await assert.rejects(cluster.setConf({ work_mem: 'plenty' }), {
      code: 'PGW_CONFIG_INVALID',
      option: 'conf.work_mem',
    });
    await assert.rejects(cluster.setConf({ work_mem: "1MB'\nfsync = on" }), { code: 'PGW_CONFIG_INVALID' });
    const errors = await cluster.adminQuery('SELECT name FROM pg_file_settings WHERE error IS NOT NULL');
    assert.deepEqual(errors, []);
    assert.deepEqual(await cluster.adminQuery('SHOW work_mem'), [{ work_mem: '9MB' }]);
  });

  test('writeHba() replaces the rules and reloads; the admin rule always stays', async () => {
    const password = canary();
    await cluster.createRole('hba_user', { password });
    await cluster.writeHba(['host all all 127.0.0.1/32 reject']);
    await assert.rejects(queryAs(tcpClient(cluster, 'hba_user', password), 'SELECT 1'), { code: '28000' });
    assert.deepEqual(await cluster.adminQuery('SELECT 1 AS one'), [{ one: 1 }]);

    await assert.rejects(cluster.writeHba(['host all all 127.0.0.1/32 no-such-method']), {
      code: 'PGW_CONFIG_INVALID',
      option: 'hba',
    });
    // The failed write restored the previous rules.
    await assert.rejects(queryAs(tcpClient(cluster, 'hba_user', password), 'SELECT 1'), { code: '28000' });

    await cluster.writeHba(['host all all 127.0.0.1/32 scram-sha-256']);
    assert.deepEqual(await queryAs(tcpClient(cluster, 'hba_user', password), 'SELECT 1 AS one'), [
      { one: 1 },
    ]);
  });

  test("kill('SIGKILL') then start() brings the cluster back on the same port with its data", async () => {
    // Asynchronous commit is on; this commit must reach the WAL before the crash.
    await cluster.adminQuery(
      'BEGIN; SET LOCAL synchronous_commit = on; CREATE TABLE survivor (id int); COMMIT',
    );
    const { pid, port } = cluster;
    await cluster.kill('SIGKILL');
    assert.equal(cluster.running, false);
    assert.equal(isProcessAlive(pid), false);

    await cluster.start();
    assert.notEqual(cluster.pid, pid);
    assert.equal(cluster.port, port);
    assert.deepEqual(await cluster.adminQuery("SELECT to_regclass('survivor')::text AS t"), [
      { t: 'survivor' },
    ]);
    assert.match(cluster.readLog(), /database system was interrupted|was not properly shut down/);
  });

  test('stop() ends the postmaster, removes the directory and is idempotent', async () => {
    const { pid, dir } = cluster;
    await cluster.stop();
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(existsSync(dir), false);
    await cluster.stop();
    await assert.rejects(cluster.adminQuery('SELECT 1'), HarnessError);
    await assert.rejects(cluster.start(), HarnessError);
  });
});

describe('starting clusters', () => {
  test('options that would break the harness guarantees are refused before anything is created', async () => {
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('pgwarden-pg-')).length;
    // A cast, as a JavaScript caller could pass anything.
    await assert.rejects(startCluster({ listen: ['0.0.0.0' as '127.0.0.1'] }), {
      code: 'PGW_CONFIG_INVALID',
      option: 'listen',
    });
    await assert.rejects(startCluster({ conf: { listen_addresses: '*' } }), {
      option: 'conf.listen_addresses',
    });
    await assert.rejects(startCluster({ hba: ['local all all trust\nhost all all 0.0.0.0/0 trust'] }), {
      option: 'hba',
    });
    await assert.rejects(startCluster({ port: 70_000 }), { option: 'port' });
    await assert.rejects(startCluster({ baseDir: `/tmp/${'x'.repeat(100)}` }), { option: 'baseDir' });
    const after = readdirSync(tmpdir()).filter((name) => name.startsWith('pgwarden-pg-')).length;
    assert.equal(after, before);
  });

  test('a port that is already taken gives a clear error and leaves nothing behind', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      await assert.rejects(startCluster({ port: address.port }), (error: unknown) => {
        assert.ok(error instanceof HarnessError);
        assert.equal(error.step, 'start');
        assert.match(error.message, new RegExp(`could not bind port ${address.port}: it is in use`));
        assert.match(error.message, /Address already in use/);
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  test('withCluster() stops the cluster even when the callback throws', async () => {
    let seen: { pid: number; dir: string } | undefined;
    await assert.rejects(
      withCluster({ dataChecksums: false }, async (cluster) => {
        seen = { pid: cluster.pid, dir: cluster.dir };
        assert.deepEqual(await cluster.adminQuery('SHOW data_checksums'), [{ data_checksums: 'off' }]);
        // Loopback IPv4 only unless asked otherwise.
        assert.deepEqual(await cluster.adminQuery('SHOW listen_addresses'), [
          { listen_addresses: '127.0.0.1' },
        ]);
        throw new Error('test body failed');
      }),
      /test body failed/,
    );
    assert.ok(seen);
    assert.equal(isProcessAlive(seen.pid), false);
    assert.equal(existsSync(seen.dir), false);
  });
});
