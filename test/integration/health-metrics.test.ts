// Health endpoints and Prometheus metrics against a real TLS cluster: each
// readiness failure is told apart by its reason code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { createPool, healthHandler, expressHealth, fastifyHealth, type WardenPool } from '../../src/index.js';
import { metricsHandler } from '../../src/metrics/index.js';
import { createBackup, generateKeyFile } from '../../src/backup/index.js';
import { assertNoCanary, canary, createPki, startCluster, type Cluster, type Pki } from '../support/index.js';

let cluster: Cluster;
let pki: Pki;
const password = canary();
const token = canary();

before(async () => {
  pki = await createPki();
  cluster = await startCluster({ tls: { pki }, hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'] });
  await cluster.createRole('app', { password });
});

after(async () => {
  await cluster?.stop();
});

const poolOptions = (extra = {}) => ({
  env: {},
  environment: 'production' as const,
  host: 'localhost',
  port: cluster.port,
  database: 'postgres',
  user: 'app',
  password,
  sslRootCert: pki.ca.certPem,
  ...extra,
});

async function serve(handler: (req: never, res: never) => void): Promise<{ server: Server; base: string }> {
  const server = createServer(handler as never);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  assertNoCanary(text, password);
  assertNoCanary(text, token);
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : {}, text };
}

describe('health endpoints (node:http)', () => {
  let pool: WardenPool;
  let server: Server;
  let base: string;

  before(async () => {
    pool = await createPool(poolOptions({ max: 2, acquireTimeoutMs: 3000, connectionTimeoutMs: 3000 }));
    ({ server, base } = await serve(healthHandler(pool, { prefix: '/api/health', token, timeoutMs: 3000 })));
  });
  after(async () => {
    server.close();
    await pool.close();
  });

  test('live, ready, database and basic health answer at the guideline paths', async () => {
    assert.equal((await get(`${base}/api/health/live`)).status, 200);
    const ready = await get(`${base}/api/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.reason, 'ok');
    const database = await get(`${base}/api/health/database`);
    assert.equal(database.status, 200);
    assert.match((database.body.tls as { protocol: string }).protocol, /^TLSv1\.[23]$/);
    assert.ok(((database.body.tls as { certificateDaysLeft: number }).certificateDaysLeft ?? 0) > 0);
    assert.equal(typeof database.body.latencyMs, 'number');
    assert.equal((await get(`${base}/api/health/`)).status, 200);
    assert.equal((await get(`${base}/api/health/nope`)).status, 404);
    const health = await pool.health();
    assert.equal(health.status, 'ok');
    assert.equal(health.ready.reason, 'ok');
  });

  test('detailed hides hosts and users without the token, shows them with it, 401 with a wrong one', async () => {
    const anonymous = await get(`${base}/api/health/detailed`);
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.body.target, undefined);
    assert.doesNotMatch(anonymous.text, /localhost|"app"/);
    const authorized = await get(`${base}/api/health/detailed`, { authorization: `Bearer ${token}` });
    assert.deepEqual(authorized.body.target, {
      host: 'localhost',
      port: cluster.port,
      database: 'postgres',
      user: 'app',
    });
    assert.equal((await get(`${base}/api/health/detailed`, { authorization: 'Bearer wrong' })).status, 401);
  });

  test('ready says "exhausted" while every connection is taken and callers wait', async () => {
    const held = [await pool.connect(), await pool.connect()];
    const waiter = pool.connect().then(
      (c) => c.release(),
      () => undefined,
    );
    try {
      const ready = await get(`${base}/api/health/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.reason, 'exhausted');
      assert.equal(ready.body.code, 'PGW_POOL_EXHAUSTED');
    } finally {
      held.forEach((c) => c.release());
      await waiter;
    }
    assert.equal((await get(`${base}/api/health/ready`)).body.reason, 'ok');
  });

  test('ready says "credentials-failing" when the password stops working', async () => {
    await cluster.adminQuery(`ALTER ROLE app PASSWORD '${canary()}'`);
    await cluster.adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'");
    try {
      const ready = await get(`${base}/api/health/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.reason, 'credentials-failing');
      assert.equal(ready.body.code, 'PGW_CONN_AUTH_FAILED');
    } finally {
      await cluster.adminQuery(`ALTER ROLE app PASSWORD '${password}'`);
    }
  });

  test('ready says "tls-failure" when the server certificate expired', async () => {
    await cluster.setTls({ pki, certificate: 'expired' });
    await cluster.adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'");
    try {
      const ready = await get(`${base}/api/health/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.reason, 'tls-failure');
      assert.equal(ready.body.code, 'PGW_TLS_CERT_EXPIRED');
    } finally {
      await cluster.setTls({ pki, certificate: 'server' });
    }
  });

  test('ready says "database-unreachable" when the server is down, and recovers', async () => {
    await cluster.kill('SIGKILL');
    try {
      const ready = await get(`${base}/api/health/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.reason, 'database-unreachable');
    } finally {
      await cluster.start();
    }
    assert.equal((await get(`${base}/api/health/ready`)).body.reason, 'ok');
  });
});

test('detailed reports the newest backup from a pgwarden backup directory', async () => {
  const work = mkdtempSync(join(tmpdir(), 'pgw-health-backup-'));
  const pool = await createPool(poolOptions());
  try {
    await cluster.adminQuery('GRANT pg_read_all_data TO app');
    const keyFile = join(work, 'backup.key');
    generateKeyFile(keyFile);
    const url = cluster
      .url({ user: 'app', password, params: { sslmode: 'verify-full', sslrootcert: join(work, 'ca.crt') } })
      .replace('127.0.0.1', 'localhost');
    writeFileSync(join(work, 'ca.crt'), pki.ca.certPem);
    const backupDir = join(work, 'backups');
    await createBackup({ dir: backupDir, connection: { url }, env: {}, keys: { keyFile } });
    const { server, base } = await serve(healthHandler(pool, { backupDir }));
    try {
      const detailed = await get(`${base}/health/detailed`);
      const backup = detailed.body.backup as { ageHours: number; newestAt: string };
      assert.ok(backup, 'no backup reported');
      assert.ok(backup.ageHours < 1);
    } finally {
      server.close();
    }
  } finally {
    await cluster.adminQuery('REVOKE pg_read_all_data FROM app');
    await pool.close();
    rmSync(work, { recursive: true, force: true });
  }
});

describe('adapters and metrics', () => {
  test('Express and Fastify serve the same routes', async () => {
    const pool = await createPool(poolOptions());
    try {
      const app = express();
      app.use(expressHealth(pool, { prefix: '/api/health' }));
      app.get('/other', (_req, res) => void res.send('other'));
      const { server, base } = await serve(app as never);
      try {
        assert.equal((await get(`${base}/api/health/ready`)).body.reason, 'ok');
        assert.equal(await fetch(`${base}/other`).then((r) => r.text()), 'other');
      } finally {
        server.close();
      }
      const fastify = Fastify();
      await fastify.register(fastifyHealth(pool));
      await fastify.listen({ port: 0, host: '127.0.0.1' });
      try {
        const address = fastify.server.address() as AddressInfo;
        const ready = await get(`http://127.0.0.1:${address.port}/health/ready`);
        assert.equal(ready.status, 200);
        assert.equal(ready.body.reason, 'ok');
      } finally {
        await fastify.close();
      }
    } finally {
      await pool.close();
    }
  });

  test('/metrics exposes pool gauges, query and handshake histograms and auth failures', async () => {
    const pool = await createPool(poolOptions({ idleTimeoutMs: 1 }));
    const { server, base } = await serve(metricsHandler(pool) as never);
    try {
      for (let i = 0; i < 5; i++) await pool.query('SELECT 1');
      await assert.rejects(pool.query('SELECT 1/0'));
      await cluster.adminQuery(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'",
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      await pool.query('SELECT 1'); // a new connection: one more TLS handshake
      const { text } = await get(`${base}/metrics`);
      assert.match(text, /pgwarden_pool_connections\{pool="default",target="primary",state="idle"\} \d+/);
      assert.match(text, /pgwarden_pool_max\{pool="default",target="primary"\} 10/);
      assert.match(
        text,
        /pgwarden_query_duration_seconds_count\{pool="default",target="primary",outcome="success"\} [6-9]/,
      );
      assert.match(
        text,
        /pgwarden_query_duration_seconds_count\{pool="default",target="primary",outcome="error"\} 1/,
      );
      assert.match(text, /pgwarden_tls_handshake_seconds_count\{pool="default",target="primary"\} [1-9]/);
      assert.match(
        text,
        /pgwarden_pool_acquire_seconds_count\{pool="default",target="primary",outcome="success"\} \d+/,
      );
    } finally {
      server.close();
      await pool.close();
    }
  });
});
