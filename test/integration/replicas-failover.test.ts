// Read replicas and failover with a real primary and a streaming replica
// (pg_basebackup -R): reads served by the replica, falling back to the
// primary; the primary stopped and the replica promoted: writes resume.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, PgwardenError, type CreatePoolOptions } from '../../src/index.js';
import { canary, createPki, startCluster, until, type Cluster, type Pki } from '../support/index.js';

const password = canary();
let pki: Pki;

async function pair(): Promise<{ primary: Cluster; replica: Cluster }> {
  const hba = ['hostssl all all 127.0.0.1/32 scram-sha-256'];
  const primary = await startCluster({ tls: { pki }, hba });
  await primary.createRole('app', { password });
  await primary.adminQuery(
    'CREATE TABLE events (id serial PRIMARY KEY, note text); GRANT SELECT, INSERT ON events TO app; GRANT USAGE ON SEQUENCE events_id_seq TO app',
  );
  const replica = await primary.startReplica({ tls: { pki }, hba });
  return { primary, replica };
}

const base = (extra: CreatePoolOptions): CreatePoolOptions => ({
  env: {},
  environment: 'production',
  database: 'postgres',
  user: 'app',
  password,
  sslRootCert: pki.ca.certPem,
  ...extra,
});

before(async () => {
  pki = await createPki();
});

describe('read replicas', () => {
  let primary: Cluster;
  let replica: Cluster;
  before(async () => ({ primary, replica } = await pair()));
  after(async () => {
    await replica?.stop();
    await primary?.stop();
  });

  test('reads go to the replica, writes to the primary; a stopped replica falls back to the primary', async () => {
    const pool = await createPool(
      base({
        host: 'localhost',
        port: primary.port,
        readReplicas: `localhost:${replica.port}`,
        replicaCheckIntervalMs: 200,
      }),
    );
    try {
      const where = async (
        run: (sql: string) => Promise<{ rows: Array<{ standby: boolean; port: number }> }>,
      ) => (await run('SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port')).rows[0]!;
      assert.deepEqual(await where((q) => pool.read.query(q)), { standby: true, port: replica.port });
      assert.deepEqual(await where((q) => pool.query(q)), { standby: false, port: primary.port });
      await pool.query("INSERT INTO events (note) VALUES ('written on the primary')");
      assert.equal(pool.read.status()[0]!.healthy, true);

      await replica.kill('SIGKILL');
      // The next read fails over to the primary at once, no error.
      assert.deepEqual(await where((q) => pool.read.query(q)), { standby: false, port: primary.port });
      assert.equal(pool.read.status()[0]!.healthy, false);
      await replica.start();
      // The health check brings it back once it answers again; a loaded machine
      // may take several intervals to restart a cluster and replay to the end.
      await until('the restarted replica to be healthy', () => pool.read.status()[0]!.healthy, 20_000);
      assert.deepEqual(await where((q) => pool.read.query(q)), { standby: true, port: replica.port });
    } finally {
      await pool.close();
    }
  });

  test('a replica lagging beyond the threshold is skipped', async () => {
    const pool = await createPool(
      base({
        host: 'localhost',
        port: primary.port,
        readReplicas: [`localhost:${replica.port}`],
        replicaMaxLagMs: 300,
        replicaCheckIntervalMs: 100,
      }),
    );
    try {
      await replica.adminQuery('SELECT pg_wal_replay_pause()');
      await pool.query("INSERT INTO events (note) VALUES ('not replayed yet')");
      const status = await until(
        'the paused replica to be marked unhealthy',
        () => {
          const [first] = pool.read.status();
          return first!.healthy ? undefined : first;
        },
        20_000,
      );
      assert.match(status.reason!, /lagging/);
      assert.equal(
        (await pool.read.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')).rows[0]!
          .standby,
        false,
      );
      await replica.adminQuery('SELECT pg_wal_replay_resume()');
      await until('the resumed replica to be healthy again', () => pool.read.status()[0]!.healthy, 20_000);
    } finally {
      await replica.adminQuery('SELECT pg_wal_replay_resume()').catch(() => undefined);
      await pool.close();
    }
  });
});

describe('failover', () => {
  test('primary stopped and replica promoted: writes resume on the new primary within the timeout', async () => {
    const { primary, replica } = await pair();
    try {
      const pool = await createPool(
        base({
          host: `localhost,localhost`,
          port: `${primary.port},${replica.port}`,
          targetSessionAttrs: 'read-write',
          failoverTimeoutMs: 15_000,
          connectionTimeoutMs: 1000,
        }),
      );
      try {
        const port = async () =>
          (await pool.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port;
        assert.equal(await port(), primary.port);
        // An in-flight statement when the primary dies: a coded error that says it may have run.
        const inflight = pool.query("INSERT INTO events (note) SELECT 'in flight' FROM pg_sleep(2)").then(
          () => undefined,
          (e: unknown) => e,
        );
        await until(
          'the INSERT to be running on the primary',
          async () =>
            (
              await primary.adminQuery(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT INTO events%in flight%'",
              )
            ).length > 0,
        );
        await primary.kill('SIGKILL');
        const error = await inflight;
        assert.ok(error instanceof PgwardenError);
        assert.equal(error.code, 'PGW_QUERY_CONNECTION_LOST');
        assert.match(error.message, /may or may not/);
        // Writes issued now wait for a writable host; the replica is promoted a moment later.
        const started = Date.now();
        const write = pool.query(
          "INSERT INTO events (note) VALUES ('after failover') RETURNING inet_server_port() AS port",
        );
        await sleep(800);
        await replica.promote();
        const result = await write;
        assert.equal(result.rows[0]!.port, replica.port);
        assert.ok(Date.now() - started < 15_000);
        assert.equal(await port(), replica.port);
      } finally {
        await pool.close();
      }
    } finally {
      await replica.stop();
      await primary.stop();
    }
  });

  test('prefer-standby picks the standby; read-write skips it', async () => {
    const { primary, replica } = await pair();
    try {
      const hosts = { host: 'localhost,localhost', port: `${primary.port},${replica.port}` };
      const standby = await createPool(base({ ...hosts, targetSessionAttrs: 'prefer-standby' }));
      const writer = await createPool(
        base({ ...hosts, port: `${replica.port},${primary.port}`, targetSessionAttrs: 'read-write' }),
      );
      try {
        assert.equal(
          (await standby.query<{ s: boolean }>('SELECT pg_is_in_recovery() AS s')).rows[0]!.s,
          true,
        );
        assert.equal(
          (await writer.query<{ s: boolean }>('SELECT pg_is_in_recovery() AS s')).rows[0]!.s,
          false,
        );
      } finally {
        await standby.close();
        await writer.close();
      }
    } finally {
      await replica.stop();
      await primary.stop();
    }
  });
});
