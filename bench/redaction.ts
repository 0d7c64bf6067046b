// Redaction cost after many credential rotations (issue 12, item 9): the
// time of one redact() over a typical log line, with the credentials cache
// rotating 1 000 and then 10 000 passwords (an RDS IAM token every ~9 minutes
// is 1 000 in a week), against the same call before any rotation, in one run.
// For contrast, the behaviour before the fix: every password ever created
// stays tracked (1 000 and 10 000 Secrets never retired).
// Run: node --import tsx bench/redaction.ts        (BENCH_CALLS=20000 BENCH_ROUNDS=9)
import { randomBytes } from 'node:crypto';
import { redact, trackedSecretCount } from '../src/redact/redactor.js';
import { Secret } from '../src/redact/secret.js';
import { CachedCredentials } from '../src/secrets/cache.js';
import type { Credentials, SecretProvider } from '../src/secrets/provider.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);

const token = (): string => randomBytes(24).toString('base64url');
const line =
  'connection to server at "db.example.com" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user "app_user" (pid 4242, application_name=orders-api)';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Microseconds per redact() call, median of ROUNDS rounds of `calls` calls. */
function measure(calls = CALLS): number {
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    redact(line); // compile outside the timed loop
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) redact(line);
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / calls);
  }
  return median(rounds);
}

const provider: SecretProvider = {
  name: 'bench',
  fetch: async (): Promise<Credentials> => ({ user: 'app', password: new Secret(token()), version: token() }),
  describe: () => ({ backend: 'bench' }),
};
const cache = new CachedCredentials(provider, { ttlMs: 0, staleGraceMs: 0 });
await cache.get();

const rows: Array<[string, number, number]> = [];
for (let i = 0; i < 3; i++) measure(); // warm-up: the first rounds pay for JIT compilation
const baseline = measure();
rows.push(['before any rotation (baseline)', trackedSecretCount(), baseline]);
let rotated = 1;
for (const target of [1_000, 10_000]) {
  while (rotated < target) {
    await cache.get();
    rotated += 1;
  }
  rows.push([
    `after ${target.toLocaleString('en')} rotations through the cache`,
    trackedSecretCount(),
    measure(),
  ]);
}
const again = measure();
rows.push(['baseline again (same tracked set)', trackedSecretCount(), again]);
await cache.close();

// Before the fix: nothing was ever dropped. Fewer calls: each one is slow.
for (const count of [1_000, 10_000]) {
  const kept = Array.from({ length: count }, () => new Secret(token()));
  rows.push([
    `${count.toLocaleString('en')} never-retired Secrets (behaviour before the fix)`,
    trackedSecretCount(),
    measure(Math.max(20, Math.round(CALLS / (count / 10)))),
  ]);
  for (const secret of kept) secret.retire();
}

const base = (baseline + again) / 2;
console.log(`redact() over a ${line.length}-character line; median of ${ROUNDS} rounds\n`);
console.log('| state | tracked values | µs per call | ÷ baseline (mean of the two baseline rows) |');
console.log('| ----- | -------------: | ----------: | ----------: |');
for (const [state, tracked, us] of rows) {
  console.log(`| ${state} | ${tracked} | ${us.toFixed(2)} | ${(us / base).toFixed(2)} |`);
}
