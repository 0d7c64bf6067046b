// One gate for every command that connects: in production, against a
// listener that records every byte, each command refuses an insecure link
// with a PGW_POLICY_* code before any startup message (let alone a password)
// reaches it. The audit's TLS probe may send an SSLRequest and a TLS
// ClientHello, which carry no user, database or secret.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyFile } from '../../src/backup/index.js';
import {
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
let cluster: Cluster;
let listener: Server;
let port: number;
const received: Buffer[] = [];
const sockets = new Set<Socket>();
let work: string;
let keyFile: string;
let backupFile: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgwarden-gate-'));
  listener = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
  // A real backup (made in development against a real cluster) for restore and verify to refuse.
  cluster = await startCluster({});
  await cluster.createRole('app', { password, attributes: 'LOGIN SUPERUSER' });
  keyFile = join(work, 'backup.key');
  generateKeyFile(keyFile);
  const made = run(
    ['backup', 'create', '--dir', join(work, 'backups'), '--key-file', keyFile, '--json', '--no-progress'],
    { DATABASE_URL: cluster.url({ user: 'app', password, database: 'postgres' }), APP_ENV: 'development' },
  );
  assert.equal(made.status, 0, made.stdout + made.stderr);
  backupFile = join(
    work,
    'backups',
    readdirSync(join(work, 'backups')).find((f) => f.endsWith('.pgwb'))!,
  );
  writeFileSync(
    join(work, 'roles.yaml'),
    'version: 1\ndatabase: postgres\ngroups:\n  app_rw: { preset: app, schemas: [public] }\nlogins:\n  app_user:\n    groups: [app_rw]\n',
  );
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => listener?.close(() => resolve()));
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

function run(
  args: string[],
  env: Record<string, string>,
): { status: number; stdout: string; stderr: string } {
  const clean = withoutConnectionVariables();
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    env: { ...clean, HOME: work, PGWARDEN_HOME: join(work, 'home'), ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assertNoCanary(result.stdout + result.stderr, password);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const insecure = (sslmode: string) => ({
  APP_ENV: 'production',
  DATABASE_URL: `postgresql://app:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?sslmode=${sslmode}`,
});

/** A StartupMessage: length, then protocol 3.0 (0x00030000). An SSLRequest carries 80877103 instead. */
function sawStartupMessage(bytes: Buffer): boolean {
  for (let i = 0; i + 8 <= bytes.length; i++) {
    if (bytes.readUInt32BE(i + 4) === 0x00030000 && bytes.readUInt32BE(i) < 10_000) return true;
  }
  return false;
}

const COMMANDS: { name: string; args: () => string[] }[] = [
  { name: 'doctor', args: () => ['doctor'] },
  { name: 'audit', args: () => ['audit'] },
  { name: 'monitor', args: () => ['monitor', '--once', '--json'] },
  { name: 'alerts check', args: () => ['alerts', 'check'] },
  { name: 'roles plan', args: () => ['roles', 'plan', '--file', join(work, 'roles.yaml')] },
  { name: 'roles apply', args: () => ['roles', 'apply', '--file', join(work, 'roles.yaml')] },
  { name: 'incident sessions', args: () => ['incident', 'sessions'] },
  { name: 'incident revoke', args: () => ['incident', 'revoke', 'someone', '--yes'] },
  {
    name: 'backup create',
    args: () => ['backup', 'create', '--dir', join(work, 'refused'), '--key-file', keyFile, '--no-progress'],
  },
  {
    name: 'backup verify --level 3',
    args: () => [
      'backup',
      'verify',
      backupFile,
      '--level',
      '3',
      '--key-file',
      keyFile,
      '--url',
      insecure('disable').DATABASE_URL,
      '--no-progress',
    ],
  },
  {
    name: 'backup restore',
    args: () => [
      'backup',
      'restore',
      backupFile,
      '--url',
      insecure('disable').DATABASE_URL,
      '--key-file',
      keyFile,
      '--no-progress',
    ],
  },
];

for (const sslmode of ['disable', 'prefer', 'require']) {
  for (const command of COMMANDS) {
    test(`${command.name} in production with sslmode=${sslmode}: refused by the gate, no startup message sent`, () => {
      received.length = 0;
      const args = command.args().map((a) => a.replace('sslmode=disable', `sslmode=${sslmode}`));
      const { status, stdout, stderr } = run(args, insecure(sslmode));
      const all = stdout + stderr;
      assert.notEqual(status, 0, `exit ${status}: ${all}`);
      assert.match(all, /PGW_POLICY_(TLS_DISABLED|CERT_VALIDATION_DISABLED|VIOLATION)/, all);
      const bytes = Buffer.concat(received);
      assert.equal(sawStartupMessage(bytes), false, `${command.name} sent a startup message`);
      assertNoCanary(bytes.toString('latin1'), password);
      assert.equal(bytes.includes(Buffer.from('app')), false, 'the user name reached the listener');
    });
  }
}
