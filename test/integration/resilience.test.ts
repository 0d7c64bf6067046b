// Faults under load: a server killed with SIGKILL and restarted, a network
// cut without a clean close, pool usage alerts. The process must never
// crash, every failure must be coded, and the pool must recover.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPool, PgwardenError, type PoolStats } from '../../src/index.js';
import { canary, startCluster, type Cluster } from '../support/index.js';
import { TcpProxy } from '../support/tcp-proxy.js';

let cluster: Cluster;
const password = canary();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  cluster = await startCluster();
  await cluster.createRole('app', { password });
});

after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await cluster?.stop();
  assert.deepEqual(unhandled, [], 'no unhandled rejection');
});

const options = (port: number) => ({
  env: {},
  environment: 'test' as const,
  host: '127.0.0.1',
  port,
  database: 'postgres',
  user: 'app',
  password,
  sslMode: 'disable' as const,
});

test('SIGKILL under 20 loops, then restart: coded errors only, throughput back within 2 s', async () => {
  const pool = await createPool({
    ...options(cluster.port),
    max: 10,
    acquireTimeoutMs: 1000,
    connectionTimeoutMs: 1000,
  });
  const successes: number[] = [];
  const failures: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: 20 }, async () => {
    while (running) {
      try {
        await pool.query('SELECT 1');
        successes.push(Date.now());
      } catch (error) {
        failures.push(error);
        await sleep(10);
      }
    }
  });
  try {
    await sleep(800);
    const before = successes.length;
    assert.ok(before > 100, `only ${before} queries before the kill`);
    await cluster.kill('SIGKILL');
    await sleep(1000);
    await cluster.start();
    const accepting = Date.now();
    await sleep(2500);
    running = false;
    await Promise.all(loops);
    const firstAfter = successes.find((t) => t >= accepting);
    assert.ok(firstAfter !== undefined, 'no query succeeded after the restart');
    assert.ok(
      firstAfter - accepting < 2000,
      `first success ${firstAfter - accepting} ms after the server came back`,
    );
    const lastSecond = successes.filter((t) => t >= accepting + 1500).length;
    assert.ok(lastSecond > 100, `throughput after recovery: ${lastSecond} queries in the last second`);
    assert.ok(failures.length > 0, 'the outage was not noticed at all');
    for (const failure of failures) {
      assert.ok(failure instanceof PgwardenError, `uncoded failure: ${String(failure)}`);
      assert.match(failure.pgwardenCode, /^PGW_(CONN|QUERY|POOL)_/);
    }
  } finally {
    running = false;
    await Promise.all(loops);
    await pool.close();
  }
});

test('a network cut without a clean close: queries time out per queryTimeoutMs, and the pool recovers', async () => {
  const proxy = await TcpProxy.start(cluster.port);
  const pool = await createPool({
    ...options(proxy.port),
    max: 3,
    queryTimeoutMs: 500,
    connectionTimeoutMs: 1000,
    acquireTimeoutMs: 1500,
  });
  try {
    assert.equal((await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
    proxy.cut();
    const started = Date.now();
    const error = await pool.query('SELECT 1').then(
      () => assert.fail('a query crossed a cut network'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PgwardenError);
    assert.ok(['PGW_QUERY_TIMEOUT', 'PGW_CONN_TIMEOUT'].includes(error.code), error.code);
    assert.ok(Date.now() - started < 5000, 'the timeout did not fire');
    proxy.restore();
    assert.equal((await pool.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n, 2);
  } finally {
    proxy.restore();
    await pool.close();
    await proxy.stop();
  }
});

test('pool usage at 90% is logged and emitted once per episode', async () => {
  const lines: string[] = [];
  const logger = {
    info: () => undefined,
    warn: (...a: unknown[]) => lines.push(JSON.stringify(a)),
    error: () => undefined,
  };
  const pool = await createPool({ ...options(cluster.port), max: 2, logger });
  const events: PoolStats[] = [];
  pool.on('pool-usage-high', (stats: PoolStats) => events.push(stats));
  try {
    const held = [await pool.connect(), await pool.connect()];
    assert.equal(events.length, 1);
    assert.equal(events[0]!.inUse, 2);
    // Still saturated: one release and checkout is the same episode.
    held.pop()!.release();
    held.push(await pool.connect());
    assert.equal(events.length, 1);
    // Usage falls well below the ratio, then climbs again: a new episode.
    held.forEach((c) => c.release());
    const again = [await pool.connect(), await pool.connect()];
    again.forEach((c) => c.release());
    assert.equal(events.length, 2);
    assert.match(lines.join('\n'), /db\.pool-usage-high/);
  } finally {
    await pool.close();
  }
});
