// The pool at runtime: queries, transactions, the sql tag, startup
// parameters, pre-ping, exhaustion, idle errors and a server restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createPool,
  PgwardenError,
  QueryError,
  sql,
  type CreatePoolOptions,
  type WardenPool,
} from '../../src/index.js';
import { canary, createPki, startCluster, type Cluster, type Pki } from '../support/index.js';

let cluster: Cluster;
let pki: Pki;
const password = canary();

before(async () => {
  pki = await createPki();
  cluster = await startCluster({ tls: { pki }, hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'] });
  await cluster.createRole('app', { password });
  await cluster.adminQuery('CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)');
  await cluster.adminQuery(
    'GRANT SELECT, INSERT, UPDATE, DELETE ON items TO app; GRANT USAGE ON SEQUENCE items_id_seq TO app',
  );
});

after(async () => {
  await cluster?.stop();
});

const options = (extra: CreatePoolOptions = {}): CreatePoolOptions => ({
  env: {},
  environment: 'test',
  host: '127.0.0.1',
  port: cluster.port,
  database: 'postgres',
  user: 'app',
  password,
  sslMode: 'verify-full',
  sslRootCert: pki.ca.certPem,
  ...extra,
});

async function withPool<T>(extra: CreatePoolOptions, fn: (pool: WardenPool) => Promise<T>): Promise<T> {
  const pool = await createPool(options(extra));
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

const appBackends = async (): Promise<number[]> =>
  (await cluster.adminQuery<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = 'app'")).map(
    (r) => r.pid,
  );

describe('queries', () => {
  test('sql tag parameterizes values: an injection string is just data', async () => {
    await withPool({}, async (pool) => {
      const evil = "x'); DROP TABLE items; --";
      await pool.query(sql`INSERT INTO items (name) VALUES (${evil})`);
      const { rows } = await pool.query<{ name: string }>(
        sql`SELECT name FROM ${sql.ident('items')} WHERE name = ${evil}`,
      );
      assert.deepEqual(rows, [{ name: evil }]);
      assert.equal((await cluster.adminQuery('SELECT count(*)::int AS n FROM items'))[0]!.n, 1);
      await pool.query('DELETE FROM items');
    });
  });

  test('transaction commits, or rolls back and rethrows', async () => {
    await withPool({}, async (pool) => {
      await pool.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO items (name) VALUES (${'a'})`);
      });
      await assert.rejects(
        pool.transaction(async (tx) => {
          await tx.query(sql`INSERT INTO items (name) VALUES (${'b'})`);
          await tx.query(sql`INSERT INTO items (name) VALUES (${'a'})`);
        }),
        (error: unknown) =>
          error instanceof QueryError && error.sqlstate === '23505' && error.constraint === 'items_name_key',
      );
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM items ORDER BY name');
      assert.deepEqual(rows, [{ name: 'a' }]);
      assert.equal(pool.stats().inUse, 0);
      await pool.query('DELETE FROM items');
    });
  });

  test('timeouts and application_name are startup parameters in force on the server', async () => {
    await withPool(
      {
        statementTimeoutMs: 1500,
        lockTimeoutMs: 700,
        idleInTransactionSessionTimeoutMs: 60_000,
        applicationName: 'svc-a',
      },
      async (pool) => {
        const { rows } = await pool.query<Record<string, string>>(
          "SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('idle_in_transaction_session_timeout') AS it, current_setting('application_name') AS app",
        );
        assert.deepEqual(rows[0], { st: '1500ms', lt: '700ms', it: '1min', app: 'svc-a' });
        await assert.rejects(
          pool.query('SELECT pg_sleep(3)'),
          (e: unknown) => e instanceof QueryError && e.sqlstate === '57014',
        );
        assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      },
    );
  });
});

describe('resilience', () => {
  test('pool exhaustion is a coded timeout with the counts, and the pool recovers', async () => {
    await withPool({ max: 2, acquireTimeoutMs: 300 }, async (pool) => {
      const held = [await pool.connect(), await pool.connect()];
      const error = await pool.connect().then(
        () => assert.fail('expected exhaustion'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PgwardenError);
      assert.equal(error.code, 'PGW_POOL_EXHAUSTED');
      assert.match(error.message, /max 2, in use 2, waiting 1/);
      held.forEach((c) => c.release());
      assert.equal((await pool.query('SELECT 2 AS two')).rows[0]!.two, 2);
    });
  });

  // The pool drops a connection whose FATAL arrives while it is idle; pre-ping
  // covers the silent case (a half-open socket), which a local server cannot produce.
  test('a connection the server closed while it sat idle is replaced before the next query', async () => {
    await withPool({ prePingIdleMs: 0, max: 1 }, async (pool) => {
      await pool.query('SELECT 1');
      await cluster.adminQuery(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'",
      );
      assert.equal((await pool.query('SELECT 3 AS three')).rows[0]!.three, 3);
    });
  });

  test('errors on idle and checked-out connections never crash the process', async () => {
    await withPool({ max: 3 }, async (pool) => {
      const events: PgwardenError[] = [];
      pool.on('connection-error', (e: PgwardenError) => events.push(e));
      const held = await pool.connect();
      await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
      const killed = await appBackends();
      await cluster.adminQuery(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'",
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(killed.length >= 2);
      assert.ok(events.length >= 2, `expected connection-error events, got ${events.length}`);
      assert.ok(events.every((e) => e.pgwardenCode.startsWith('PGW_')));
      await assert.rejects(held.query('SELECT 1'), (e: unknown) => e instanceof Error);
      held.release(true);
      assert.equal((await pool.query('SELECT 4 AS four')).rows[0]!.four, 4);
    });
  });

  test('a session terminated mid-query (pg_terminate_backend, SQLSTATE 57P01) is a lost connection, not a failed statement', async () => {
    await withPool({}, async (pool) => {
      const running = pool.query('SELECT pg_sleep(30)').then(
        () => assert.fail('the sleep was not terminated'),
        (e: unknown) => e,
      );
      let terminated = false;
      for (let i = 0; i < 200 && !terminated; i++) {
        const rows = await cluster.adminQuery<{ ok: boolean }>(
          "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE usename = 'app' AND query = 'SELECT pg_sleep(30)' AND state = 'active'",
        );
        terminated = rows.some((r) => r.ok);
        if (!terminated) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(terminated, 'the sleeping backend never showed up');
      const error = await running;
      assert.ok(error instanceof PgwardenError, String(error));
      // pg's vocabulary (the SQLSTATE) as code, pgwarden's classification beside it.
      assert.equal(error.code, '57P01', error.message);
      assert.equal(error.pgwardenCode, 'PGW_QUERY_CONNECTION_LOST', error.message);
      assert.equal((error as QueryError).severity, 'FATAL');
      assert.equal((await pool.query('SELECT 6 AS six')).rows[0]!.six, 6);
    });
  });

  test('a server killed and restarted: coded errors while down, queries resume after', async () => {
    await withPool({ acquireTimeoutMs: 1500, connectionTimeoutMs: 1000 }, async (pool) => {
      await pool.query('SELECT 1');
      await cluster.kill('SIGKILL');
      try {
        // A backend outlives its postmaster for a moment (until it notices the death):
        // wait, bounded, for the pooled connection to go, so the next query finds the server down.
        const deadline = Date.now() + 5000;
        while (pool.totalCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const error = await pool.query('SELECT 1').then(
          () => assert.fail('expected a failure while the server is down'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof PgwardenError, String(error));
        assert.ok(
          ['PGW_QUERY_CONNECTION_LOST', 'PGW_CONN_REFUSED', 'PGW_CONN_LOST'].includes(error.pgwardenCode),
          `${error.pgwardenCode}: ${error.message}`,
        );
      } finally {
        // Later tests need the server whatever happened above.
        await cluster.start();
      }
      assert.equal((await pool.query('SELECT 5 AS five')).rows[0]!.five, 5);
    });
  });

  test('close() waits for checked-out clients, then refuses new work', async () => {
    const pool = await createPool(options());
    const client = await pool.connect();
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(closed, false);
    client.release();
    await closing;
    await assert.rejects(
      pool.query('SELECT 1'),
      (e: unknown) => e instanceof PgwardenError && e.code === 'PGW_POOL_CLOSED',
    );
  });
});
