// What an audit could not verify, as a user sees it: an area where most
// checks were skipped is "not verified" (text, JSON, HTML), and one block
// says which grants would run the skipped checks. Real server, real CLI;
// the application role starts without any monitoring grant.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatText } from '../../src/audit/report/text.js';
import { runAudit } from '../../src/audit/runner.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const password = canary();
const AUTH_GRANT = 'GRANT SELECT ON pg_catalog.pg_hba_file_rules TO "app"';
let cluster: Cluster;
let dir: string;
let url: string;
/** One run of each format, shared by the tests (each run is a process start and an audit). */
const out = { text: '', html: '', report: {} as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON, checked field by field

function audit(args: string[]): string {
  const clean = withoutConnectionVariables();
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'audit', '--url', url, ...args],
    {
      env: { ...clean, PGPASSFILE: join(dir, 'no-pgpass') },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assertNoCanary(result.stdout + result.stderr, password);
  assert.ok(result.status === 0 || result.status === 1, result.stderr);
  return result.stdout;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-audit-coverage-'));
  const pki = await createPki({ validityDays: 400 });
  writeFileSync(join(dir, 'ca.pem'), pki.ca.certPem);
  cluster = await startCluster({ tls: { pki }, hba: ['hostssl all app 127.0.0.1/32 scram-sha-256'] });
  await cluster.createRole('app', { password });
  url = cluster
    .url({ user: 'app', password, params: { sslmode: 'verify-full', sslrootcert: join(dir, 'ca.pem') } })
    .replace('127.0.0.1', 'localhost');
  out.text = audit([]);
  out.report = JSON.parse(audit(['--format', 'json']));
  audit(['--format', 'html', '--output', join(dir, 'report.html')]);
  out.html = readFileSync(join(dir, 'report.html'), 'utf8');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('an area with most checks skipped', () => {
  test('is "not verified" in text, JSON and HTML, not passed', () => {
    // app can read neither pg_hba_file_rules nor pg_file_settings: 9 of the 11 auth checks skip.
    assert.match(out.text, /^- Authentication and network — not verified: 9 of 11 checks skipped$/m);
    assert.doesNotMatch(out.text, /^✓ Authentication and network/m);
    assert.match(out.text, /^Summary: .*not verified: Authentication and network/m);

    const auth = out.report.areas.find((a: { area: string }) => a.area === 'auth');
    assert.deepEqual(
      { status: auth.status, checks: auth.checks, skip: auth.skip },
      { status: 'not-verified', checks: 11, skip: 9 },
    );
    const logging = out.report.areas.find((a: { area: string }) => a.area === 'logging');
    assert.equal(logging.status, 'fail');

    assert.match(
      out.html,
      /data-area="auth" data-coverage="not-verified"><h2>Authentication and network — <span class="unverified">not verified: 9 of 11 checks skipped/,
    );
    assert.match(out.html, /Not verified \(most checks skipped\): Authentication and network/);
  });
});

describe('the grants that would run the skipped checks', () => {
  test('are one block in text, JSON and HTML', () => {
    const grants = out.report.skippedGrants;
    const lacking = out.report.findings.filter(
      (f: { status: string; enable?: string }) => f.status === 'skip' && f.enable,
    );
    assert.deepEqual(
      grants.checks,
      lacking.map((f: { id: string }) => f.id),
    );
    assert.ok(grants.checks.includes('hba.trust'));
    assert.equal(new Set(grants.grants).size, grants.grants.length, 'each grant once');
    assert.ok(
      grants.grants.some((g: string) => g.startsWith(AUTH_GRANT)),
      grants.grants.join('\n'),
    );
    const heading =
      grants.checks.length === grants.totalSkipped
        ? `To run the ${grants.checks.length} skipped checks, grant:`
        : `To run ${grants.checks.length} of the ${grants.totalSkipped} skipped checks, grant:`;

    assert.equal(out.text.split('\n').filter((l) => l.startsWith('To run ')).length, 1);
    assert.ok(out.text.includes(heading), out.text);
    const block = out.text.slice(out.text.indexOf(heading));
    for (const grant of grants.grants) assert.ok(block.includes(`  ${grant}`), grant);
    assert.doesNotMatch(out.text, /^\s+enable: /m, 'no grant repeated under each check');

    assert.equal(out.html.match(/id="skipped-grants"/g)?.length, 1);
    assert.ok(out.html.includes(heading));
    assert.doesNotMatch(out.html, /To enable this check/);
  });

  test('once granted, the area is verified and the block no longer asks for them', async () => {
    await cluster.adminQuery(
      `${AUTH_GRANT}; GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO app`,
    );
    try {
      const report = await runAudit({ url, env: { PGPASSFILE: join(dir, 'no-pgpass') } });
      const auth = report.areas.find((a) => a.area === 'auth')!;
      assert.notEqual(auth.status, 'not-verified');
      assert.equal(auth.skip, 0);
      assert.ok(!report.skippedGrants?.grants.some((g) => g.includes('pg_hba_file_rules')));
      assert.doesNotMatch(formatText(report), /Authentication and network — not verified/);
    } finally {
      await cluster.adminQuery(
        'REVOKE SELECT ON pg_catalog.pg_hba_file_rules FROM app; REVOKE EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() FROM app',
      );
    }
  });
});
