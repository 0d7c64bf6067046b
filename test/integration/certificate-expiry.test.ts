// doctor, audit and alerts agree on a server certificate that expires soon:
// one with 19 days left is "expiring" for all three (doctor marks it as audit
// does), said in the same words, and one with 40 days left is fine for all
// three. The certificate is read from a real server's TLS handshake.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAlertsCheck } from '../../src/alerts/check.js';
import { runAudit } from '../../src/audit/runner.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type Pki,
  type PkiFiles,
  withoutConnectionVariables,
} from '../support/index.js';

const password = canary();
let cluster: Cluster;
let dir: string;

function urlFor(files: PkiFiles): string {
  return cluster
    .url({ user: 'app', password, params: { sslmode: 'verify-full', sslrootcert: files.caCertPath } })
    .replace('127.0.0.1', 'localhost');
}

function doctor(url: string, json: boolean): string {
  const clean = withoutConnectionVariables();
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'doctor', '--url', url, ...(json ? ['--json'] : [])],
    { env: clean, encoding: 'utf8', timeout: 60_000 },
  );
  assertNoCanary(result.stdout + result.stderr, password);
  return result.stdout;
}

/** What each of the three says about the certificate. */
async function verdicts(files: PkiFiles) {
  const url = urlFor(files);
  const doctorJson = JSON.parse(doctor(url, true));
  const doctorText = doctor(url, false);
  const audit = await runAudit({ url, env: {} });
  const auditFinding = audit.findings.find((f) => f.id === 'tls.server-cert-expiry')!;
  const alerts = await runAlertsCheck({ connection: { url }, env: {} });
  const alert = alerts.rules.find((r) => r.rule === 'server-certificate')!;
  return { doctorJson, doctorText, auditFinding, alert };
}

async function useCertificate(days: number): Promise<{ pki: Pki; files: PkiFiles }> {
  const pki = await createPki({ validityDays: days });
  const files = pki.writeFiles(mkdtempSync(join(dir, `pki-${days}-`)));
  await cluster.setTls({ pki });
  return { pki, files };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-cert-expiry-'));
  const pki = await createPki({ validityDays: 365 });
  cluster = await startCluster({
    tls: { pki },
    hba: ['hostssl all app 127.0.0.1/32 scram-sha-256'],
  });
  await cluster.createRole('app', { password });
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a certificate with 19 days left', () => {
  test('is expiring for doctor, audit and alerts, in the same words', async () => {
    // 19.5 days: 19 whole days left whenever the three look.
    const { files } = await useCertificate(19.5);
    const { doctorJson, doctorText, auditFinding, alert } = await verdicts(files);

    const cert = doctorJson.connection.tls.certificate;
    assert.deepEqual(
      { level: cert.expiry.level, daysLeft: cert.expiry.daysLeft, thresholdDays: cert.expiry.thresholdDays },
      { level: 'expiring', daysLeft: 19, thresholdDays: 30 },
    );
    const words = `expires in 19 days (${cert.expiry.validTo}), within the 30-day renewal threshold`;

    // doctor marks it as audit does: ✗ and the audit's severity.
    assert.ok(doctorText.includes(`  ✗ [high] certificate ${words}\n`), doctorText);

    assert.equal(auditFinding.status, 'fail');
    assert.equal(auditFinding.severity, 'high');
    assert.ok(auditFinding.detail.includes(words), auditFinding.detail);

    assert.equal(alert.status, 'fired');
    assert.ok(alert.summary.includes(words), alert.summary);
  });
});

describe('a certificate with 40 days left', () => {
  test('is fine for all three', async () => {
    const { files } = await useCertificate(40.5);
    const { doctorJson, doctorText, auditFinding, alert } = await verdicts(files);
    assert.equal(doctorJson.connection.tls.certificate.expiry.level, 'valid');
    assert.match(doctorText, /^ {2}✓ certificate expires in 40 days \(/m);
    assert.doesNotMatch(doctorText, /renewal threshold/);
    assert.equal(auditFinding.status, 'pass');
    assert.match(auditFinding.detail, /expires in 40 days \(/);
    assert.equal(alert.status, 'ok');
    assert.match(alert.summary, /expires in 40 days \(/);
  });
});
