// pgwarden's pool is a real pg.Pool: code written for node-postgres keeps
// working unchanged (signatures, callbacks, counts, events and payloads,
// pg's constructor options, pg's error vocabulary), against a real TLS
// cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import pg from 'pg';
import {
  createPool,
  Pool,
  PgwardenError,
  PolicyError,
  QueryError,
  WardenPool,
  type CreatePoolOptions,
} from '../../src/index.js';
import { assertNoCanary, canary, createPki, startCluster, type Cluster, type Pki } from '../support/index.js';

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
    await pool.close({ timeoutMs: 5000 });
  }
}

/** Accepts anything typed as a pg.Pool: the compiler checks that a WardenPool is one. */
function takesPgPool(pool: pg.Pool): pg.Pool {
  return pool;
}

describe('a pg.Pool', () => {
  test('instanceof pg.Pool, typed as one, named like one', async () => {
    await withPool({}, async (pool) => {
      assert.ok(pool instanceof pg.Pool);
      assert.ok(takesPgPool(pool) === pool);
      assert.ok(pool.constructor.name.includes('Pool'));
      assert.equal(Pool, WardenPool);
    });
  });

  test("pg's query signatures: text, config, config with values beside it, callbacks, rowMode", async () => {
    await withPool({}, async (pool) => {
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      assert.equal((await pool.query('SELECT $1::int AS n', [2])).rows[0]!.n, 2);
      assert.equal((await pool.query({ text: 'SELECT $1::int AS n', values: [3] })).rows[0]!.n, 3);
      // Drizzle's form: a config object with the values as the second argument.
      const array = await pool.query({ text: 'SELECT $1::int AS n, $2::text AS t', rowMode: 'array' }, [
        4,
        'x',
      ]);
      assert.deepEqual(array.rows, [[4, 'x']]);
      const viaCallback = await new Promise<pg.QueryResult>((resolve, reject) =>
        pool.query('SELECT $1::int AS n', [5], (error, result) => (error ? reject(error) : resolve(result))),
      );
      assert.equal(viaCallback.rows[0]!.n, 5);
      const textCallback = await new Promise<pg.QueryResult>((resolve, reject) =>
        pool.query('SELECT 6 AS n', (error, result) => (error ? reject(error) : resolve(result))),
      );
      assert.equal(textCallback.rows[0]!.n, 6);
      const failed = await new Promise<Error>((resolve) =>
        pool.query('SELECT nope', (error) => resolve(error)),
      );
      assert.equal((failed as QueryError).code, '42703');
    });
  });

  test('connect() and connect(callback) hand out clients with release; counts as pg-pool keeps them', async () => {
    await withPool({ max: 3 }, async (pool) => {
      const client = await pool.connect();
      assert.ok(client instanceof pg.Client);
      assert.equal(pool.totalCount, 1);
      assert.equal(pool.idleCount, 0);
      const viaCallback = await new Promise<pg.PoolClient>((resolve, reject) =>
        pool.connect((error, c, done) => {
          if (error || !c) return reject(error);
          assert.equal(typeof done, 'function');
          resolve(c);
        }),
      );
      assert.equal(pool.totalCount, 2);
      assert.equal((await viaCallback.query('SELECT 7 AS n')).rows[0]!.n, 7);
      viaCallback.release();
      client.release();
      assert.equal(pool.idleCount, 2);
      assert.equal(pool.waitingCount, 0);
      assert.equal(pool.expiredCount, 0);
    });
  });

  test("pg-pool's events carry pg's payloads: connect(client), acquire, release(err, client), remove", async () => {
    // Built synchronously, so the listeners see the very first connection too.
    const pool = new WardenPool(options({ max: 2, idleTimeoutMs: 50 }));
    const seen: string[] = [];
    // The idiom that threw inside pg-pool before: the connect event gives the client.
    pool.on('connect', (client) => {
      seen.push('connect');
      void client.query('SET application_name = $$tagged$$').catch(() => undefined);
    });
    pool.on('acquire', (client) => {
      assert.ok(client instanceof pg.Client);
      seen.push('acquire');
    });
    pool.on('release', (error, client) => {
      assert.equal(error, undefined);
      assert.ok(client instanceof pg.Client);
      seen.push('release');
    });
    const removed = new Promise<void>((resolve) => pool.on('remove', () => resolve()));
    const opened = new Promise<{ user: string | undefined }>((resolve) =>
      pool.on('connection-opened', resolve),
    );
    try {
      await pool.query('SELECT 1');
      assert.equal((await opened).user, 'app');
      // pgwarden's pool lets the process exit when idle (allowExitOnIdle): a timer keeps this test alive.
      await Promise.race([
        removed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no remove event')), 5000)),
      ]);
      // ready() opens the first connection (connect, acquire, release), then the query reuses it.
      assert.deepEqual(seen.slice(0, 5), ['connect', 'acquire', 'release', 'acquire', 'release']);
    } finally {
      await pool.end();
    }
    assert.equal(pool.ending, true);
  });

  test("error(err, client) reaches a listener; without one an idle connection's error never crashes, connection-error always fires", async () => {
    for (const listen of [true, false]) {
      const pool = await createPool(options({ max: 2 }));
      const errors: unknown[] = [];
      const coded: PgwardenError[] = [];
      if (listen) pool.on('error', (error, client) => errors.push([error, client]));
      pool.on('connection-error', (error) => coded.push(error));
      try {
        await Promise.all([pool.query('SELECT 1'), pool.query('SELECT pg_sleep(0.05)')]);
        const open = pool.totalCount;
        await cluster.adminQuery(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'",
        );
        const deadline = Date.now() + 5000;
        while (coded.length < open && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(coded.length, open, 'one connection-error per terminated connection');
        assert.equal(coded[0]!.pgwardenCode, 'PGW_QUERY_CONNECTION_LOST');
        if (listen) {
          assert.equal(errors.length, open);
          const [error, client] = errors[0] as [Error, pg.PoolClient];
          assert.equal((error as QueryError).code, '57P01');
          assert.ok(client instanceof pg.Client);
        }
        assert.equal((await pool.query('SELECT 8 AS n')).rows[0]!.n, 8);
      } finally {
        await pool.end();
      }
    }
  });

  test('end() does what close() does, and end(callback) calls back; a second end() is harmless', async () => {
    const pool = await createPool(options());
    await pool.query('SELECT 1');
    await new Promise<void>((resolve) => pool.end(resolve));
    await pool.end();
    assert.equal(pool.closed, true);
    await assert.rejects(
      pool.query('SELECT 1'),
      (e: unknown) => (e as PgwardenError).code === 'PGW_POOL_CLOSED',
    );
  });

  test('close({ timeoutMs }) destroys what is still checked out at the deadline', async () => {
    const pool = await createPool(options());
    const client = await pool.connect();
    const running = client.query('SELECT pg_sleep(30)').then(
      () => 'finished',
      (e: unknown) => (e as PgwardenError).pgwardenCode,
    );
    const started = Date.now();
    await pool.close({ timeoutMs: 300 });
    assert.ok(Date.now() - started < 5000, 'close did not honour its deadline');
    assert.equal(await running, 'PGW_QUERY_CONNECTION_LOST');
    client.release(); // a late release is harmless
  });
});

describe("pg's error vocabulary", () => {
  test("a unique violation is code 23505 with pg's fields, from pool.query, client.query, tx.query and transaction()", async () => {
    await withPool({}, async (pool) => {
      await pool.query("INSERT INTO items (name) VALUES ('dup') ON CONFLICT DO NOTHING");
      const check = (error: unknown) => {
        assert.ok(error instanceof QueryError, String(error));
        assert.ok(error instanceof PgwardenError);
        assert.equal(error.code, '23505');
        assert.equal(error.sqlstate, '23505');
        assert.equal(error.pgwardenCode, 'PGW_QUERY_FAILED');
        assert.equal(error.constraint, 'items_name_key');
        assert.equal(error.table, 'items');
        assert.equal(error.schema, 'public');
        assert.equal(error.severity, 'ERROR');
        assert.match(error.detail ?? '', /already exists/);
        assert.equal(typeof error.routine, 'string');
        return true;
      };
      const insert = "INSERT INTO items (name) VALUES ('dup')";
      await assert.rejects(pool.query(insert), check);
      const client = await pool.connect();
      try {
        await assert.rejects(client.query(insert), check);
      } finally {
        client.release();
      }
      await assert.rejects(
        pool.transaction((tx) => tx.query(insert)),
        check,
      );
      // The callback's own error is rethrown as it is.
      const mine = new Error('mine');
      await assert.rejects(
        pool.transaction(async () => {
          throw mine;
        }),
        (e: unknown) => e === mine,
      );
    });
  });

  test('a failed statement keeps its connection (pg-pool would discard it); the session goes on', async () => {
    await withPool({ max: 1 }, async (pool) => {
      const pid = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await assert.rejects(pool.query('SELECT 1/0'), (e: unknown) => (e as QueryError).code === '22012');
      assert.equal((await pool.query('SELECT pg_backend_pid() AS pid')).rows[0]!.pid, pid);
    });
  });

  test('a position and a redacted message: a password in the statement never reaches the error', async () => {
    const secret = canary();
    await withPool({}, async (pool) => {
      const error = (await pool.query(`SELEC '${secret}'`).catch((e: unknown) => e)) as QueryError;
      assert.equal(error.code, '42601');
      assert.equal(error.position, '1');
      assertNoCanary(inspect(error, { depth: 5 }), secret);
      assertNoCanary(JSON.stringify(error), secret);
    });
  });
});

describe("pg's constructor options and synchronous construction", () => {
  test('connectionString, ssl, idleTimeoutMillis, connectionTimeoutMillis, statement_timeout and application_name map onto pgwarden', async () => {
    const url = `postgresql://app:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/postgres`;
    const pool = await createPool({
      env: {},
      environment: 'test',
      connectionString: url,
      ssl: { ca: pki.ca.certPem },
      max: 2,
      idleTimeoutMillis: 1234,
      connectionTimeoutMillis: 4321,
      statement_timeout: 2500,
      application_name: 'from-pg-options',
    });
    try {
      assert.equal(pool.config.tls.effectiveMode, 'verify-full');
      assert.equal(pool.config.pool.idleTimeoutMs, 1234);
      assert.equal(pool.config.pool.connectionTimeoutMs, 4321);
      // As in pg-pool, the connect timeout also bounds the wait for a free connection.
      assert.equal(pool.config.pool.acquireTimeoutMs, 4321);
      assert.equal(pool.options.idleTimeoutMillis, 1234);
      const { rows } = await pool.query(
        "SELECT current_setting('statement_timeout') AS st, current_setting('application_name') AS app",
      );
      assert.deepEqual(rows[0], { st: '2500ms', app: 'from-pg-options' });
      assert.equal(pool.config.sources.statementTimeoutMs, 'options.statement_timeout');
    } finally {
      await pool.end();
    }
  });

  test('ssl: { rejectUnauthorized: false } is sslmode require, refused in production like DB_SSL_REJECT_UNAUTHORIZED=false', () => {
    assert.throws(
      () =>
        new WardenPool({
          env: {},
          environment: 'production',
          host: '127.0.0.1',
          port: cluster.port,
          user: 'app',
          password,
          ssl: { rejectUnauthorized: false },
        }),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.violations.some((v) => v.code === 'PGW_POLICY_CERT_VALIDATION_DISABLED'),
    );
  });

  test('options that would bypass the policy are refused with a fix', () => {
    assert.throws(
      () => new WardenPool({ env: {}, Client: pg.Client } as CreatePoolOptions),
      (e: unknown) =>
        (e as PgwardenError).code === 'PGW_CONFIG_CONFLICT' && /options\.Client/.test((e as Error).message),
    );
    assert.throws(
      () => new WardenPool({ env: {}, ssl: { checkServerIdentity: () => undefined } }),
      (e: unknown) => (e as PgwardenError).option === 'options.ssl.checkServerIdentity',
    );
  });

  test('new WardenPool() is synchronous, as new pg.Pool(); the first query connects and checks the role; ready() verifies up front', async () => {
    const pool = new WardenPool(options());
    try {
      assert.equal(pool.isReady, false);
      assert.equal(pool.totalCount, 0);
      assert.equal((await pool.query('SELECT 9 AS n')).rows[0]!.n, 9);
      assert.equal(pool.isReady, true);
      assert.equal(pool.startup?.role?.name, 'app');
      await pool.ready();
    } finally {
      await pool.end();
    }
  });

  test('synchronous construction throws a PolicyError at once in production, before any byte is sent', () => {
    assert.throws(
      () => new WardenPool(options({ environment: 'production', sslMode: 'disable' })),
      (e: unknown) =>
        e instanceof PolicyError && e.violations.some((v) => v.code === 'PGW_POLICY_TLS_DISABLED'),
    );
  });

  test('a superuser found on first use refuses that use and every later one', async () => {
    await cluster.createRole('boss_compat', { password, attributes: 'LOGIN SUPERUSER' });
    const pool = new WardenPool(options({ environment: 'production', user: 'boss_compat' }));
    const refused = (e: unknown) =>
      e instanceof PolicyError && e.violations.some((v) => v.code === 'PGW_POLICY_PRIVILEGED_ROLE');
    await assert.rejects(pool.query('SELECT 1'), refused);
    await assert.rejects(pool.query('SELECT 1'), refused);
    await assert.rejects(pool.ready(), refused);
    assert.equal(pool.totalCount, 0);
  });

  test('DB_CONNECTION_TIMEOUT bounds the wait for a free connection too, unless an acquire timeout is set', async () => {
    await withPool({ env: { DB_CONNECTION_TIMEOUT: '1500' }, max: 1 }, async (pool) => {
      const held = await pool.connect();
      const started = Date.now();
      const error = (await pool.query('SELECT 1').catch((e: unknown) => e)) as PgwardenError;
      const waited = Date.now() - started;
      held.release();
      assert.equal(error.code, 'PGW_POOL_EXHAUSTED');
      assert.equal(error.option, 'DB_CONNECTION_TIMEOUT (no acquire timeout set)');
      // Not the 10 s acquire default: the connect timeout bounded the wait.
      assert.ok(waited >= 1400 && waited < 8000, `waited ${waited} ms for a 1500 ms timeout`);
    });
    await withPool({ env: { DB_CONNECTION_TIMEOUT: '1500' }, acquireTimeoutMs: 2500 }, async (pool) => {
      assert.equal(pool.config.pool.acquireTimeoutMs, 2500);
    });
  });

  test('a password function, as pg accepts, is asked behind the secrets cache', async () => {
    let calls = 0;
    const { password: _omit, ...rest } = options();
    const pool = await createPool({
      ...rest,
      password: async () => {
        calls++;
        return password;
      },
    });
    try {
      await Promise.all(Array.from({ length: 5 }, () => pool.query('SELECT 1')));
      assert.equal(calls, 1);
      assert.equal(pool.credentialsInfo().backend, 'password-function');
    } finally {
      await pool.end();
    }
  });
});
