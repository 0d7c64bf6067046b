// The log rules on the captured fixtures, offline (see log/fixtures/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAlertsCheck } from './check.js';
import { resolveAlertsConfig, type AlertsConfigLayer } from './config.js';

const FIXTURES = join(import.meta.dirname, 'log', 'fixtures');

async function logRules(layer: AlertsConfigLayer) {
  const report = await runAlertsCheck({ config: resolveAlertsConfig(layer), connection: false, env: {} });
  const [auth, plain] = report.rules;
  assert.equal(auth?.rule, 'auth-failures');
  assert.equal(plain?.rule, 'unencrypted-connections');
  return { auth: auth!, plain: plain!, report };
}

test('a window ending at the newest line counts the capture', async () => {
  const { auth, plain } = await logRules({
    log: { files: [join(FIXTURES, 'debian', 'csvlog.csv')], windowEnd: 'newest-line' },
  });
  assert.deepEqual([auth.status, auth.observed], ['ok', 2]);
  assert.deepEqual([plain.status, plain.observed], ['fired', 2]);
  assert.deepEqual(plain.details?.byUser, { app: 1, sslonly: 1 });
  assert.equal(plain.notes, undefined);
});

test('a window ending now leaves out an old capture', async () => {
  const { auth, plain } = await logRules({ log: { files: [join(FIXTURES, 'default', 'jsonlog.jsonl')] } });
  assert.deepEqual([auth.status, auth.observed], ['ok', 0]);
  assert.deepEqual([plain.status, plain.observed], ['ok', 0]);
});

test('thresholds and windows apply; several files add up', async () => {
  const { auth } = await logRules({
    log: {
      files: [join(FIXTURES, 'default', 'stderr.log'), join(FIXTURES, 'default', 'csvlog.csv')],
      windowEnd: 'newest-line',
    },
    rules: { 'auth-failures': { threshold: 4 } },
  });
  assert.deepEqual([auth.status, auth.observed, auth.threshold], ['fired', 4, 4]);
});

test('an ambiguous zone and a prefix without %p are reported as caveats', async () => {
  const { auth, plain } = await logRules({
    log: { files: [join(FIXTURES, 'nopid', 'stderr.log')], linePrefix: '%m ' },
  });
  assert.equal(auth.observed, 2);
  assert.ok(auth.notes?.some((n) => /time zone is missing or ambiguous/.test(n)));
  // Unix-socket sessions cannot be told apart: they are counted, and the note says so.
  assert.equal(plain.status, 'fired');
  assert.equal(plain.observed, 5);
  assert.ok(plain.notes?.some((n) => /5 session\(s\) could not be told apart/.test(n)));
});

test('a file in another format is skipped with the reason, not passed', async () => {
  const { auth, plain } = await logRules({
    log: { files: [join(FIXTURES, 'default', 'stderr.log')], format: 'jsonlog' },
  });
  assert.equal(auth.status, 'skipped');
  assert.match(auth.reason!, /could be parsed; check --log-format/);
  assert.equal(plain.status, 'skipped');
});

test('log_connections off: a log without sessions cannot vouch for TLS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-alerts-rules-'));
  try {
    const text = readFileSync(join(FIXTURES, 'default', 'stderr.log'), 'utf8');
    const withoutSessions = join(dir, 'no-sessions.log');
    writeFileSync(withoutSessions, text.replace(/^.*connection (received|authorized).*\n/gm, ''));
    const refusals = await logRules({ log: { files: [withoutSessions], windowEnd: 'newest-line' } });
    // A refusal without encryption is still seen and fires.
    assert.deepEqual([refusals.plain.status, refusals.plain.observed], ['fired', 1]);

    const quiet = join(dir, 'quiet.log');
    writeFileSync(quiet, text.replace(/^.*(connection (received|authorized)|no encryption).*\n/gm, ''));
    const { plain } = await logRules({ log: { files: [quiet], windowEnd: 'newest-line' } });
    assert.equal(plain.status, 'skipped');
    assert.match(plain.reason!, /log_connections seems off/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the audit's TLS probe is neither a failed login nor an unencrypted attempt (fixtures/probe)", async () => {
  for (const file of ['stderr.log', 'csvlog.csv', 'jsonlog.jsonl']) {
    const { auth, plain } = await logRules({
      log: {
        files: [join(FIXTURES, 'probe', file)],
        windowEnd: 'newest-line',
        ...(file === 'stderr.log' ? { linePrefix: '%m [%p] %q%u@%d ' } : {}),
      },
    });
    // Only the real ones: one wrong password, one session without TLS.
    assert.deepEqual([auth.status, auth.observed], ['ok', 1], file);
    assert.deepEqual([plain.status, plain.observed], ['fired', 1], file);
    for (const result of [auth, plain]) {
      assert.ok(
        result.notes?.includes(
          "8 TCP connection(s) ended before any login (5 with a TLS handshake the server refused): TLS probes such as pgwarden audit's, health checks or port scans; not counted.",
        ),
        `${file} ${result.rule}: ${JSON.stringify(result.notes)}`,
      );
    }
  }
});
