// A full `pgwarden audit` of a local TLS cluster (every check, as a role with
// pg_monitor and the pg_hba_file_rules grants) timed side by side with two
// baselines: opening one verify-full connection through createPool and running
// SELECT 1, and `psql -c 'SELECT 1'` (when psql is installed); and the audit's
// TLS probe alone (every handshake it makes), which is part of the audit.
// Rounds alternate the order; medians and ratios are printed.
// Run: node --import tsx bench/audit.ts
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAudit, type AuditOptions } from '../src/audit/runner.js';
import { createPool } from '../src/index.js';
import { maxProbeConnections } from '../src/audit/tls-offers.js';
import { probeServerTls } from '../src/audit/tls-probe.js';
import { createPki, hasTool, startCluster } from '../src/testing/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), 'pgw-bench-audit-'));
const pki = await createPki({ validityDays: 365 });
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, pki.ca.certPem);
const cluster = await startCluster({
  tls: { pki },
  hba: ['hostssl postgres bench 127.0.0.1/32 scram-sha-256'],
});
const password = randomBytes(24).toString('base64url');

try {
  await cluster.createRole('bench', { password, inRoles: ['pg_monitor'] });
  await cluster.adminQuery(`GRANT SELECT ON pg_catalog.pg_hba_file_rules TO bench;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO bench;
    GRANT SELECT ON pg_catalog.pg_file_settings TO bench;
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO bench`);
  const options: AuditOptions = {
    env: {},
    environment: 'production',
    host: 'localhost',
    port: cluster.port,
    database: 'postgres',
    user: 'bench',
    password,
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
  };
  const psql = hasTool(cluster.binaries, 'psql') ? join(cluster.binDir, 'psql') : undefined;

  const timers: Record<string, () => Promise<void>> = {
    audit: async () => {
      const report = await runAudit(options);
      if (!report.connection.ok)
        throw new Error(`audit did not connect: ${report.connection.error?.message}`);
    },
    'connect + SELECT 1': async () => {
      const pool = await createPool({ ...options, max: 1, checkRole: false });
      await pool.query('SELECT 1');
      await pool.close();
    },
    [`TLS probe alone (${maxProbeConnections()} handshakes)`]: async () => {
      const probe = await probeServerTls({
        host: 'localhost',
        port: cluster.port,
        serverName: 'localhost',
        timeoutMs: 10_000,
      });
      if (probe.status !== 'probed') throw new Error(`probe: ${probe.status} ${probe.reason ?? ''}`);
    },
    ...(psql
      ? {
          "psql -c 'SELECT 1'": async () => {
            const result = spawnSync(psql, ['-XAtq', '-c', 'SELECT 1'], {
              env: {
                PGHOST: 'localhost',
                PGPORT: String(cluster.port),
                PGUSER: 'bench',
                PGDATABASE: 'postgres',
                PGPASSWORD: password,
                PGSSLMODE: 'verify-full',
                PGSSLROOTCERT: caFile,
              },
            });
            if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
          },
        }
      : {}),
  };
  const names = Object.keys(timers);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await timers[name]!(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const start = performance.now();
      await timers[name]!();
      samples[name]!.push(performance.now() - start);
    }
  }
  const roundTrips = (await runAudit(options)).connection.roundTrips;
  const audit = median(samples.audit!);
  console.log(
    `pgwarden audit bench: ${ROUNDS} rounds, PostgreSQL ${cluster.major}, TLS verify-full + SCRAM, ${roundTrips} catalog round trips per audit\n`,
  );
  console.log('| Run | median ms | audit ÷ this |');
  console.log('| --- | --- | --- |');
  for (const name of names) {
    const m = median(samples[name]!);
    console.log(`| ${name} | ${m.toFixed(1)} | ${(audit / m).toFixed(2)} |`);
  }
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
