// Kysely over a pgwarden pool: `new PostgresDialect({ pool })` with the
// WardenPool itself (typed, no cast), parameterized queries, transactions,
// pg's error fields through Kysely, and what `db.destroy()` does to the pool.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect, sql, type Generated } from 'kysely';
import { createPool, QueryError, type PgwardenError } from '../../src/index.js';
import {
  assertNoServerConnections,
  assertNothingCheckedOut,
  assertOnlyPoolConnections,
  countCheckouts,
  startIntegrationCluster,
  type IntegrationFixture,
} from './integrations-fixture.js';

interface Database {
  items: { id: Generated<number>; name: string };
}

let fx: IntegrationFixture;

before(async () => {
  fx = await startIntegrationCluster();
});

after(async () => {
  await fx?.stop();
});

describe('Kysely: new PostgresDialect({ pool })', () => {
  test('parameterized queries go through the pgwarden pool, and only through it', async () => {
    const pool = await fx.pool('pgw-kysely');
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const checkouts = countCheckouts(pool);
    try {
      const query = db.selectFrom('items').select(['id', 'name']).where('name', '=', 'kysely-1');
      // Sent as a parameter, not spliced into the text.
      assert.match(query.compile().sql, /"name" = \$1/);
      assert.deepEqual(query.compile().parameters, ['kysely-1']);
      const inserted = await db
        .insertInto('items')
        .values({ name: 'kysely-1' })
        .returning(['id', 'name'])
        .executeTakeFirstOrThrow();
      assert.deepEqual(await query.execute(), [inserted]);
      const { rows } = await sql<{
        tls: boolean;
      }>`SELECT ssl AS tls FROM pg_stat_ssl WHERE pid = pg_backend_pid()`.execute(db);
      assert.deepEqual(rows, [{ tls: true }]);
      assert.equal(checkouts.count, 3, 'one pool checkout per statement');
      await assertOnlyPoolConnections(fx.cluster, pool);
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
    }
  });

  test('a transaction commits, rolls back on a throw, and sets its isolation level', async () => {
    const pool = await fx.pool('pgw-kysely');
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      const level = await db
        .transaction()
        .setIsolationLevel('serializable')
        .execute(async (trx) => {
          await trx.insertInto('items').values({ name: 'kysely-commit' }).execute();
          const { rows } = await sql<{
            level: string;
          }>`SELECT current_setting('transaction_isolation') AS level`.execute(trx);
          return rows[0]!.level;
        });
      assert.equal(level, 'serializable');
      const boom = new Error('boom');
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('items').values({ name: 'kysely-rollback' }).execute();
          throw boom;
        }),
        (e: unknown) => e === boom,
      );
      const names = await db
        .selectFrom('items')
        .select('name')
        .where('name', 'in', ['kysely-commit', 'kysely-rollback'])
        .execute();
      assert.deepEqual(names, [{ name: 'kysely-commit' }]);
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
    }
  });

  test("a unique violation is 23505 with pg's fields; COMMIT of an aborted transaction is Kysely's AbortedTransactionError", async () => {
    const pool = await fx.pool('pgw-kysely');
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      await db.insertInto('items').values({ name: 'kysely-dup' }).execute();
      const error = await db
        .insertInto('items')
        .values({ name: 'kysely-dup' })
        .execute()
        .catch((e: unknown) => e);
      // Kysely hands the driver's error through unchanged (it only extends the stack).
      assert.ok(error instanceof QueryError, String(error));
      assert.equal(error.code, '23505');
      assert.equal(error.constraint, 'items_name_key');
      assert.equal(error.pgwardenCode, 'PGW_QUERY_FAILED');
      // Kysely reads the command tag of COMMIT: PostgreSQL answers ROLLBACK when
      // an earlier statement failed inside the transaction.
      const aborted = await db
        .transaction()
        .execute(async (trx) => {
          await trx
            .insertInto('items')
            .values({ name: 'kysely-dup' })
            .execute()
            .catch(() => undefined);
        })
        .catch((e: unknown) => e);
      assert.equal((aborted as Error).name, 'AbortedTransactionError');
      assertNothingCheckedOut(pool);
    } finally {
      await db.destroy();
    }
  });
});

describe("Kysely's teardown", () => {
  test('db.destroy() ends the pgwarden pool it was given (pool.end()): closed, no connection left on the server', async () => {
    const pool = await fx.pool('pgw-kysely');
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await db.selectFrom('items').select('id').limit(1).execute();
    assert.ok(pool.totalCount >= 1);
    await db.destroy();
    assert.equal(pool.closed, true);
    assert.equal(pool.ending, true);
    await assertNoServerConnections(fx.cluster);
    await assert.rejects(
      pool.query('SELECT 1'),
      (e: unknown) => (e as PgwardenError).code === 'PGW_POOL_CLOSED',
    );
    // A second destroy, and the pool's own end() after it, are harmless.
    await db.destroy();
    await pool.end();
  });

  test('a pool shared with the rest of the app: hand Kysely an end() that leaves it open', async () => {
    const pool = await fx.pool('pgw-kysely');
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: { connect: () => pool.connect(), end: async () => undefined } }),
    });
    try {
      await db.selectFrom('items').select('id').limit(1).execute();
      await db.destroy();
      assert.equal(pool.closed, false);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      assertNothingCheckedOut(pool);
    } finally {
      await pool.end();
    }
  });

  test('pool as a factory: PostgresDialect({ pool: () => createPool(...) }) creates it on first use', async () => {
    let created = 0;
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({
        pool: async () => {
          created++;
          return createPool(fx.options('pgw-kysely-lazy'));
        },
      }),
    });
    assert.equal(created, 0);
    try {
      const { rows } = await sql<{ app: string }>`SELECT current_setting('application_name') AS app`.execute(
        db,
      );
      assert.deepEqual(rows, [{ app: 'pgw-kysely-lazy' }]);
      assert.equal(created, 1);
    } finally {
      await db.destroy();
    }
    await assertNoServerConnections(fx.cluster);
  });
});
