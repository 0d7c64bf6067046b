// Throughput of pgwarden's pool against a raw pg.Pool, interleaved in one run
// over TLS (verify-full) to a throwaway local cluster, plus the cost of
// opening one new connection. Prints ratios; absolute numbers are noise on
// shared machines. Run: npm run bench
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type WardenPool } from '../src/index.js';
import { createAwsSecretsManagerProvider } from '../src/secrets/aws.js';
import { AwsSecretsManagerServer, TEST_AWS_CREDENTIALS } from '../test/support/aws-secrets-manager-server.js';
import { createPki, startCluster } from '../src/testing/index.js';

const LOOPS = 10;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 40);

type Runner = (text: string, values?: unknown[]) => Promise<unknown>;

async function throughput(run: Runner, text: string, values?: unknown[]): Promise<number> {
  let count = 0;
  const deadline = performance.now() + ROUND_MS;
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      while (performance.now() < deadline) {
        await run(text, values);
        count++;
      }
    }),
  );
  return count / (ROUND_MS / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const pki = await createPki();
const cluster = await startCluster({
  tls: { pki },
  hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'],
  conf: { max_connections: 100 },
});
const password = randomBytes(24).toString('base64url');
await cluster.createRole('bench', { password });
const common = { host: 'localhost', port: cluster.port, database: 'postgres', user: 'bench', password };
const tls = { ca: pki.ca.certPem, rejectUnauthorized: true };

try {
  const warden: WardenPool = await createPool({
    ...common,
    env: {},
    environment: 'production',
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
    max: LOOPS,
  });
  const raw = new pg.Pool({ ...common, ssl: tls, max: LOOPS });
  const runWarden: Runner = (text, values) => warden.query(text, values);
  const runRaw: Runner = (text, values) => raw.query(text, values);

  for (const [name, text, values] of [
    ['SELECT 1', 'SELECT 1', undefined],
    ['parameterized', 'SELECT $1::int + $2::int AS sum, $3::text AS label', [1, 2, 'x']],
  ] as const) {
    // Warm both pools, then alternate which runs first in each round.
    await throughput(runWarden, text, values as unknown[] | undefined);
    await throughput(runRaw, text, values as unknown[] | undefined);
    const ratios: number[] = [];
    const wardenRates: number[] = [];
    const rawRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['raw', 'warden'] : ['warden', 'raw'];
      const rates: Record<string, number> = {};
      for (const which of order) {
        rates[which] = await throughput(
          which === 'raw' ? runRaw : runWarden,
          text,
          values as unknown[] | undefined,
        );
      }
      wardenRates.push(rates.warden!);
      rawRates.push(rates.raw!);
      ratios.push(rates.warden! / rates.raw!);
    }
    console.log(
      `${name.padEnd(14)} pgwarden ${median(wardenRates).toFixed(0)}/s  pg.Pool ${median(rawRates).toFixed(0)}/s  ratio ${median(ratios).toFixed(3)} (rounds: ${ratios.map((r) => r.toFixed(3)).join(' ')})`,
    );
  }
  // Secrets backend in steady state: the same pool with its credentials from
  // (the local protocol server of) AWS Secrets Manager, TTL 2 s, against a
  // static password. Connections live for 1 s, so new ones keep asking the cache.
  const aws = await AwsSecretsManagerServer.start();
  aws.createSecret('bench/db', JSON.stringify({ username: 'bench', password }));
  const ttlMs = 2000;
  const churn = { maxLifetimeMs: 1000, max: LOOPS };
  const withSecrets = await createPool({
    ...common,
    password: undefined,
    env: {},
    environment: 'production',
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
    ...churn,
    secrets: createAwsSecretsManagerProvider({
      secretId: 'bench/db',
      region: 'us-east-1',
      endpoint: aws.endpoint,
      clientConfig: { credentials: { ...TEST_AWS_CREDENTIALS } },
    }),
    secretsCache: { ttlMs },
  });
  const staticPool = await createPool({
    ...common,
    env: {},
    environment: 'production',
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
    ...churn,
  });
  const callsBefore = aws.count('GetSecretValue');
  const started = performance.now();
  const secretRatios: number[] = [];
  let queries = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['static', 'secrets'] : ['secrets', 'static'];
    const rates: Record<string, number> = {};
    for (const which of order) {
      const pool = which === 'static' ? staticPool : withSecrets;
      rates[which] = await throughput((text) => pool.query(text), 'SELECT 1');
      if (which === 'secrets') queries += rates[which]! * (ROUND_MS / 1000);
    }
    secretRatios.push(rates.secrets! / rates.static!);
  }
  const seconds = (performance.now() - started) / 1000;
  const calls = aws.count('GetSecretValue') - callsBefore;
  console.log(
    `secrets       aws-secrets-manager vs static password ratio ${median(secretRatios).toFixed(3)} (rounds: ${secretRatios.map((r) => r.toFixed(3)).join(' ')}); backend calls ${calls} for ~${Math.round(queries)} queries over ${seconds.toFixed(1)} s (bound: duration/TTL + 1 = ${Math.floor(seconds / (ttlMs / 1000)) + 1})`,
  );
  await withSecrets.close();
  await staticPool.close();
  await aws.stop();

  await warden.close();
  await raw.end();

  // New connection cost: one pool of max 1 each, closing idle connections at once.
  const wardenConnect = await createPool({
    ...common,
    env: {},
    environment: 'production',
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
    max: 1,
    idleTimeoutMs: 1,
    checkRole: false,
  });
  const wardenTimes: number[] = [];
  const rawTimes: number[] = [];
  for (let i = 0; i < CONNECTS; i++) {
    let start = performance.now();
    const c1 = new pg.Client({ ...common, ssl: { ...tls } });
    await c1.connect();
    rawTimes.push(performance.now() - start);
    await c1.end();
    start = performance.now();
    const c2 = await wardenConnect.connect();
    wardenTimes.push(performance.now() - start);
    c2.release(true);
  }
  await wardenConnect.close();
  const added = median(wardenTimes) - median(rawTimes);
  console.log(
    `new connection  pgwarden ${median(wardenTimes).toFixed(2)} ms  pg.Client ${median(rawTimes).toFixed(2)} ms  added ${added.toFixed(2)} ms (median of ${CONNECTS})`,
  );
} finally {
  await cluster.stop();
}
