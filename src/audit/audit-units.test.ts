// Pure parts of the audit: rule arithmetic, cipher strings, conninfo,
// the release table, suppressions and baselines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyBaseline, parseBaseline } from './baseline.js';
import { CHECK_CATALOG, CHECK_IDS } from './catalog.js';
import { socketOwnerOnly } from './checks/auth.js';
import { summarizeConninfo } from './checks/conninfo.js';
import { prefixLength, wideNetwork, type HbaRule } from './checks/hba-rule.js';
import { missingPrefixParts } from './checks/logging.js';
import { weakCipherClasses } from './checks/tls.js';
import type { Finding } from './finding.js';
import { judgeServerVersion, SERVER_VERSIONS } from './server-versions.js';
import { applySuppressions, ignoreFlags, parseSuppressions } from './suppressions.js';

const rule = (address: string | null, netmask: string | null): HbaRule => ({
  line: 1,
  type: 'host',
  databases: ['all'],
  users: ['all'],
  address,
  netmask,
  method: 'scram-sha-256',
  options: null,
  error: null,
  matchesSuperuser: false,
});

test('check ids are unique, namespaced and documented with a rationale and a remediation', () => {
  assert.equal(new Set(CHECK_IDS).size, CHECK_IDS.length);
  for (const check of CHECK_CATALOG) {
    assert.match(check.id, /^[a-z]+\.[a-z0-9-]+$/);
    assert.ok(
      check.rationale.length > 20 && check.remediation.length > 5 && check.references.length > 0,
      check.id,
    );
  }
});

test('netmasks become prefix lengths; wide ranges are recognised', () => {
  assert.equal(prefixLength('255.255.255.255'), 32);
  assert.equal(prefixLength('255.255.0.0'), 16);
  assert.equal(prefixLength('0.0.0.0'), 0);
  assert.equal(prefixLength('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 128);
  assert.equal(prefixLength('ffff:ffff:ffff::'), 48);
  assert.equal(prefixLength('::'), 0);
  assert.equal(prefixLength('255.0.255.0'), undefined);
  assert.match(wideNetwork(rule('0.0.0.0', '0.0.0.0'))!, /0\.0\.0\.0\/0/);
  assert.match(wideNetwork(rule('10.0.0.0', '255.0.0.0'))!, /wider than \/16/);
  assert.equal(wideNetwork(rule('10.1.0.0', '255.255.0.0')), undefined);
  assert.match(wideNetwork(rule('::', '::'))!, /\/0/);
  assert.equal(wideNetwork(rule('fd00::', 'ffff:ffff:ffff:ffff::')), undefined);
  assert.match(wideNetwork(rule('all', null))!, /every address/);
});

test('socket permissions: only owner-only modes make local trust acceptable', () => {
  assert.equal(socketOwnerOnly('0700'), true);
  assert.equal(socketOwnerOnly('0777'), false);
  assert.equal(socketOwnerOnly('0770'), false);
  assert.equal(socketOwnerOnly(undefined), false);
});

test('cipher strings: weak classes are found unless excluded', () => {
  assert.deepEqual(weakCipherClasses('HIGH:!aNULL:!MD5'), []);
  assert.deepEqual(weakCipherClasses('HIGH:MEDIUM:+3DES:!aNULL').sort(), ['3DES', 'MEDIUM']);
  assert.ok(weakCipherClasses('ALL').length > 0);
  assert.deepEqual(weakCipherClasses('HIGH'), ['aNULL (not excluded)']);
  assert.deepEqual(weakCipherClasses('ECDHE-RSA-AES256-GCM-SHA384'), []);
  assert.deepEqual(weakCipherClasses('ECDHE-RSA-DES-CBC3-SHA'), ['ECDHE-RSA-DES-CBC3-SHA']);
  assert.deepEqual(weakCipherClasses('RC4-SHA'), ['RC4-SHA']);
});

test('log_line_prefix: what is missing is named', () => {
  assert.deepEqual(missingPrefixParts('%m [%p] %q%u@%d %r '), []);
  assert.deepEqual(
    missingPrefixParts('%m [%p] ').map((m) => m.split(' ')[0]),
    ['user', 'database', 'client'],
  );
});

test('conninfo: sslmode and target are kept, the password never', () => {
  const summary = summarizeConninfo("host=db.example port=5433 user=rep password='se cret' sslmode=require");
  assert.deepEqual(summary, { host: 'db.example', port: '5433', user: 'rep', sslmode: 'require' });
  assert.doesNotMatch(JSON.stringify(summary), /se cret/);
  const uri = summarizeConninfo('postgresql://rep:hunter2@db.example/x?sslmode=verify-full');
  assert.equal(uri.sslmode, 'verify-full');
  assert.doesNotMatch(JSON.stringify(uri), /hunter2/);
});

test('release table: end of life, outdated minors, current, stale table', () => {
  const at = (iso: string) => new Date(iso);
  assert.equal(judgeServerVersion(150018, SERVER_VERSIONS, at('2026-06-01')).kind, 'current');
  assert.equal(judgeServerVersion(150002, SERVER_VERSIONS, at('2026-06-01')).kind, 'outdated-minor');
  assert.equal(judgeServerVersion(120022, SERVER_VERSIONS, at('2026-06-01')).kind, 'end-of-life');
  assert.equal(judgeServerVersion(90624, SERVER_VERSIONS, at('2026-06-01')).kind, 'end-of-life');
  assert.equal(judgeServerVersion(150018, SERVER_VERSIONS, at('2028-01-01')).kind, 'end-of-life');
  assert.equal(judgeServerVersion(990000, SERVER_VERSIONS, at('2026-06-01')).kind, 'unknown-major');
  const verdict = judgeServerVersion(150018, SERVER_VERSIONS, at('2027-01-01'));
  assert.ok(verdict.kind === 'current' && verdict.stale);
});

const failing = (id: string, names: string[]): Finding => ({
  id,
  area: 'roles',
  severity: 'high',
  status: 'fail',
  title: id,
  detail: '',
  rationale: '',
  remediation: '',
  references: [],
  objects: names.map((name) => ({ type: 'role', name })),
});

test('suppressions: reason required, ids checked, objects and globs, expiry', () => {
  assert.throws(() => parseSuppressions('suppressions:\n  - id: hba.trust\n', 'f.yaml'), {
    code: 'PGW_AUDIT_SUPPRESSIONS_INVALID',
    message: /reason/,
  });
  assert.throws(() => parseSuppressions('suppressions:\n  - id: role.bypasrls\n    reason: x\n', 'f.yaml'), {
    message: /did you mean "role\.bypassrls"/,
  });
  assert.throws(() => parseSuppressions('suppressions: [', 'f.yaml'), {
    code: 'PGW_AUDIT_SUPPRESSIONS_INVALID',
  });
  assert.throws(
    () => parseSuppressions('suppressions:\n  - id: hba.trust\n    reason: x\n    expires: soon\n', 'f.yaml'),
    { message: /YYYY-MM-DD/ },
  );
  assert.throws(() => ignoreFlags(['hba.trust'], undefined), { message: /reason/ });
  const entries = parseSuppressions(
    'version: 1\nsuppressions:\n  - id: role.bypassrls\n    object: "etl_*"\n    reason: ETL jobs\n  - id: role.replication\n    reason: standby\n    expires: 2020-01-01\n  - id: hba.md5\n    reason: unused\n',
    'f.yaml',
  );
  const result = applySuppressions(
    [failing('role.bypassrls', ['etl_nightly', 'intruder']), failing('role.replication', ['repl'])],
    entries,
    '2026-01-01',
  );
  const [bypass, repl] = result.findings;
  assert.deepEqual(
    bypass!.objects.map((o) => o.name),
    ['intruder'],
  );
  assert.deepEqual(
    bypass!.suppressedObjects!.map((o) => o.name),
    ['etl_nightly'],
  );
  assert.equal(bypass!.suppressed, undefined);
  assert.equal(repl!.suppressed, undefined, 'expired');
  assert.deepEqual(
    result.expired.map((s) => s.id),
    ['role.replication'],
  );
  assert.deepEqual(
    result.unused.map((s) => s.id),
    ['hba.md5'],
  );
  const whole = applySuppressions([failing('role.bypassrls', ['etl_a'])], entries, '2026-01-01').findings[0]!;
  assert.equal(whole.suppressed?.reason, 'ETL jobs');
});

test('baseline: known failures stop counting, new objects still do', () => {
  const baseline = parseBaseline(
    JSON.stringify({
      tool: { name: 'pgwarden' },
      findings: [{ id: 'role.bypassrls', status: 'fail', objects: [{ name: 'etl' }] }],
    }),
    'b.json',
  );
  const [known, fresh] = applyBaseline(
    [failing('role.bypassrls', ['etl']), failing('role.bypassrls', ['etl', 'intruder'])],
    baseline,
  );
  assert.equal(known!.inBaseline, true);
  assert.deepEqual(
    fresh!.objects.map((o) => o.name),
    ['intruder'],
  );
  assert.throws(() => parseBaseline('{"tool":{"name":"other"},"findings":[]}', 'b.json'), {
    code: 'PGW_AUDIT_BASELINE_INVALID',
  });
  assert.throws(() => parseBaseline('nope', 'b.json'), { code: 'PGW_AUDIT_BASELINE_INVALID' });
});
