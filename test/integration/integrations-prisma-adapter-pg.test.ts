// @prisma/adapter-pg over a pgwarden pool, at its driver-adapter API (what
// the Prisma client calls; no `prisma generate`, whose engine download cannot
// happen here): `new PrismaPg(pool)` keeps the pool as its external pool only
// because `pool instanceof pg.Pool`; anything else and it builds a plain
// pg.Pool of its own, outside pgwarden. Transactions follow the engine's
// protocol for `usePhantomQuery: false`: startTransaction() (BEGIN), the
// statements, then COMMIT or ROLLBACK through executeRaw, then commit() or
// rollback(), which hand the client back to the pool.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindAdapter,
  ColumnTypeEnum,
  isDriverAdapterError,
  type ArgType,
  type SqlQuery,
} from '@prisma/driver-adapter-utils';
import { WardenPool, type PgwardenError } from '../../src/index.js';
import {
  APP_ROLE,
  assertNoServerConnections,
  assertNothingCheckedOut,
  assertOnlyPoolConnections,
  countCheckouts,
  startIntegrationCluster,
  type IntegrationFixture,
} from './integrations-fixture.js';

/** A query as the Prisma engine sends it: text with $n, args and their types. */
function q(sql: string, ...args: (string | number)[]): SqlQuery {
  const argTypes = args.map((arg): ArgType => ({
    scalarType: typeof arg === 'number' ? 'int' : 'string',
    arity: 'scalar',
  }));
  return { sql, args, argTypes };
}
const COMMIT = q('COMMIT');
const ROLLBACK = q('ROLLBACK');

let fx: IntegrationFixture;

before(async () => {
  fx = await startIntegrationCluster();
  // Only for the shadow-database caveat below, which creates a database.
  await fx.cluster.adminQuery(`ALTER ROLE ${APP_ROLE} CREATEDB`);
});

after(async () => {
  await fx?.stop();
});

describe('@prisma/adapter-pg: new PrismaPg(pool)', () => {
  test('the adapter keeps the pgwarden pool: queryRaw and executeRaw with parameters go through it, and only through it', async () => {
    const pool = await fx.pool('pgw-prisma');
    const errorListeners = pool.listenerCount('error');
    const adapter = await new PrismaPg(pool).connect();
    const checkouts = countCheckouts(pool);
    try {
      assert.equal(adapter.underlyingDriver(), pool);
      // The adapter listens for idle-connection errors on the pool it was given.
      assert.equal(pool.listenerCount('error'), errorListeners + 1);
      assert.equal(await adapter.executeRaw(q('INSERT INTO items (name) VALUES ($1)', 'prisma-1')), 1);
      const result = await adapter.queryRaw(
        q(
          'SELECT id, name, ssl AS tls FROM items, pg_stat_ssl WHERE name = $1 AND pid = pg_backend_pid()',
          'prisma-1',
        ),
      );
      assert.deepEqual(result.columnNames, ['id', 'name', 'tls']);
      assert.deepEqual(result.columnTypes, [
        ColumnTypeEnum.Int32,
        ColumnTypeEnum.Text,
        ColumnTypeEnum.Boolean,
      ]);
      assert.equal(result.rows.length, 1);
      assert.deepEqual(result.rows[0]!.slice(1), ['prisma-1', true]);
      assert.equal(checkouts.count, 2, 'one pool checkout per statement');
      await assertOnlyPoolConnections(fx.cluster, pool);
      assertNothingCheckedOut(pool);
    } finally {
      await adapter.dispose();
      await pool.end();
    }
  });

  test('transactions as the engine runs them: commit, rollback, an isolation level; one client, handed back', async () => {
    const pool = await fx.pool('pgw-prisma');
    const adapter = await new PrismaPg(pool).connect();
    try {
      const committed = await adapter.startTransaction('SERIALIZABLE');
      assert.equal(committed.options.usePhantomQuery, false, 'the engine sends COMMIT / ROLLBACK itself');
      assert.equal(pool.totalCount - pool.idleCount, 1, 'the transaction holds one checked-out client');
      await committed.executeRaw(q('INSERT INTO items (name) VALUES ($1)', 'prisma-commit'));
      const level = await committed.queryRaw(q("SELECT current_setting('transaction_isolation')"));
      assert.deepEqual(level.rows, [['serializable']]);
      await committed.executeRaw(COMMIT);
      await committed.commit();
      assertNothingCheckedOut(pool);

      const rolledBack = await adapter.startTransaction();
      await rolledBack.executeRaw(q('INSERT INTO items (name) VALUES ($1)', 'prisma-rollback'));
      await rolledBack.executeRaw(ROLLBACK);
      await rolledBack.rollback();
      assertNothingCheckedOut(pool);

      const names = await adapter.queryRaw(
        q("SELECT name FROM items WHERE name LIKE 'prisma-%' AND name <> $1 ORDER BY name", 'prisma-1'),
      );
      assert.deepEqual(names.rows, [['prisma-commit']]);
    } finally {
      await adapter.dispose();
      await pool.end();
    }
  });

  test("a unique violation maps to Prisma's UniqueConstraintViolation (23505, the constraint), in and out of a transaction", async () => {
    const pool = await fx.pool('pgw-prisma');
    const adapter = await new PrismaPg(pool).connect();
    const insert = q('INSERT INTO items (name) VALUES ($1)', 'prisma-dup');
    const isUniqueViolation = (error: unknown) => {
      assert.ok(isDriverAdapterError(error), String(error));
      assert.deepEqual(error.cause, {
        kind: 'UniqueConstraintViolation',
        originalCode: '23505',
        originalMessage: 'duplicate key value violates unique constraint "items_name_key"',
        constraint: { index: 'items_name_key' },
        table: 'items',
      });
      return true;
    };
    try {
      await adapter.executeRaw(insert);
      await assert.rejects(adapter.executeRaw(insert), isUniqueViolation);
      const tx = await adapter.startTransaction();
      await assert.rejects(tx.executeRaw(insert), isUniqueViolation);
      await tx.executeRaw(ROLLBACK);
      await tx.rollback();
      assertNothingCheckedOut(pool);
      // What the Prisma client sees (it binds the adapter): an error result it turns into P2002.
      const bound = bindAdapter(adapter);
      const result = await bound.executeRaw(insert);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.error.kind, 'UniqueConstraintViolation');
      // Any other server error: Prisma's generic postgres kind, with pgwarden's SQLSTATE as `code`.
      const other = await adapter.queryRaw(q('SELECT 1/0')).catch((e: unknown) => e);
      assert.ok(isDriverAdapterError(other));
      assert.equal(other.cause.kind, 'postgres');
      assert.equal((other.cause as { code?: string }).code, '22012');
    } finally {
      await adapter.dispose();
      await pool.end();
    }
  });
});

describe('@prisma/adapter-pg: a connection lost under an interactive transaction', () => {
  // pg says "Client has encountered a connection error and is not queryable"
  // for a statement sent on a client whose connection already died: that is
  // PGW_QUERY_CONNECTION_LOST (it may or may not have run), not a failed statement.
  test('the next statement reports PGW_QUERY_CONNECTION_LOST; the dead client leaves the pool at rollback()', async () => {
    const pool = await fx.pool('pgw-prisma');
    const adapter = await new PrismaPg(pool).connect();
    try {
      const tx = await adapter.startTransaction();
      const noticed = new Promise((resolve) => pool.once('connection-error', resolve));
      await fx.cluster.adminQuery(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
        [APP_ROLE],
      );
      await noticed;
      const error = await tx.executeRaw(q('SELECT 1')).catch((e: unknown) => e);
      await tx.executeRaw(ROLLBACK).catch(() => undefined);
      await tx.rollback();
      assertNothingCheckedOut(pool);
      assert.equal((await adapter.queryRaw(q('SELECT $1::int', 1))).rows[0]![0], 1);
      // Not a server error (no severity): the adapter rethrows pgwarden's error unmapped.
      assert.ok(!isDriverAdapterError(error));
      assert.equal((error as PgwardenError).pgwardenCode, 'PGW_QUERY_CONNECTION_LOST');
    } finally {
      await adapter.dispose();
      await pool.end();
    }
  });
});

describe("@prisma/adapter-pg's teardown", () => {
  test('dispose() leaves an external pool open and removes its error listener', async () => {
    const pool = await fx.pool('pgw-prisma');
    const errorListeners = pool.listenerCount('error');
    const adapter = await new PrismaPg(pool).connect();
    try {
      await adapter.queryRaw(q('SELECT $1::int AS n', 1));
      await adapter.dispose();
      assert.equal(pool.closed, false);
      assert.equal(pool.listenerCount('error'), errorListeners);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      assertNothingCheckedOut(pool);
    } finally {
      await pool.end();
    }
    await assertNoServerConnections(fx.cluster);
  });

  test('dispose() with { disposeExternalPool: true } ends the pgwarden pool (pool.end())', async () => {
    const pool = await fx.pool('pgw-prisma');
    const adapter = await new PrismaPg(pool, { disposeExternalPool: true }).connect();
    await adapter.queryRaw(q('SELECT $1::int AS n', 1));
    await adapter.dispose();
    assert.equal(pool.closed, true);
    await assertNoServerConnections(fx.cluster);
  });
});

describe('@prisma/adapter-pg caveats', () => {
  test('anything that is not a pg.Pool (a config, a URL) makes the adapter build a plain pg.Pool of its own', async () => {
    const adapter = await new PrismaPg({ connectionString: 'postgresql://127.0.0.1:1/none' }).connect();
    try {
      const own = adapter.underlyingDriver();
      assert.ok(own instanceof pg.Pool);
      assert.ok(!(own instanceof WardenPool), 'not pgwarden: no policy, no TLS rules, no credentials');
    } finally {
      await adapter.dispose();
    }
  });

  test("connectToShadowDb() (prisma migrate's shadow database) builds a plain pg.Pool from pool.options, outside pgwarden", async () => {
    const pool = await fx.pool('pgw-prisma');
    const factory = new PrismaPg(pool);
    const shadow = await factory.connectToShadowDb();
    try {
      const own = shadow.underlyingDriver();
      assert.ok(!(own instanceof WardenPool), 'the shadow pool is not the pgwarden pool');
      // pool.options holds pg-pool's settings only: no host, no TLS, no credentials.
      assert.equal(own.options.host, undefined);
      assert.equal(own.options.ssl, undefined);
      assert.equal(own.options.password, undefined);
    } finally {
      // Drops the shadow database through the pgwarden pool, then ends the plain one.
      await shadow.dispose();
      await pool.end();
    }
    const left = await fx.cluster.adminQuery("SELECT datname FROM pg_database WHERE datname LIKE 'prisma_%'");
    assert.deepEqual(left, []);
  });
});
