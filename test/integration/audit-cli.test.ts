// pgwarden audit as a user runs it: exit codes, the JSON schema, suppressions,
// baselines, SARIF, JUnit and the self-contained HTML report rendered by a
// real headless Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHECK_IDS } from '../../src/audit/catalog.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type Pki,
  withoutConnectionVariables,
} from '../support/index.js';

// Absolute paths: some tests run the CLI from another working directory (for .pgwarden-audit.yaml).
const CLI = [
  '--import',
  pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href,
  resolve('src/cli/main.ts'),
];
const password = canary();
let cluster: Cluster;
let pki: Pki;
let dir: string;
let url: string;

function run(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, 'audit', ...args], {
    cwd: options.cwd ?? dir,
    env: { ...clean, PGPASSFILE: join(dir, 'no-pgpass'), ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assertNoCanary(result.stdout + result.stderr, password);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked field by field below
const json = (args: string[] = [], options = {}): { status: number; report: Record<string, any> } => {
  const result = run(['--format', 'json', '--url', url, ...args], options);
  return { status: result.status, report: JSON.parse(result.stdout) };
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-audit-cli-'));
  pki = await createPki({ validityDays: 400 });
  writeFileSync(join(dir, 'ca.pem'), pki.ca.certPem);
  cluster = await startCluster({ tls: { pki }, hba: ['hostssl all app 127.0.0.1/32 scram-sha-256'] });
  await cluster.createRole('app', { password });
  url = cluster
    .url({ user: 'app', password, params: { sslmode: 'verify-full', sslrootcert: join(dir, 'ca.pem') } })
    .replace('127.0.0.1', 'localhost');
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('exit codes and the JSON report', () => {
  test('--format json follows the documented schema and never carries the password', () => {
    const { status, report } = json();
    assert.equal(status, 0, JSON.stringify(report.summary));
    assert.equal(report.tool.name, 'pgwarden');
    assert.equal(report.tool.schemaVersion, 1);
    assert.deepEqual(Object.keys(report.target).sort(), [
      'database',
      'environment',
      'host',
      'port',
      'serverVersion',
      'sslMode',
      'user',
    ]);
    assert.equal(report.privileges.role, 'app');
    for (const key of ['pass', 'fail', 'skip', 'error', 'suppressed', 'baseline'])
      assert.equal(typeof report.summary[key], 'number');
    assert.equal(report.findings.length, CHECK_IDS.length);
    for (const f of report.findings) {
      for (const key of [
        'id',
        'area',
        'severity',
        'status',
        'title',
        'detail',
        'objects',
        'rationale',
        'remediation',
        'references',
      ]) {
        assert.ok(key in f, `${f.id} lacks ${key}`);
      }
      assert.ok(['critical', 'high', 'medium', 'low', 'info'].includes(f.severity));
      assert.ok(['pass', 'fail', 'skip', 'error'].includes(f.status));
      if (f.status === 'skip' && /lacks/.test(f.detail)) assert.ok(f.enable, `${f.id} skip names the grant`);
    }
    assert.equal(
      report.summary.fail,
      report.findings.filter((f: { status: string }) => f.status === 'fail').length,
    );
    // CIS references name the current edition for the server's major version.
    const major = Number(/^(\d+)/.exec(report.target.serverVersion)![1]);
    const edition = { 14: 'v1.2.0', 15: 'v1.2.0', 16: 'v1.1.0', 17: 'v1.0.0' }[major];
    if (edition) {
      assert.deepEqual(report.cis, {
        edition: `CIS PostgreSQL ${major} Benchmark ${edition}`,
        forServer: true,
      });
    }
    const tls = report.findings.find((f: { id: string }) => f.id === 'tls.enabled');
    assert.equal(
      tls.references[0],
      `${report.cis.edition} §6.8 Ensure TLS is enabled and configured correctly`,
    );
    const own = report.findings.find((f: { id: string }) => f.id === 'auth.timeout');
    assert.match(own.references[0], /^pgwarden's own check/);
  });

  test('--fail-on lowers the bar: medium failures then exit 1; bad values are usage errors', () => {
    assert.equal(run(['--url', url, '--fail-on', 'medium']).status, 1);
    assert.equal(run(['--url', url, '--fail-on', 'severe']).status, 2);
    assert.equal(run(['--url', url, '--format', 'yaml']).status, 2);
    assert.equal(run(['--url', url, '--env', 'prodd']).status, 2);
  });

  test('an unreachable server is exit 1 with a coded connection error', () => {
    const { status, report } = json([], { env: {} });
    assert.equal(status, 0);
    const down = run(['--format', 'json', '--url', url.replace(`:${cluster.port}/`, ':1/')]);
    assert.equal(down.status, 1);
    assert.equal(JSON.parse(down.stdout).connection.error.code, 'PGW_CONN_REFUSED');
    assert.ok(report.connection.ok);
  });

  test('text output: grouped by area, failures first, a summary line, no colour without a TTY', () => {
    const { status, stdout } = run(['--url', url]);
    assert.equal(status, 0);
    assert.ok(!stdout.includes('\u001b['), 'no ANSI escapes');
    assert.match(stdout, /^Summary: \d+ passed, \d+ failed/m);
    assert.match(stdout, /Client configuration/);
    const headers = stdout.split('\n').filter((line) => /^[✗✓!-] [A-Z]/.test(line));
    assert.equal(headers.length, 10, headers.join('|'));
    const lastFailing = headers.map((h) => h.startsWith('✗')).lastIndexOf(true);
    const firstPassing = headers.findIndex((h) => !h.startsWith('✗'));
    assert.ok(
      lastFailing >= 0 && firstPassing > lastFailing,
      `areas with failures come first: ${headers.join(' | ')}`,
    );
    // Within an area, failures come before passes.
    const logging = stdout.slice(
      stdout.indexOf('Logging'),
      stdout.indexOf('\n\n', stdout.indexOf('Logging')),
    );
    assert.ok(logging.indexOf('✗ [') < logging.indexOf('✓ '), logging);
  });
});

describe('suppressions and baselines', () => {
  const mediumFailures = (): string[] =>
    json()
      .report.findings.filter(
        (f: { status: string; severity: string }) => f.status === 'fail' && f.severity === 'medium',
      )
      .map((f: { id: string }) => f.id);

  test('.pgwarden-audit.yaml suppresses with a reason; an expired entry is reported and not applied', () => {
    const work = mkdtempSync(join(dir, 'supp-'));
    const ids = mediumFailures();
    assert.ok(ids.length >= 2, `medium failures: ${ids}`);
    const [expiredId, ...rest] = ids;
    writeFileSync(
      join(work, '.pgwarden-audit.yaml'),
      `version: 1\nsuppressions:\n${rest.map((id) => `  - id: ${id}\n    reason: accepted for the test\n    expires: 2999-12-31\n`).join('')}  - id: ${expiredId}\n    reason: was accepted until 2020\n    expires: 2020-01-01\n`,
    );
    const { status, report } = json(['--fail-on', 'medium'], { cwd: work });
    assert.equal(status, 1, 'the expired suppression no longer applies');
    assert.deepEqual(
      report.suppressions.expired.map((s: { id: string }) => s.id),
      [expiredId],
    );
    assert.equal(report.summary.suppressed, rest.length);
    const suppressed = report.findings.find((f: { id: string }) => f.id === rest[0]);
    assert.equal(suppressed.suppressed.reason, 'accepted for the test');
    const text = run(['--url', url, '--fail-on', 'medium'], { cwd: work }).stdout;
    assert.match(text, /Expired suppressions/);
    // --ignore covers the rest, with its reason.
    const all = json(
      ['--fail-on', 'medium', '--ignore', expiredId!, '--ignore-reason', 'known, ticket SEC-12'],
      { cwd: work },
    );
    assert.equal(all.status, 0, JSON.stringify(all.report.summary));
  });

  test('a suppression without a reason, with an unknown id, or --ignore without a reason is a usage error', () => {
    const work = mkdtempSync(join(dir, 'bad-'));
    writeFileSync(join(work, '.pgwarden-audit.yaml'), 'suppressions:\n  - id: hba.trust\n');
    const missing = run(['--url', url], { cwd: work });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /PGW_AUDIT_SUPPRESSIONS_INVALID.*reason/);
    writeFileSync(join(work, '.pgwarden-audit.yaml'), 'suppressions:\n  - id: hba.trsut\n    reason: typo\n');
    assert.match(run(['--url', url], { cwd: work }).stderr, /did you mean "hba\.trust"/);
    assert.equal(run(['--url', url, '--ignore', 'log.connections']).status, 2);
    assert.equal(run(['--url', url, '--suppressions', join(work, 'missing.yaml')]).status, 2);
  });

  test('--ignore id:object suppresses one object only', () => {
    const { report } = json([
      '--ignore',
      'priv.database-public:postgres',
      '--ignore-reason',
      'shared admin database',
    ]);
    const finding = report.findings.find((f: { id: string }) => f.id === 'priv.database-public');
    assert.equal(finding.suppressed.reason, 'shared admin database');
    assert.deepEqual(
      finding.suppressedObjects.map((o: { name: string }) => o.name),
      ['postgres'],
    );
  });

  test('--baseline shows only new failures', async () => {
    const baseline = join(dir, 'baseline.json');
    assert.equal(run(['--url', url, '--format', 'json', '--output', baseline]).status, 0);
    const quiet = json(['--baseline', baseline, '--fail-on', 'low']);
    assert.equal(quiet.status, 0, JSON.stringify(quiet.report.summary));
    assert.equal(quiet.report.summary.fail, 0);
    assert.ok(quiet.report.summary.baseline > 0);
    await cluster.adminQuery('CREATE ROLE backdoor LOGIN BYPASSRLS');
    try {
      const fresh = json(['--baseline', baseline, '--fail-on', 'low']);
      assert.equal(fresh.status, 1);
      const active = fresh.report.findings.filter(
        (f: { status: string; inBaseline?: boolean }) => f.status === 'fail' && !f.inBaseline,
      );
      assert.deepEqual(active.map((f: { id: string }) => f.id).sort(), [
        'role.bypassrls',
        'role.no-connection-limit',
      ]);
      const limit = active.find((f: { id: string }) => f.id === 'role.no-connection-limit');
      assert.deepEqual(
        limit.objects.map((o: { name: string }) => o.name),
        ['backdoor'],
        'only the new object',
      );
    } finally {
      await cluster.adminQuery('DROP ROLE backdoor');
    }
    writeFileSync(join(dir, 'not-a-report.json'), '{"hello": 1}');
    assert.equal(run(['--url', url, '--baseline', join(dir, 'not-a-report.json')]).status, 2);
  });
});

describe('SARIF, JUnit and HTML', () => {
  test('SARIF 2.1.0: required fields, one rule per check id, results point at rules', () => {
    const { status, stdout } = run([
      '--url',
      url,
      '--format',
      'sarif',
      '--ignore',
      'priv.database-public',
      '--ignore-reason',
      'shared',
    ]);
    assert.equal(status, 0);
    const sarif = JSON.parse(stdout);
    assert.equal(sarif.version, '2.1.0');
    assert.match(sarif.$schema, /sarif-2\.1\.0/);
    assert.equal(sarif.runs.length, 1);
    const run0 = sarif.runs[0];
    assert.equal(run0.tool.driver.name, 'pgwarden');
    const rules = run0.tool.driver.rules as {
      id: string;
      shortDescription: { text: string };
      defaultConfiguration: { level: string };
    }[];
    assert.deepEqual(
      rules.map((r) => r.id),
      [...CHECK_IDS],
    );
    assert.equal(new Set(rules.map((r) => r.id)).size, rules.length);
    for (const rule of rules) {
      assert.ok(rule.shortDescription.text.length > 0);
      assert.ok(['none', 'note', 'warning', 'error'].includes(rule.defaultConfiguration.level));
    }
    assert.ok(run0.results.length > 0);
    for (const result of run0.results) {
      assert.equal(typeof result.message.text, 'string');
      assert.equal(rules[result.ruleIndex]!.id, result.ruleId);
      assert.ok(['none', 'note', 'warning', 'error'].includes(result.level));
      assert.ok(result.locations[0].physicalLocation.artifactLocation.uri);
    }
    const suppressed = run0.results.find((r: { ruleId: string }) => r.ruleId === 'priv.database-public');
    assert.equal(suppressed.suppressions[0].kind, 'external');
    assert.equal(typeof run0.invocations[0].executionSuccessful, 'boolean');
  });

  test('JUnit XML: one testcase per check, failures match the summary', () => {
    const report = json().report;
    const { stdout } = run(['--url', url, '--format', 'junit']);
    assert.match(stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites /);
    assert.equal(stdout.match(/<testcase /g)?.length, CHECK_IDS.length);
    for (const id of CHECK_IDS) assert.ok(stdout.includes(`name="${id}: `), id);
    assert.equal(stdout.match(/<failure /g)?.length ?? 0, report.summary.fail);
    assert.match(stdout, new RegExp(`<testsuites [^>]*failures="${report.summary.fail}"`));
    assert.equal((stdout.match(/<testsuite /g) ?? []).length, (stdout.match(/<\/testsuite>/g) ?? []).length);
  });

  test('HTML: self-contained, rendered by headless Chromium with its scripts run', async (t) => {
    const chromium = '/usr/bin/chromium';
    if (!existsSync(chromium)) return t.skip('Debian chromium is not installed');
    const html = join(dir, 'report.html');
    assert.equal(run(['--url', url, '--format', 'html', '--output', html]).status, 0);
    const text = readFileSync(html, 'utf8');
    assertNoCanary(text, password);
    assert.doesNotMatch(text, /<(link|img|iframe)\b|<script[^>]+src=|url\(/i, 'no external assets');
    assert.match(text, /<svg id="severity-chart"/);

    const browse = async (mode: string[]): Promise<{ code: number | null; stdout: string }> => {
      const profile = mkdtempSync(join(dir, 'chromium-'));
      const child = spawn(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          `--user-data-dir=${profile}`,
          '--window-size=1280,2000',
          ...mode,
          `file://${html}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.resume();
      const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 60_000);
      const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      return { code, stdout };
    };
    const png = join(dir, 'report.png');
    const shot = await browse([`--screenshot=${png}`]);
    assert.equal(shot.code, 0);
    const image = readFileSync(png);
    assert.deepEqual([...image.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.equal(image.readUInt32BE(16), 1280, 'width');
    assert.ok(image.length > 20_000, `a non-trivial image (${image.length} bytes)`);
    if (process.env.PGWARDEN_AUDIT_SCREENSHOT) writeFileSync(process.env.PGWARDEN_AUDIT_SCREENSHOT, image);

    const dom = (await browse(['--dump-dom'])).stdout;
    assert.match(dom, /<body[^>]*data-filtered="true"/, 'the filter script ran');
    assert.match(dom, new RegExp(`${CHECK_IDS.length} checks shown|of ${CHECK_IDS.length} checks shown`));
    assert.match(dom, /details class="finding pass hidden"/, 'passes are hidden by the default filter');
    assert.match(dom, /log\.connections/);
    assert.match(dom, /Remediation/);
  });
});
