// `pgwarden incident` against a real TLS cluster: sessions lists who is
// connected and whether over TLS; revoke terminates a live session of the
// role, and the role cannot log in again; refusals are coded errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { incidentCommand } from '../../src/cli/commands/incident.js';
import { CredentialStore } from '../../src/creds/store.js';
import { createPool, type WardenPool } from '../../src/pool/pool.js';
import { Secret } from '../../src/redact/secret.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  type PkiFiles,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const adminPassword = canary();
const victimPassword = canary();
const passphrase = canary();
let cluster: Cluster;
let files: PkiFiles;
let dir: string;

function url(user: string, password: string, tls = true): string {
  const base = cluster.url({
    user,
    password,
    database: 'app',
    params: tls
      ? { sslmode: 'verify-full', sslrootcert: files.caCertPath, application_name: `${user}-app` }
      : { sslmode: 'disable' },
  });
  return tls ? base.replace('127.0.0.1', 'localhost') : base;
}

async function connect(user: string, password: string, tls = true): Promise<WardenPool> {
  return createPool({
    url: url(user, password, tls),
    env: {},
    enforcePolicy: false,
    checkRole: false,
    max: 1,
    prePingIdleMs: 60_000,
  });
}

async function incident(
  args: string[],
): Promise<{ status: number; out: string; error?: Error & { code?: string; fix?: string } }> {
  let out = '';
  const stdin = Readable.from([]) as unknown as NodeJS.ReadStream;
  try {
    const status = await incidentCommand(args, { out: (t) => (out += t), err: (t) => (out += t), stdin });
    for (const secret of [adminPassword, victimPassword, passphrase]) assertNoCanary(out, secret);
    return { status, out };
  } catch (error) {
    return { status: -1, out, error: error as Error & { code?: string } };
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-incident-'));
  const pki = await createPki();
  files = pki.writeFiles(join(dir, 'pki'));
  cluster = await startCluster({
    tls: { pki },
    hba: ['hostssl all all 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
  });
  await cluster.createRole('admin', { password: adminPassword, attributes: 'LOGIN SUPERUSER' });
  await cluster.createRole('observer', { password: adminPassword });
  await cluster.createRole('readers', { attributes: 'NOLOGIN' });
  for (const name of ['victim', 'victim2'])
    await cluster.createRole(name, { password: victimPassword, inRoles: ['readers'] });
  await cluster.createDatabase('app');
  await cluster.adminQuery('GRANT CONNECT ON DATABASE app TO victim');
  const admin = await connect('admin', adminPassword);
  await admin.query('CREATE TABLE app_data (id int)');
  await admin.query('GRANT SELECT, INSERT ON app_data TO victim');
  await admin.close();
});

after(async () => {
  const log = cluster?.readLog() ?? '';
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
  for (const secret of [adminPassword, victimPassword, passphrase]) assertNoCanary(log, secret);
});

describe('pgwarden incident', () => {
  test('sessions: user, client, application, TLS; filtered by --user and --since', async () => {
    const victim = await connect('victim', victimPassword);
    const plain = await connect('observer', adminPassword, false);
    try {
      const result = await incident([
        'sessions',
        '--url',
        url('admin', adminPassword),
        '--user',
        'victim',
        '--since',
        '1h',
        '--json',
      ]);
      assert.equal(result.status, 0, result.error?.message);
      const report = JSON.parse(result.out) as {
        fullVisibility: boolean;
        sessions: Array<Record<string, unknown>>;
      };
      assert.equal(report.fullVisibility, true);
      assert.equal(report.sessions.length, 1);
      assert.deepEqual(
        { ...report.sessions[0], pid: 0, startedAt: 'x', state: 'x' },
        {
          pid: 0,
          user: 'victim',
          database: 'app',
          clientAddress: '127.0.0.1',
          application: 'victim-app',
          tls: true,
          tlsVersion: 'TLSv1.3',
          cipher: report.sessions[0]?.cipher,
          startedAt: 'x',
          state: 'x',
          self: false,
        },
      );
      const all = await incident(['sessions', '--url', url('admin', adminPassword)]);
      assert.match(all.out, /observer +app +127\.0\.0\.1 +pgwarden +NO /);
      assert.match(all.out, /\d+\* +admin/);
      assert.match(all.out, /victim +app +127\.0\.0\.1 +victim-app +TLSv1\.3/);
      const limited = await incident(['sessions', '--url', url('observer', adminPassword, false)]);
      assert.match(limited.out, /details of other roles are hidden/);
      const bad = await incident(['sessions', '--url', url('admin', adminPassword), '--since', 'yesterday']);
      assert.equal(bad.error?.code, 'PGW_CLI_USAGE');
    } finally {
      await victim.close();
      await plain.close();
    }
  });

  test('CLI revoke: a live session is terminated and the role cannot log in again; what it still holds is reported', async () => {
    const victim = await connect('victim', victimPassword);
    await victim.query('SELECT 1');
    const result = spawnSync(
      process.execPath,
      [...CLI, 'incident', 'revoke', 'victim', '--url', url('admin', adminPassword), '--yes', '--json'],
      {
        env: { PATH: process.env.PATH ?? '', HOME: dir },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    for (const secret of [adminPassword, victimPassword])
      assertNoCanary(result.stdout + result.stderr, secret);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.sessionsTerminated, 1);
    assert.deepEqual(report.sessionsRemaining, []);
    assert.deepEqual(report.connectRevokedOn, ['app']);
    assert.deepEqual(report.stillHeld.memberOf, ['readers']);
    assert.deepEqual(report.stillHeld.relations, ['public.app_data: INSERT, SELECT']);
    assert.ok(report.stillHeld.publicConnect.includes('postgres'));
    assert.ok(Math.abs(Date.parse(report.validUntil) - Date.now()) < 60_000);

    await assert.rejects(victim.query('SELECT 1'), (error: Error & { pgwardenCode: string }) =>
      /PGW_(QUERY_CONNECTION_LOST|CONN_LOST)/.test(error.pgwardenCode),
    );
    await victim.close().catch(() => undefined);
    await assert.rejects(connect('victim', victimPassword), { code: 'PGW_CONN_AUTH_FAILED' });
    const [row] = await cluster.adminQuery<{ rolcanlogin: boolean }>(
      `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'victim'`,
    );
    assert.equal(row?.rolcanlogin, false);
  });

  test('revoke --rotate --creds-env: a new random password, stored; the old one is dead even if LOGIN comes back', async () => {
    const home = join(dir, 'pgwarden');
    const store = new CredentialStore({ home, env: {}, passphrase: () => new Secret(passphrase) });
    await store.add(
      'victim2',
      { host: 'localhost', port: cluster.port, database: 'app', user: 'victim2' },
      { password: new Secret(victimPassword), store: 'file' },
    );
    process.env.PGWARDEN_HOME = home;
    process.env.PGWARDEN_STORE_PASSPHRASE = passphrase;
    try {
      const result = await incident([
        'revoke',
        'victim2',
        '--rotate',
        '--creds-env',
        'victim2',
        '--url',
        url('admin', adminPassword),
        '--yes',
      ]);
      assert.equal(result.status, 0, result.error?.message);
      assert.match(result.out, /✓ victim2: NOLOGIN, VALID UNTIL .*, password replaced/);
      assert.match(result.out, /new password stored in creds environment "victim2"/);
    } finally {
      delete process.env.PGWARDEN_HOME;
      delete process.env.PGWARDEN_STORE_PASSPHRASE;
    }
    const fresh = await store.password('victim2');
    assert.notEqual(fresh.reveal(), victimPassword);
    await cluster.adminQuery(`ALTER ROLE victim2 LOGIN VALID UNTIL 'infinity'`);
    await assert.rejects(connect('victim2', victimPassword), { code: 'PGW_CONN_AUTH_FAILED' });
    await (await connect('victim2', fresh.reveal())).close();
  });

  test('refusals: itself, unknown role, no privilege, no confirmation', async () => {
    const self = await incident(['revoke', 'admin', '--url', url('admin', adminPassword), '--yes']);
    assert.equal(self.error?.code, 'PGW_INCIDENT_REFUSED');
    const unknown = await incident(['revoke', 'ghost', '--url', url('admin', adminPassword), '--yes']);
    assert.equal(unknown.error?.code, 'PGW_ROLE_NOT_FOUND');
    const weak = await incident(['revoke', 'victim2', '--url', url('observer', adminPassword), '--yes']);
    assert.equal(weak.error?.code, 'PGW_ROLE_INSUFFICIENT_PRIVILEGE');
    const unconfirmed = await incident(['revoke', 'victim2', '--url', url('admin', adminPassword)]);
    assert.equal(unconfirmed.error?.code, 'PGW_INCIDENT_REFUSED');
    assert.match(unconfirmed.error?.fix ?? '', /--yes/);
  });
});
