// docs/getting-started.md, followed as a newcomer would: its runnable blocks,
// literally as extracted, in order, in bash with `pgwarden` on PATH and only the
// variables its first block documents, against a cluster set up as its step 2
// says (TLS, hostssl + scram-sha-256 only, an admin role with CREATEROLE that
// owns the app's database). Each step's effect is asserted: the login role
// exists with a SCRAM verifier and VALID UNTIL, the app's /health/ready is
// ready, the backup verifies, the app still answers after the rotation, and
// no password or passphrase shows in any output or in the app's log.
// The install step (npm install of a tarball) is replaced by linking the app's
// node_modules/pgwarden to this checkout, so dist/ must be built (npm test does).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CredentialStore } from '../../src/creds/store.js';
import { Secret } from '../../src/redact/secret.js';
import { assertNoCanary, canary, isProcessAlive } from '../support/index.js';
import { startGuidelineCluster, type GuidelineCluster } from './guideline-cluster.js';
import { markdownRunner } from './readme-commands.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAGE = 'docs/getting-started.md';
const adminPassword = canary();
let g: GuidelineCluster;
let vars: Record<string, string>;
let appPid: number | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${vars.APP_PORT}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitReady(): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const ready = await get('/health/ready');
      if (ready.status === 200) return ready.body;
      last = JSON.stringify(ready.body);
    } catch (error) {
      last = String(error);
    }
    await sleep(200);
  }
  const log = existsSync(join(vars.APP_DIR!, 'app.log'))
    ? readFileSync(join(vars.APP_DIR!, 'app.log'), 'utf8')
    : '';
  assert.fail(`the app never became ready: ${last}\n${log}`);
}

async function roleFacts(): Promise<{ verifier: string; validUntil: Date | null }> {
  const [row] = await g.cluster.adminQuery<{ rolpassword: string; rolvaliduntil: Date | null }>(
    "SELECT rolpassword, rolvaliduntil FROM pg_authid WHERE rolname = 'app'",
  );
  assert.ok(row, 'the role app does not exist');
  return { verifier: row.rolpassword, validUntil: row.rolvaliduntil };
}

function store(): CredentialStore {
  const passphrase = readFileSync(join(vars.PGWARDEN_HOME!, 'store.passphrase'), 'utf8').trim();
  return new CredentialStore({ home: vars.PGWARDEN_HOME!, passphrase: () => new Secret(passphrase) });
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` first');
  g = await startGuidelineCluster({
    hba: ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256'],
  });
  // Step 2 of the page, as the postgres user would type it in psql.
  await g.cluster.createRole('pgw_admin', { attributes: 'LOGIN CREATEROLE', password: adminPassword });
  await g.cluster.createDatabase('app', 'pgw_admin');
  const app = join(g.dir, 'myapp');
  // Step 1, without the registry: the app's `pgwarden` is this checkout.
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(app, 'node_modules', 'pgwarden'), 'dir');
  vars = {
    PGHOST: 'localhost',
    PGPORT: String(g.cluster.port),
    DB_CA: g.files.caCertPath,
    PGWARDEN_HOME: join(g.dir, 'pgwarden'),
    ADMIN_PASSWORD_FILE: join(g.dir, 'pgw_admin.password'),
    APP_DIR: app,
    APP_PORT: String(await freePort()),
    BACKUP_DIR: join(g.dir, 'backups'),
  };
  writeFileSync(vars.ADMIN_PASSWORD_FILE!, adminPassword, { mode: 0o600 });
});

after(async () => {
  if (appPid !== undefined && isProcessAlive(appPid)) process.kill(appPid, 'SIGTERM');
  const log = g?.cluster.readLog() ?? '';
  await g?.stop();
  assertNoCanary(log, adminPassword);
});

describe('docs/getting-started.md', () => {
  test('every block runs as written and does what the page says', async () => {
    const runner = markdownRunner(PAGE);
    const defaults = runner.blocks.get('defaults')!.script;
    for (const name of Object.keys(vars)) {
      assert.match(defaults, new RegExp(`^export ${name}="\\$\\{${name}:-`, 'm'), `${name} is documented`);
    }

    // Steps 3 to 5: passphrase, admin profile, roles, the app in the background.
    const setup = await runner.run(['passphrase', 'admin', 'roles', 'app'], vars, [adminPassword]);
    assert.equal(setup.status, 0, setup.stdout + setup.stderr);
    const passphrase = readFileSync(join(vars.PGWARDEN_HOME!, 'store.passphrase'), 'utf8').trim();
    assert.ok(passphrase.length >= 40);
    assert.equal(existsSync(vars.ADMIN_PASSWORD_FILE!), false, 'step 3 deletes the admin password file');
    // doctor on the admin profile: verified TLS and SCRAM, and the CREATEROLE the page warns about.
    assert.match(setup.stdout, /✓ TLS TLSv1\.[23]/);
    assert.match(setup.stdout, /authentication: SCRAM-SHA-256/);
    assert.match(setup.stdout, /PGW_POLICY_PRIVILEGED_ROLE/);
    assert.match(
      setup.stdout,
      /role app: no elevated attributes\n[\s\S]*✓ compliant/,
      'doctor --profile app passes',
    );

    // roles apply: the role with a SCRAM verifier, VALID UNTIL the stored expiry, the password in the file store.
    const first = await roleFacts();
    assert.match(first.verifier, /^SCRAM-SHA-256\$\d+:/);
    const stored = await store().get('app');
    assert.equal(stored.store, 'file');
    assert.ok(first.validUntil && stored.expiresAt);
    assert.equal(first.validUntil.toISOString().slice(0, 19), stored.expiresAt.toISOString().slice(0, 19));
    const days = (first.validUntil.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 89 && days <= 90, `VALID UNTIL in ${days} days`);
    const appPassword = (await store().password('app')).reveal();
    const secrets = [adminPassword, passphrase, appPassword];
    for (const secret of secrets) assertNoCanary(setup.stdout + setup.stderr, secret);

    // The app: started in the background by the page, found by its PID file.
    appPid = Number(readFileSync(join(vars.APP_DIR!, 'app.pid'), 'utf8').trim());
    assert.ok(isProcessAlive(appPid), 'the app is running');
    const ready = await waitReady();
    assert.equal(ready.status, 'ok');
    assert.deepEqual((await get('/')).body, { role: 'app' });
    const database = await get('/health/database');
    assert.equal(database.status, 200, JSON.stringify(database.body));

    // Step 6: audit, backup, verify, rotate.
    const operate = await runner.run(['passphrase', 'operate'], vars, secrets);
    assert.equal(operate.status, 0, operate.stdout + operate.stderr);
    const audit = JSON.parse(readFileSync(join(vars.APP_DIR!, 'audit.json'), 'utf8'));
    assert.equal(audit.connection.ok, true);
    const backups = readdirSync(vars.BACKUP_DIR!).filter((f) => f.endsWith('.pgwb'));
    assert.equal(backups.length, 1, readdirSync(vars.BACKUP_DIR!).join(' '));
    assert.match(operate.stdout, /level 2/i);
    assert.doesNotMatch(operate.stdout + operate.stderr, /✗/);

    // The rotation: a new verifier and password, and the running app still answers.
    const rotated = await roleFacts();
    assert.notEqual(rotated.verifier, first.verifier);
    assert.match(rotated.verifier, /^SCRAM-SHA-256\$/);
    const newPassword = (await store().password('app')).reveal();
    assert.notEqual(newPassword, appPassword);
    secrets.push(newPassword);
    for (const secret of secrets) assertNoCanary(operate.stdout + operate.stderr, secret);
    assert.deepEqual((await get('/')).body, { role: 'app' });
    assert.equal((await get('/health/ready')).status, 200);

    // Stopped by its PID, as the page says; its log holds no secret.
    process.kill(appPid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isProcessAlive(appPid) && Date.now() < deadline) await sleep(100);
    assert.equal(isProcessAlive(appPid), false);
    const appLog = readFileSync(join(vars.APP_DIR!, 'app.log'), 'utf8');
    assert.match(appLog, /listening on 127\.0\.0\.1:/);
    for (const secret of secrets) assertNoCanary(appLog, secret);
    assert.deepEqual(runner.notRun(), []);
  });
});
