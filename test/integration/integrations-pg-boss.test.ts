// pg-boss over a pgwarden pool: `new PgBoss({ db: { executeSql } })`, the
// documented way to bring your own database. pg-boss then opens no pool of
// its own; every statement (its migrations too) goes through pool.query, and
// a job can be sent inside the application's own pgwarden transaction.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import PgBoss from 'pg-boss';
import { QueryError, type TransactionClient, type WardenPool } from '../../src/index.js';
import {
  APP_ROLE,
  assertNoServerConnections,
  assertOnlyPoolConnections,
  countCheckouts,
  startIntegrationCluster,
  waitUntilNothingCheckedOut,
  type IntegrationFixture,
} from './integrations-fixture.js';

/** pg-boss's Db: one statement through the pgwarden pool. */
const bossDb = (pool: WardenPool): PgBoss.Db => ({ executeSql: (text, values) => pool.query(text, values) });
/** The same inside a transaction, so a job is created (or not) with the rest of it. */
const txDb = (tx: TransactionClient): PgBoss.Db => ({ executeSql: (text, values) => tx.query(text, values) });

const QUEUE = 'emails';

let fx: IntegrationFixture;

before(async () => {
  fx = await startIntegrationCluster();
  // pg-boss creates and migrates its own schema on start().
  await fx.cluster.adminQuery(`GRANT CREATE ON DATABASE postgres TO ${APP_ROLE}`);
});

after(async () => {
  await fx?.stop();
});

async function withBoss<T>(fn: (boss: PgBoss, pool: WardenPool) => Promise<T>): Promise<T> {
  const pool = await fx.pool('pgw-pg-boss');
  const boss = new PgBoss({ db: bossDb(pool), schema: 'pgboss' });
  const errors: unknown[] = [];
  boss.on('error', (error) => errors.push(error));
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
    const result = await fn(boss, pool);
    await boss.stop();
    // pg-boss's own background statements have all given their client back.
    await waitUntilNothingCheckedOut(pool);
    assert.deepEqual(errors, [], 'pg-boss reported errors');
    return result;
  } finally {
    await boss.stop({ graceful: false });
    await pool.end();
  }
}

describe('pg-boss: new PgBoss({ db: { executeSql } })', () => {
  test('start (migrations), send, fetch and complete run through the pgwarden pool, and only through it', async () => {
    await withBoss(async (boss, pool) => {
      const checkouts = countCheckouts(pool);
      const id = await boss.send(QUEUE, { to: 'someone@example.test' });
      assert.ok(id);
      const [job] = await boss.fetch<{ to: string }>(QUEUE);
      assert.equal(job?.id, id);
      assert.deepEqual(job?.data, { to: 'someone@example.test' });
      await boss.complete(QUEUE, id);
      const done = await boss.getJobById(QUEUE, id);
      assert.equal(done?.state, 'completed');
      assert.ok(checkouts.count >= 4, `${checkouts.count} checkouts for 4 statements`);
      const { rows } = await pool.query<{ version: number }>('SELECT version FROM pgboss.version');
      assert.ok(rows[0]!.version >= 1, 'the migrations ran through the pool');
      await assertOnlyPoolConnections(fx.cluster, pool);
    });
  });

  test("a job sent inside the app's transaction commits with it, and rolls back with it (a 23505 in the same transaction)", async () => {
    await withBoss(async (boss, pool) => {
      const committed = await pool.transaction(async (tx) => {
        await tx.query('INSERT INTO items (name) VALUES ($1)', ['boss-commit']);
        return boss.send(QUEUE, { item: 'boss-commit' }, { db: txDb(tx) });
      });
      assert.ok(committed);
      assert.equal((await boss.getJobById(QUEUE, committed))?.state, 'created');

      await pool.query('INSERT INTO items (name) VALUES ($1)', ['boss-dup']);
      let rolledBack: string | null = null;
      const error = await pool
        .transaction(async (tx) => {
          rolledBack = await boss.send(QUEUE, { item: 'boss-dup' }, { db: txDb(tx) });
          await tx.query('INSERT INTO items (name) VALUES ($1)', ['boss-dup']);
        })
        .catch((e: unknown) => e);
      // pg-boss maps no errors: what the pool threw arrives as it is.
      assert.ok(error instanceof QueryError, String(error));
      assert.equal(error.code, '23505');
      assert.ok(rolledBack, 'the job was inserted inside the transaction');
      assert.equal(
        await boss.getJobById(QUEUE, rolledBack),
        null,
        'the job rolled back with the transaction',
      );
    });
  });
});

describe("pg-boss's teardown", () => {
  test('stop() (close: true by default) stops its timers and leaves a pool it was given open and idle', async () => {
    const pool = await fx.pool('pgw-pg-boss');
    const boss = new PgBoss({ db: bossDb(pool), schema: 'pgboss' });
    const queue = 'teardown';
    let stopped = false;
    boss.once('stopped', () => (stopped = true));
    try {
      await boss.start();
      await boss.createQueue(queue);
      const id = await boss.send(queue, { n: 1 }, { retryLimit: 0 });
      // A worker polls through the pool; its handler is still running at stop().
      let release!: () => void;
      const handlerDone = new Promise<void>((resolve) => (release = resolve));
      const started = new Promise<string>((resolve) =>
        boss.work(queue, { pollingIntervalSeconds: 0.5 }, async ([job]) => {
          resolve(job!.id);
          await handlerDone;
        }),
      );
      assert.equal(await started, id);
      // Graceful: waits up to `timeout` for the handler, then fails the job, through the same pool.
      await boss.stop({ timeout: 1000 });
      release();
      const failed = await boss.getJobById(queue, id!);
      assert.equal(failed?.state, 'failed');
      assert.match(JSON.stringify(failed?.output), /shut down while active/);
      assert.equal(stopped, true, "pg-boss emitted 'stopped'");
      assert.equal(pool.closed, false);
      // The worker, released after stop(), still completes its job: pg-boss's
      // stop() does not wait for that statement. It comes back shortly.
      await waitUntilNothingCheckedOut(pool);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      await assertOnlyPoolConnections(fx.cluster, pool);
    } finally {
      await boss.stop({ graceful: false });
      await pool.end();
    }
    await assertNoServerConnections(fx.cluster);
  });
});
