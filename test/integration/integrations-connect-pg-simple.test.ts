// connect-pg-simple (express-session's PostgreSQL store) over a pgwarden
// pool: `new (connectPgSimple(session))({ pool })`. Each store call is one
// parameterized statement through pool.query; the store never opens a
// transaction of its own, so the transaction test is the application's:
// "log out everywhere" deletes a user's sessions in its own pgwarden
// transaction, and the store sees the change only once it commits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { QueryError, type WardenPool } from '../../src/index.js';
import {
  APP_ROLE,
  assertNoServerConnections,
  assertNothingCheckedOut,
  assertOnlyPoolConnections,
  countCheckouts,
  startIntegrationCluster,
  type IntegrationFixture,
} from './integrations-fixture.js';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    visits: number;
  }
}

const PgStore = connectPgSimple(session);

let fx: IntegrationFixture;

before(async () => {
  fx = await startIntegrationCluster();
  // createTableIfMissing creates the "session" table through the pool.
  await fx.cluster.adminQuery(`GRANT CREATE ON SCHEMA public TO ${APP_ROLE}`);
});

after(async () => {
  await fx?.stop();
});

/** An express app on loopback with sessions in `store`: /login?user=…, /visit. */
async function startApp(store: session.Store): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(
    session({ store, secret: 'integration-test-cookie-secret', resave: false, saveUninitialized: false }),
  );
  app.get('/login', (req, res) => {
    req.session.userId = String(req.query.user);
    req.session.visits = 0;
    res.json({ sid: req.sessionID });
  });
  app.get('/visit', (req, res) => {
    if (!req.session.userId) return void res.status(401).json({ error: 'no session' });
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.json({ userId: req.session.userId, visits: req.session.visits });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const sessionCookie = (response: Response): string => {
  const cookie = response.headers.get('set-cookie');
  assert.ok(cookie, 'a session cookie');
  return cookie.split(';')[0]!;
};

const storeGet = (store: session.Store, sid: string) =>
  new Promise<session.SessionData | null | undefined>((resolve, reject) =>
    store.get(sid, (error, data) => (error ? reject(error) : resolve(data))),
  );

async function withStore<T>(
  fn: (store: InstanceType<typeof PgStore>, pool: WardenPool) => Promise<T>,
): Promise<T> {
  const pool = await fx.pool('pgw-connect-pg-simple');
  const store = new PgStore({ pool, createTableIfMissing: true });
  try {
    return await fn(store, pool);
  } finally {
    store.close();
    await pool.end();
  }
}

describe('connect-pg-simple: new PgStore({ pool })', () => {
  test('express sessions are stored, read and updated through the pgwarden pool, and only through it', async () => {
    await withStore(async (store, pool) => {
      const app = await startApp(store);
      const checkouts = countCheckouts(pool);
      try {
        const login = await fetch(`${app.url}/login?user=alice`);
        const { sid } = (await login.json()) as { sid: string };
        const cookie = sessionCookie(login);
        for (const visits of [1, 2]) {
          const visit = await fetch(`${app.url}/visit`, { headers: { cookie } });
          assert.deepEqual(await visit.json(), { userId: 'alice', visits });
        }
        assert.equal((await storeGet(store, sid))?.visits, 2);
        // The row, read with a parameter through the same pool.
        const { rows } = await pool.query<{ sess: { userId: string } }>(
          'SELECT sess FROM session WHERE sid = $1',
          [sid],
        );
        assert.equal(rows[0]?.sess.userId, 'alice');
        assert.ok(checkouts.count >= 6, `${checkouts.count} checkouts`);
        await assertOnlyPoolConnections(fx.cluster, pool);
        assertNothingCheckedOut(pool);
      } finally {
        await app.close();
      }
    });
  });

  test("the app's own transaction deletes a user's sessions: the store sees it after COMMIT, not after ROLLBACK", async () => {
    await withStore(async (store, pool) => {
      const app = await startApp(store);
      try {
        const login = await fetch(`${app.url}/login?user=bob`);
        const { sid } = (await login.json()) as { sid: string };
        const cookie = sessionCookie(login);
        const logoutEverywhere = (tx: { query(text: string, values: unknown[]): Promise<unknown> }) =>
          tx.query("DELETE FROM session WHERE sess->>'userId' = $1", ['bob']);

        await assert.rejects(
          pool.transaction(async (tx) => {
            await logoutEverywhere(tx);
            throw new Error('the password change failed');
          }),
          /password change failed/,
        );
        assert.equal((await fetch(`${app.url}/visit`, { headers: { cookie } })).status, 200);

        await pool.transaction(logoutEverywhere);
        assert.equal(await storeGet(store, sid), undefined, 'no session any more');
        assert.equal((await fetch(`${app.url}/visit`, { headers: { cookie } })).status, 401);
        assertNothingCheckedOut(pool);
      } finally {
        await app.close();
      }
    });
  });

  test('pruneSessions removes expired sessions (a parameterized DELETE)', async () => {
    await withStore(async (store, pool) => {
      await new Promise<void>((resolve, reject) =>
        store.set(
          'expired-sid',
          { cookie: { originalMaxAge: 1, expires: new Date(Date.now() - 60_000) }, userId: 'old', visits: 0 },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
      assert.equal((await pool.query("SELECT 1 FROM session WHERE sid = 'expired-sid'")).rowCount, 1);
      await new Promise<void>((resolve, reject) =>
        store.pruneSessions((error) => (error ? reject(error) : resolve())),
      );
      assert.equal((await pool.query("SELECT 1 FROM session WHERE sid = 'expired-sid'")).rowCount, 0);
    });
  });

  test("a failing statement reaches the store's callback as pgwarden's QueryError with the SQLSTATE", async () => {
    const pool = await fx.pool('pgw-connect-pg-simple');
    const store = new PgStore({ pool, tableName: 'no_such_table', pruneSessionInterval: false });
    try {
      const error = await storeGet(store, 'any').catch((e: unknown) => e);
      assert.ok(error instanceof QueryError, String(error));
      assert.equal(error.code, '42P01');
      assertNothingCheckedOut(pool);
    } finally {
      store.close();
      await pool.end();
    }
  });
});

describe("connect-pg-simple's teardown", () => {
  test('store.close() stops the prune timer and leaves a pool it was given open', async () => {
    const pool = await fx.pool('pgw-connect-pg-simple');
    // Prune every ~50 ms, so that the timer's work is visible as pool checkouts.
    const store = new PgStore({ pool, createTableIfMissing: true, pruneSessionInterval: 0.05 });
    const checkouts = countCheckouts(pool);
    const waitFor = async (count: number) => {
      const deadline = Date.now() + 3000;
      while (checkouts.count < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(checkouts.count >= count, `${checkouts.count} checkouts, expected ${count}`);
    };
    try {
      // The store's first use arms the prune timer; prunes then follow one another.
      assert.equal(await storeGet(store, 'nobody'), undefined);
      const afterGet = checkouts.count;
      await waitFor(afterGet + 2);
      store.close();
      // A prune already under way may still finish; then nothing more runs.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const atClose = checkouts.count;
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(checkouts.count, atClose, 'the store kept pruning after close()');
      assert.equal(pool.closed, false);
      assertNothingCheckedOut(pool);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0]!.one, 1);
      await assertOnlyPoolConnections(fx.cluster, pool);
    } finally {
      await pool.end();
    }
    await assertNoServerConnections(fx.cluster);
  });
});
