// The pool's diagnostics_channel messages and the Prometheus metrics built on
// them, against a real TLS cluster: any number of independent subscribers,
// counters for cumulative counts, replica pools labelled, no secret in a message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Registry } from 'prom-client';
import { CHANNELS, createPool, type RotationEvent, type WardenPool } from '../../src/index.js';
import { instrumentPool } from '../../src/metrics/index.js';
import { assertNoCanary, canary, type Cluster } from '../support/index.js';
import { startIntegrationCluster, type IntegrationFixture } from './integrations-fixture.js';

let fixture: IntegrationFixture;
let cluster: Cluster;
let password: string;

before(async () => {
  fixture = await startIntegrationCluster();
  ({ cluster, password } = fixture);
});

after(async () => {
  await fixture?.stop();
});

const poolOptions = (extra = {}) => fixture.options('diagnostics-metrics', extra);

/** Subscribes to every pgwarden channel; returns what arrived and an unsubscribe. */
function record(): { messages: { channel: string; message: Record<string, unknown> }[]; stop(): void } {
  const messages: { channel: string; message: Record<string, unknown> }[] = [];
  const handlers = Object.values(CHANNELS).map((channel) => {
    const handler = (message: unknown): void => {
      messages.push({ channel, message: message as Record<string, unknown> });
    };
    diagnosticsChannel.subscribe(channel, handler);
    return [channel, handler] as const;
  });
  return {
    messages,
    stop: () => handlers.forEach(([channel, handler]) => diagnosticsChannel.unsubscribe(channel, handler)),
  };
}

const endAppSessions = () =>
  cluster.adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'");

/** The value of one sample line of the exposition text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('diagnostics_channel', () => {
  test('two subscribers each receive acquire, query, TLS handshake and connection-error messages naming the pool', async () => {
    const first = record();
    const second = record();
    const pool = await createPool(poolOptions());
    try {
      await pool.query('SELECT 1');
      await assert.rejects(pool.query('SELECT 1/0'));
      await cluster.adminQuery(`ALTER ROLE app PASSWORD '${canary()}'`);
      await endAppSessions();
      await new Promise((resolve) => setTimeout(resolve, 100)); // pg-pool drops the ended idle connection
      await assert.rejects(pool.query({ text: 'SELECT 1' }), { code: 'PGW_CONN_AUTH_FAILED' });
    } finally {
      await cluster.adminQuery(`ALTER ROLE app PASSWORD '${password}'`);
      await pool.close();
      first.stop();
      second.stop();
    }
    for (const { messages } of [first, second]) {
      const mine = messages.filter((m) => m.message.pool === pool);
      const on = (channel: string) => mine.filter((m) => m.channel === channel).map((m) => m.message);
      assert.ok(on(CHANNELS.tlsHandshake).length >= 1, 'a TLS handshake was published');
      assert.ok((on(CHANNELS.tlsHandshake)[0]!.seconds as number) > 0);
      assert.deepEqual(
        on(CHANNELS.query).map((m) => m.outcome),
        ['success', 'error'],
      );
      assert.ok(on(CHANNELS.acquire).some((m) => m.outcome === 'success'));
      assert.ok(on(CHANNELS.acquire).some((m) => m.outcome === 'error'));
      assert.ok(on(CHANNELS.connectionError).some((m) => m.code === 'PGW_CONN_AUTH_FAILED'));
      assert.ok(
        on(CHANNELS.connectionError).some(
          (m) => m.code === 'PGW_QUERY_CONNECTION_LOST' && m.sqlstate === '57P01',
        ),
        'the session ended by pg_terminate_backend',
      );
      assert.ok(mine.every((m) => m.message.primary === pool));
      for (const { message } of mine) {
        const { pool: _pool, primary: _primary, ...rest } = message;
        assertNoCanary(JSON.stringify(rest), password);
      }
    }
  });

  test('a credential rotation is published once per pool', async () => {
    let current = password;
    const rotated = canary();
    const seen = record();
    const pool = await createPool(poolOptions({ password: () => current, secretsCache: { ttlMs: 100 } }));
    try {
      const rotation = new Promise<RotationEvent>((resolve) => pool.once('rotation', resolve));
      await cluster.adminQuery(`ALTER ROLE app PASSWORD '${rotated}'`);
      current = rotated;
      await new Promise((resolve) => setTimeout(resolve, 150));
      await endAppSessions();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await pool.query('SELECT 1');
      await rotation;
      const messages = seen.messages.filter(
        (m) => m.channel === CHANNELS.rotation && m.message.pool === pool,
      );
      assert.equal(messages.length, 1);
      assertNoCanary(JSON.stringify(messages[0]!.message.rotation), rotated);
      assertNoCanary(JSON.stringify(messages[0]!.message.rotation), password);
    } finally {
      seen.stop();
      await cluster.adminQuery(`ALTER ROLE app PASSWORD '${password}'`);
      await pool.close();
    }
  });
});

describe('Prometheus metrics on the channels', () => {
  let pool: WardenPool;

  before(async () => {
    // The cluster itself serves as a "replica": not a standby, so reads stay
    // on the primary, but its pool is health-checked and shows in the metrics.
    pool = await createPool(poolOptions({ readReplicas: `127.0.0.1:${cluster.port}` }));
  });
  after(async () => {
    await pool.close();
  });

  test('two instrumentations count independently; stopping one leaves the other counting', async () => {
    const a = instrumentPool(pool, { registry: new Registry() });
    const b = instrumentPool(pool, { registry: new Registry() });
    await pool.query('SELECT 1');
    a.stop();
    a.stop(); // idempotent
    await pool.query('SELECT 1');
    await pool.query('SELECT 1');
    const series = 'pgwarden_query_duration_seconds_count{pool="default",target="primary",outcome="success"}';
    assert.equal(sample(await a.registry.metrics(), series), 1);
    assert.equal(sample(await b.registry.metrics(), series), 3);
    b.stop();
  });

  test('cumulative counts are counters named _total, no gauge is named _total, replica pools are labelled', async () => {
    const metrics = instrumentPool(pool, { registry: new Registry(), poolName: 'main' });
    try {
      const replicaPool = pool.replicaPools()[0]!.pool;
      await replicaPool.query('SELECT 1');
      await pool.query('SELECT 1');
      const text = await metrics.registry.metrics();
      const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const));
      for (const [name, type] of types) {
        if (name.endsWith('_total')) assert.equal(type, 'counter', `${name} is a ${type}`);
      }
      assert.equal(types.get('pgwarden_secret_fetches_total'), 'counter');
      assert.equal(types.get('pgwarden_secret_cache_hits_total'), 'counter');
      assert.equal(types.get('pgwarden_pool_connections_open'), 'gauge');
      assert.equal(types.has('pgwarden_pool_connections_total'), false);
      const replica = `replica:127.0.0.1:${cluster.port}`;
      assert.equal(sample(text, `pgwarden_pool_max{pool="main",target="${replica}"}`), 10);
      assert.ok((sample(text, `pgwarden_pool_connections_open{pool="main",target="primary"}`) ?? 0) >= 1);
      assert.equal(
        sample(
          text,
          `pgwarden_query_duration_seconds_count{pool="main",target="${replica}",outcome="success"}`,
        ),
        1,
      );
      assert.equal(
        sample(text, 'pgwarden_query_duration_seconds_count{pool="main",target="primary",outcome="success"}'),
        1,
      );
    } finally {
      metrics.stop();
    }
  });

  test('secret fetch and cache-hit counters grow with the cache and never go back', async () => {
    const fetching = await createPool(
      poolOptions({ password: () => password, secretsCache: { ttlMs: 60_000 } }),
    );
    const metrics = instrumentPool(fetching, { registry: new Registry() });
    try {
      const read = async (name: string) =>
        sample(await metrics.registry.metrics(), `${name}{pool="default"}`);
      const fetchesBefore = await read('pgwarden_secret_fetches_total');
      const hitsBefore = await read('pgwarden_secret_cache_hits_total');
      assert.ok(fetchesBefore !== undefined && fetchesBefore >= 1, 'createPool fetched once');
      await endAppSessions();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await fetching.query('SELECT 1'); // a new connection asks the cache: a hit
      assert.equal(await read('pgwarden_secret_fetches_total'), fetchesBefore);
      assert.ok((await read('pgwarden_secret_cache_hits_total'))! > hitsBefore!);
    } finally {
      metrics.stop();
      await fetching.close();
    }
  });
});
