// Behind a real PgBouncer (Debian's 1.18), transaction and session mode,
// TLS on both hops: the guidelines' timeouts hold and fail closed, the
// pooler's refusal of a startup parameter is coded at once, transactions and
// parameterized queries work, and auth_query keeps a rotated password working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  createPool,
  PgwardenError,
  PolicyError,
  QueryError,
  type CreatePoolOptions,
  type WardenPool,
} from '../../src/index.js';
import {
  assertNoCanary,
  canary,
  createPki,
  PgBouncer,
  startCluster,
  type Cluster,
  type Pki,
} from '../support/index.js';

let cluster: Cluster;
let pki: Pki;
const passwords = { app: canary(), timed: canary(), auth: canary(), rotating: canary() };
const bouncers: Record<'transaction' | 'session', PgBouncer | undefined> = {
  transaction: undefined,
  session: undefined,
};
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);

before(async () => {
  pki = await createPki();
  cluster = await startCluster({
    tls: { pki },
    hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'],
  });
  await cluster.createRole('app', { password: passwords.app });
  await cluster.createRole('timed', { password: passwords.timed });
  await cluster.adminQuery(
    'ALTER ROLE timed SET statement_timeout = 1500; ALTER ROLE timed SET idle_in_transaction_session_timeout = 60000',
  );
  await cluster.createRole('pgbouncer_auth', { password: passwords.auth });
  await cluster.createRole('rotating', { password: passwords.rotating });
  await cluster.adminQuery(PgBouncer.authQuerySql('pgbouncer_auth'));
  await cluster.adminQuery('CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL)');
  await cluster.adminQuery(
    'GRANT SELECT, INSERT ON items TO app, timed; GRANT USAGE ON SEQUENCE items_id_seq TO app, timed',
  );
  const users = [
    { name: 'app', password: passwords.app },
    { name: 'timed', password: passwords.timed },
    { name: 'pgbouncer_auth', password: passwords.auth },
  ];
  bouncers.transaction = await PgBouncer.start({
    cluster,
    pki,
    poolMode: 'transaction',
    users,
    authUser: 'pgbouncer_auth',
  });
  bouncers.session = await PgBouncer.start({ cluster, pki, poolMode: 'session', users });
  process.on('warning', onWarning);
});

after(async () => {
  process.off('warning', onWarning);
  await bouncers.transaction?.stop();
  await bouncers.session?.stop();
  await cluster?.stop();
  for (const secret of Object.values(passwords)) {
    assertNoCanary(warnings.map((w) => `${w.message} ${w.stack}`).join('\n'), secret);
  }
});

function through(mode: 'transaction' | 'session', extra: CreatePoolOptions = {}): CreatePoolOptions {
  const bouncer = bouncers[mode]!;
  return {
    env: {},
    environment: 'test',
    host: bouncer.host,
    port: bouncer.port,
    database: 'postgres',
    user: 'app',
    password: passwords.app,
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
    ...extra,
  };
}

async function withPool<T>(options: CreatePoolOptions, fn: (pool: WardenPool) => Promise<T>): Promise<T> {
  const pool = await createPool(options);
  try {
    return await fn(pool);
  } finally {
    await pool.close({ timeoutMs: 5000 });
  }
}

for (const mode of ['transaction', 'session'] as const) {
  describe(`PgBouncer in ${mode} mode`, () => {
    test('a startup parameter the pooler refuses is a coded error naming it, at once and never retried', async () => {
      const started = Date.now();
      const error = (await createPool(
        through(mode, { statementTimeoutMs: 5000, acquireTimeoutMs: 8000 }),
      ).catch((e: unknown) => e)) as PgwardenError;
      assert.ok(error instanceof PgwardenError, String(error));
      assert.equal(error.code, 'PGW_CONN_STARTUP_PARAMETER_REFUSED', error.message);
      assert.match(error.message, /statement_timeout/);
      assert.equal(error.option, 'statementTimeoutMs');
      assert.match(error.fix ?? '', /DB_POOLER=pgbouncer/);
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms: it was retried or timed out`);
    });

    test("with DB_POOLER the role's timeouts are proven and hold; transactions SET LOCAL theirs", async () => {
      const options = through(mode, {
        env: { DB_POOLER: 'pgbouncer' },
        user: 'timed',
        password: passwords.timed,
        statementTimeoutMs: 1500,
        idleInTransactionSessionTimeoutMs: 60000,
        environment: 'production',
        checkRole: true,
      });
      await withPool(options, async (pool) => {
        assert.equal(pool.config.pooler, 'pgbouncer');
        assert.deepEqual(pool.startup?.violations, []);
        const slow = await pool.query('SELECT pg_sleep(3)').catch((e: unknown) => e);
        assert.ok(slow instanceof QueryError, String(slow));
        assert.equal(slow.code, '57014', 'the server cancelled it after statement_timeout');
        const inside = await pool.transaction(async (tx) => {
          const { rows } = await tx.query<{ st: string; idle: string }>(
            "SELECT current_setting('statement_timeout') AS st, current_setting('idle_in_transaction_session_timeout') AS idle",
          );
          return rows[0]!;
        });
        assert.deepEqual(inside, { st: '1500ms', idle: '1min' });
      });
    });

    test('a timeout the role does not have refuses startup in production and warns elsewhere', async () => {
      const options = through(mode, { env: { DB_POOLER: 'pgbouncer' }, statementTimeoutMs: 5000 });
      await assert.rejects(createPool({ ...options, environment: 'production' }), (e: unknown) => {
        assert.ok(e instanceof PolicyError, String(e));
        const violation = e.violations.find((v) => v.code === 'PGW_POLICY_SESSION_SETTING_MISMATCH');
        assert.ok(violation, inspect(e.violations));
        assert.match(violation.message, /statement_timeout is 0 ms for role "app"/);
        assert.match(violation.fix, /ALTER ROLE "app" SET statement_timeout = 5000;/);
        return true;
      });
      const before = warnings.length;
      await withPool(options, async (pool) => {
        assert.ok(
          pool.startup?.violations.some((v) => v.code === 'PGW_POLICY_SESSION_SETTING_MISMATCH'),
          'reported',
        );
        // process.emitWarning emits on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(
          warnings
            .slice(before)
            .some((w) => (w as { code?: string }).code === 'PGW_POLICY_SESSION_SETTING_MISMATCH'),
          'warned',
        );
      });
    });

    test('parameterized queries, named statements, a transaction that commits and one that rolls back', async () => {
      await withPool(through(mode, { env: { DB_POOLER: 'pgbouncer' }, max: 4 }), async (pool) => {
        const name = `item-${mode}`;
        await pool.transaction(async (tx) => {
          await tx.query('INSERT INTO items (name) VALUES ($1)', [name]);
        });
        await assert.rejects(
          pool.transaction(async (tx) => {
            await tx.query('INSERT INTO items (name) VALUES ($1)', [`${name}-rolled-back`]);
            await tx.query('INSERT INTO items (name) VALUES ($1)', [name]);
          }),
          (e: unknown) => (e as QueryError).code === '23505',
        );
        // A named statement, many times and concurrently: each is sent unnamed behind the pooler.
        const counts = await Promise.all(
          Array.from({ length: 20 }, () =>
            pool.query<{ n: number }>({
              name: 'count-items',
              text: 'SELECT count(*)::int AS n FROM items WHERE name LIKE $1',
              values: [`${name}%`],
            }),
          ),
        );
        assert.ok(counts.every((r) => r.rows[0]!.n === 1));
      });
    });
  });
}

test('channel_binding=require cannot pass a pooler: a clear error before connecting', async () => {
  await assert.rejects(
    createPool(through('transaction', { env: { DB_POOLER: 'pgbouncer' }, channelBinding: 'require' })),
    (e: unknown) =>
      (e as PgwardenError).code === 'PGW_CONFIG_CONFLICT' && /pooler/.test((e as Error).message),
  );
});

test('auth_query: a password rotated on the server works through PgBouncer at once', async () => {
  const user = { user: 'rotating', env: { DB_POOLER: 'pgbouncer' } };
  await withPool(through('transaction', { ...user, password: passwords.rotating }), async (pool) => {
    assert.equal((await pool.query('SELECT current_user AS u')).rows[0]!.u, 'rotating');
  });
  const next = canary();
  passwords.rotating = next;
  await cluster.adminQuery(`ALTER ROLE rotating PASSWORD '${next}'`);
  await withPool(through('transaction', { ...user, password: next }), async (pool) => {
    assert.equal((await pool.query('SELECT current_user AS u')).rows[0]!.u, 'rotating');
  });
});
