// The CLI as a user runs it: doctor's JSON contract and exit codes (the demo: demo.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type PkiFiles,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
let cluster: Cluster;
let files: PkiFiles;
let dir: string;
const password = canary();

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assertNoCanary(result.stdout + result.stderr, password);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-cli-'));
  const pki = await createPki();
  files = pki.writeFiles(dir);
  cluster = await startCluster({
    tls: { pki },
    // A client that kept its socket open without a password would wait this long, past run()'s timeout.
    conf: { authentication_timeout: '10min' },
    hba: ['hostssl all all 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
  });
  await cluster.createRole('app', { password });
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('pgwarden doctor', () => {
  test('--json over verify-full in production: ok, no violations, TLS details', () => {
    const url = cluster
      .url({ user: 'app', password, params: { sslmode: 'verify-full', sslrootcert: files.caCertPath } })
      .replace('127.0.0.1', 'localhost');
    const { status, stdout } = run(['doctor', '--json', '--env', 'production', '--url', url]);
    const report = JSON.parse(stdout);
    assert.equal(status, 0, stdout);
    assert.equal(report.ok, true);
    assert.deepEqual(report.violations, []);
    assert.match(report.connection.tls.protocol, /^TLSv1\.[23]$/);
    assert.match(report.connection.tls.certificate.subject, /CN=localhost/);
    assert.equal(report.connection.role.name, 'app');
    assert.equal(report.config.passwordSource, 'url password');
  });

  test('reads DB_* variables; violations give exit 1 and coded entries', () => {
    const { status, stdout } = run(['doctor', '--json'], {
      APP_ENV: 'production',
      DB_HOST: '127.0.0.1',
      DB_PORT: String(cluster.port),
      DB_NAME: 'postgres',
      DB_USER: 'app',
      DB_PASSWORD: password,
      DB_SSL: 'false',
    });
    const report = JSON.parse(stdout);
    assert.equal(status, 1);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.violations.map((v: { code: string }) => v.code),
      ['PGW_POLICY_TLS_DISABLED'],
    );
    assert.ok(report.violations.every((v: { message: string }) => typeof v.message === 'string'));
    assert.match(report.connection.skipped, /not attempted in production/);
  });

  test('connection failure is exit 1 with a coded error; usage errors are exit 2', () => {
    const wrong = cluster
      .url({
        user: 'app',
        password: `${password}x`,
        params: { sslmode: 'verify-full', sslrootcert: files.caCertPath },
      })
      .replace('127.0.0.1', 'localhost');
    const failed = run(['doctor', '--json', '--url', wrong]);
    assert.equal(failed.status, 1);
    assert.equal(JSON.parse(failed.stdout).connection.error.code, 'PGW_CONN_AUTH_FAILED');
    assert.equal(run(['doctor', '--env', 'prodd']).status, 2);
    assert.equal(run(['doctor', '--no-such-flag']).status, 2);
    assert.equal(run(['no-such-command']).status, 2);
  });

  test('no password from any source: exit 1 with PGW_CONN_PASSWORD_MISSING, at once (issue 12, item 4)', () => {
    // No PGPASSWORD (run() drops PG*), and a password file that does not exist in place of ~/.pgpass.
    const url = `postgresql://app@127.0.0.1:${cluster.port}/postgres`;
    const { status, stdout, stderr } = run(['doctor', '--json', '--url', url], {
      PGPASSFILE: join(dir, 'no-such-pgpass'),
    });
    // Hanging until the server's authentication_timeout (10 min) would be killed by run()'s 2 min timeout.
    assert.equal(status, 1, stdout + stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.ok, false);
    assert.equal(report.config.passwordSource, 'none');
    const error = report.connection.error;
    assert.equal(error.code, 'PGW_CONN_PASSWORD_MISSING', stdout);
    assert.match(error.message, /asks user "app" for a password/);
    assert.match(error.fix, /PGPASSWORD/);
    assert.match(error.fix, /~\/\.pgpass/);
  });

  test('reports where the credentials come from and the cache state, never the secret', () => {
    const passwordFile = join(dir, 'db-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const env = {
      APP_ENV: 'production',
      DB_HOST: 'localhost',
      DB_PORT: String(cluster.port),
      DB_NAME: 'postgres',
      DB_USER: 'app',
      DB_SSL: 'true',
      DB_SSL_CA: files.caCertPath,
      DB_PASSWORD_FILE: passwordFile,
    };
    const json = run(['doctor', '--json', '--policy', 'strict'], env);
    const report = JSON.parse(json.stdout);
    assert.equal(json.status, 0, json.stdout);
    assert.equal(report.config.passwordSource, 'secrets:file');
    assert.equal(report.credentialSource.backend, 'file');
    assert.equal(report.credentialSource.cache.fetches, 1);
    const text = run(['doctor'], env);
    assert.match(text.stdout, /Credentials\n {2}backend +file/);
  });

  test('text output is readable and redacted', () => {
    const url = cluster
      .url({ user: 'app', password, params: { sslmode: 'verify-full', sslrootcert: files.caCertPath } })
      .replace('127.0.0.1', 'localhost');
    const { status, stdout } = run(['doctor', '--url', url]);
    assert.equal(status, 0);
    assert.match(stdout, /✓ TLS TLSv1\.[23]/);
    assert.match(stdout, /✓ compliant/);
  });
});
