// Drizzle over a pgwarden pool: `drizzle(pool)` and `drizzle({ client: pool })`
// with the WardenPool itself (typed, no cast). Drizzle sends
// `client.query(config, params)` (the form that once lost its values) and
// decides "pool or client" by the constructor's name; its transactions check a
// client out with pool.connect(). Errors arrive wrapped in DrizzleQueryError,
// pgwarden's QueryError as the cause.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DrizzleQueryError, eq, inArray, sql, TransactionRollbackError } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { QueryError } from '../../src/index.js';
import { assertErrorHasNoSecret, canary } from '../support/index.js';
import {
  assertNoServerConnections,
  assertNothingCheckedOut,
  assertOnlyPoolConnections,
  countCheckouts,
  startIntegrationCluster,
  type IntegrationFixture,
} from './integrations-fixture.js';

const items = pgTable('items', { id: serial('id').primaryKey(), name: text('name').notNull().unique() });

let fx: IntegrationFixture;

before(async () => {
  fx = await startIntegrationCluster();
});

after(async () => {
  await fx?.stop();
});

describe('Drizzle: drizzle(pool)', () => {
  test('parameterized queries (query builder and sql``) go through the pgwarden pool, and only through it', async () => {
    const pool = await fx.pool('pgw-drizzle');
    const db = drizzle(pool);
    const checkouts = countCheckouts(pool);
    try {
      assert.equal(db.$client, pool);
      const select = db.select().from(items).where(eq(items.name, 'drizzle-1'));
      assert.match(select.toSQL().sql, /= \$1/);
      assert.deepEqual(select.toSQL().params, ['drizzle-1']);
      const [inserted] = await db.insert(items).values({ name: 'drizzle-1' }).returning();
      assert.equal(inserted?.name, 'drizzle-1');
      assert.deepEqual(await select, [inserted]);
      // db.execute with a parameter: Drizzle's client.query({ text }, params) form.
      const { rows } = await db.execute<{ n: number; tls: boolean }>(
        sql`SELECT ${41}::int + 1 AS n, ssl AS tls FROM pg_stat_ssl WHERE pid = pg_backend_pid()`,
      );
      assert.deepEqual(rows, [{ n: 42, tls: true }]);
      assert.equal(checkouts.count, 3, 'one pool checkout per statement');
      await assertOnlyPoolConnections(fx.cluster, pool);
      assertNothingCheckedOut(pool);
    } finally {
      await pool.end();
    }
  });

  test('drizzle({ client: pool }) is the same pool; the relational config form', async () => {
    const pool = await fx.pool('pgw-drizzle');
    try {
      const db = drizzle({ client: pool, schema: { items } });
      assert.equal(db.$client, pool);
      await db.insert(items).values({ name: 'drizzle-rq' });
      const found = await db.query.items.findFirst({ where: eq(items.name, 'drizzle-rq') });
      assert.equal(found?.name, 'drizzle-rq');
      await assertOnlyPoolConnections(fx.cluster, pool);
    } finally {
      await pool.end();
    }
  });

  test('a transaction takes one client from the pool (pool.connect) and commits; a throw and tx.rollback() roll back', async () => {
    const pool = await fx.pool('pgw-drizzle');
    const db = drizzle(pool);
    try {
      const pids = await db.transaction(async (tx) => {
        await tx.insert(items).values({ name: 'drizzle-commit' });
        const a = await tx.execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
        const b = await tx.execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
        assert.equal(pool.totalCount - pool.idleCount, 1, 'the transaction holds one checked-out client');
        return [a.rows[0]!.pid, b.rows[0]!.pid];
      });
      assert.equal(pids[0], pids[1], 'every statement of the transaction on one connection');
      const boom = new Error('boom');
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.insert(items).values({ name: 'drizzle-throw' });
          throw boom;
        }),
        (e: unknown) => e === boom,
      );
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.insert(items).values({ name: 'drizzle-rollback' });
          tx.rollback();
        }),
        TransactionRollbackError,
      );
      // Nested: a savepoint rolled back, the outer transaction committed.
      await db.transaction(async (tx) => {
        await tx.insert(items).values({ name: 'drizzle-outer' });
        await tx
          .transaction(async (inner) => {
            await inner.insert(items).values({ name: 'drizzle-inner' });
            inner.rollback();
          })
          .catch(() => undefined);
      });
      const names = await db
        .select({ name: items.name })
        .from(items)
        .where(
          inArray(items.name, [
            'drizzle-commit',
            'drizzle-throw',
            'drizzle-rollback',
            'drizzle-outer',
            'drizzle-inner',
          ]),
        )
        .orderBy(items.name);
      assert.deepEqual(names, [{ name: 'drizzle-commit' }, { name: 'drizzle-outer' }]);
      assertNothingCheckedOut(pool);
    } finally {
      await pool.end();
    }
  });

  test('a unique violation: DrizzleQueryError whose cause is QueryError 23505 with pg’s fields', async () => {
    const pool = await fx.pool('pgw-drizzle');
    const db = drizzle(pool);
    try {
      await db.insert(items).values({ name: 'drizzle-dup' });
      const error = await db
        .insert(items)
        .values({ name: 'drizzle-dup' })
        .catch((e: unknown) => e);
      assert.ok(error instanceof DrizzleQueryError, String(error));
      const cause = error.cause;
      assert.ok(cause instanceof QueryError, String(cause));
      assert.equal(cause.code, '23505');
      assert.equal(cause.constraint, 'items_name_key');
      assert.equal(cause.table, 'items');
      // Inside a transaction too, and the client goes back to the pool.
      const inTx = await db
        .transaction((tx) => tx.insert(items).values({ name: 'drizzle-dup' }))
        .catch((e: unknown) => e);
      assert.equal(((inTx as DrizzleQueryError).cause as QueryError).code, '23505');
      assertNothingCheckedOut(pool);
    } finally {
      await pool.end();
    }
  });

  test("caveat: Drizzle's own error message prints the query's parameters; pgwarden's error (its cause) does not", async () => {
    const pool = await fx.pool('pgw-drizzle');
    const db = drizzle(pool);
    // A value the application holds (a token, an email): the statement fails
    // for an unrelated reason, so the server's error does not mention it.
    const value = canary();
    try {
      const error = (await db
        .execute(sql`SELECT ${value}::text AS v, no_such_column`)
        .catch((e: unknown) => e)) as DrizzleQueryError;
      assert.ok(error instanceof DrizzleQueryError, String(error));
      assert.ok(error.message.includes(value), 'Drizzle prints params in its message (documented caveat)');
      const cause = error.cause as QueryError;
      assert.equal(cause.code, '42703');
      assertErrorHasNoSecret(cause, [value]);
    } finally {
      await pool.end();
    }
  });
});

describe("Drizzle's teardown", () => {
  test('Drizzle has none of its own: the pool stays open until db.$client.end() (the pgwarden pool’s end)', async () => {
    const pool = await fx.pool('pgw-drizzle');
    const db = drizzle(pool);
    await db.select().from(items).limit(1);
    assert.equal(pool.closed, false);
    await db.$client.end();
    assert.equal(pool.closed, true);
    await assertNoServerConnections(fx.cluster);
  });
});
