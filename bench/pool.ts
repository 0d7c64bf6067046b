// Throughput of pgwarden's pool against a raw pg.Pool, interleaved in one run
// over TLS (verify-full) to a throwaway local cluster, plus the cost of
// opening one new connection. Prints ratios; absolute numbers are noise on
// shared machines. Run: npm run bench
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type WardenPool } from '../src/index.js';
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
