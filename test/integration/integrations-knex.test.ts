// knex over a pgwarden pool: `knex({ client: 'pg', connectionPool: pool })`
// (knex 3.3's external pool; typed as its PgPoolLike, no cast). knex checks
// clients out with pool.connect(), sends `client.query(config, callback)`,
// hands them back with release(), and leaves the pool alone on destroy().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import knex from 'knex';
import { QueryError } from '../../src/index.js';
import { assertErrorHasNoSecret, canary } from '../support/index.js';
import {
  assertNoServerConnections,
  assertNothingCheckedOut,
  assertOnlyPoolConnections,
  countCheckouts,
  serverConnections,
  startIntegrationCluster,
  type IntegrationFixture,
} from './integrations-fixture.js';

interface Item {
  id: number;
  name: string;
}

let fx: IntegrationFixture;

before(async () => {
  fx = await startIntegrationCluster();
});

after(async () => {
  await fx?.stop();
});

describe("knex: knex({ client: 'pg', connectionPool: pool })", () => {
  test('parameterized queries go through the pgwarden pool, and only through it', async () => {
    const pool = await fx.pool('pgw-knex');
    const db = knex({ client: 'pg', connectionPool: pool });
    const checkouts = countCheckouts(pool);
    try {
      const select = db<Item>('items').select('id', 'name').where('name', 'knex-1');
      assert.match(select.toSQL().toNative().sql, /"name" = \$1/);
      assert.deepEqual(select.toSQL().toNative().bindings, ['knex-1']);
      const [inserted] = await db<Item>('items').insert({ name: 'knex-1' }).returning(['id', 'name']);
      assert.deepEqual(await select, [inserted]);
      const raw = await db.raw<{ rows: { n: number; tls: boolean }[] }>(
        'SELECT ?::int + 1 AS n, ssl AS tls FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        [41],
      );
      assert.deepEqual(raw.rows, [{ n: 42, tls: true }]);
      assert.equal(checkouts.count, 3, 'one pool checkout per statement');
      await assertOnlyPoolConnections(fx.cluster, pool);
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
      await pool.end();
    }
  });

  test('a transaction commits; a throw and trx.rollback() roll back; the client goes back to the pool', async () => {
    const pool = await fx.pool('pgw-knex');
    const db = knex({ client: 'pg', connectionPool: pool });
    try {
      const pids = await db.transaction(async (trx) => {
        await trx('items').insert({ name: 'knex-commit' });
        const a = await trx.raw<{ rows: { pid: number }[] }>('SELECT pg_backend_pid() AS pid');
        const b = await trx.raw<{ rows: { pid: number }[] }>('SELECT pg_backend_pid() AS pid');
        assert.equal(pool.totalCount - pool.idleCount, 1, 'the transaction holds one checked-out client');
        return [a.rows[0]!.pid, b.rows[0]!.pid];
      });
      assert.equal(pids[0], pids[1], 'every statement of the transaction on one connection');
      const boom = new Error('boom');
      await assert.rejects(
        db.transaction(async (trx) => {
          await trx('items').insert({ name: 'knex-throw' });
          throw boom;
        }),
        (e: unknown) => e === boom,
      );
      // The explicit form: trx.rollback() rejects the transaction's promise with its argument.
      const trx = await db.transaction();
      await trx('items').insert({ name: 'knex-rollback' });
      const reason = new Error('rolled back');
      await trx.rollback(reason);
      await assert.rejects(trx.executionPromise, (e: unknown) => e === reason);
      const names = await db<Item>('items')
        .pluck('name')
        .whereIn('name', ['knex-commit', 'knex-throw', 'knex-rollback']);
      assert.deepEqual(names, ['knex-commit']);
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
      await pool.end();
    }
  });

  test("a unique violation is 23505 with pg's fields (knex prefixes the message with the statement)", async () => {
    const pool = await fx.pool('pgw-knex');
    const db = knex({ client: 'pg', connectionPool: pool });
    try {
      await db('items').insert({ name: 'knex-dup' });
      const error = await db('items')
        .insert({ name: 'knex-dup' })
        .catch((e: unknown) => e);
      // knex rethrows the driver's error itself, after rewriting its message.
      assert.ok(error instanceof QueryError, String(error));
      assert.equal(error.code, '23505');
      assert.equal(error.constraint, 'items_name_key');
      assert.match(error.message, /^insert into "items" \("name"\) values \(\$1\) - duplicate key/);
      const inTx = await db
        .transaction((trx) => trx('items').insert({ name: 'knex-dup' }))
        .catch((e: unknown) => e);
      assert.equal((inTx as QueryError).code, '23505');
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
      await pool.end();
    }
  });

  test("knex's message prefix shows the statement with $n placeholders, never the bound values", async () => {
    const pool = await fx.pool('pgw-knex');
    const db = knex({ client: 'pg', connectionPool: pool });
    // A value the application holds (a token, an email): the statement fails
    // for an unrelated reason, so the server's error does not mention it.
    const value = canary();
    try {
      const error = (await db
        .raw('SELECT ?::text AS v, no_such_column', [value])
        .catch((e: unknown) => e)) as QueryError;
      assert.equal(error.code, '42703');
      assert.match(error.message, /^SELECT \$1::text AS v, no_such_column - column "no_such_column"/);
      assertErrorHasNoSecret(error, [value]);
    } finally {
      await db.destroy();
      await pool.end();
    }
  });
});

describe("knex's query timeouts", () => {
  test('.timeout(ms) without cancel: the timed-out client is destroyed by the pool (release(true)), not reused', async () => {
    const pool = await fx.pool('pgw-knex', { max: 2 });
    const db = knex({ client: 'pg', connectionPool: pool });
    try {
      const before = (await serverConnections(fx.cluster)).map((c) => c.pid);
      assert.equal(before.length, 1);
      const error = await db
        .raw('SELECT pg_sleep(0.6)')
        .timeout(100)
        .catch((e: unknown) => e);
      assert.equal((error as Error).name, 'KnexTimeoutError');
      // The busy connection left the pool; the next query gets another one.
      assert.equal(pool.totalCount, 0);
      const { rows } = await db.raw<{ rows: { pid: number }[] }>('SELECT pg_backend_pid() AS pid');
      assert.ok(!before.includes(rows[0]!.pid), 'the timed-out connection was handed out again');
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
      await pool.end();
    }
  });

  test('caveat: .timeout(ms, { cancel: true }) opens a plain pg connection of its own (PG* variables, no TLS), outside pgwarden', async () => {
    // A loopback listener stands where pg's defaults point, to see what knex sends.
    const listener = createServer();
    const firstBytes = new Promise<Buffer>((resolve) =>
      listener.on('connection', (socket) =>
        socket.once('data', (data: Buffer) => (resolve(data), socket.destroy())),
      ),
    );
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    const saved = { PGHOST: process.env.PGHOST, PGPORT: process.env.PGPORT };
    process.env.PGHOST = '127.0.0.1';
    process.env.PGPORT = String(port);
    const pool = await fx.pool('pgw-knex');
    const db = knex({ client: 'pg', connectionPool: pool });
    try {
      const error = await db
        .raw('SELECT pg_sleep(0.6)')
        .timeout(100, { cancel: true })
        .catch((e: unknown) => e);
      assert.match((error as Error).message, /cancelling of query failed/);
      const first = await firstBytes;
      // A StartupMessage (protocol 3.0) at once: no SSLRequest came first, so no TLS.
      assert.equal(first.readInt32BE(4), 196608, 'protocol 3.0 startup without an SSLRequest');
      assert.ok(first.includes(Buffer.from('user\0')), 'a startup packet naming a user');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await db.destroy();
      await pool.end();
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});

describe("knex's teardown", () => {
  test('knex.destroy() leaves the pool it was given open and every client returned', async () => {
    const pool = await fx.pool('pgw-knex');
    const db = knex({ client: 'pg', connectionPool: pool });
    try {
      await db('items').select('id').limit(1);
      await db.transaction((trx) => trx('items').select('id').limit(1));
      await db.destroy();
      assert.equal(pool.closed, false);
      assertNothingCheckedOut(pool);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      await assertOnlyPoolConnections(fx.cluster, pool);
      // A knex instance after destroy() refuses to run, and no client is taken.
      await assert.rejects(db('items').select('id'), /Unable to acquire a connection/);
      assertNothingCheckedOut(pool);
    } finally {
      await pool.end();
    }
    await assertNoServerConnections(fx.cluster);
  });
});
