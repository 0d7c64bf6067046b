// Key services: AWS KMS (the real @aws-sdk/client-kms against a local
// protocol-faithful server with SigV4) and Vault transit (over node:http),
// each wrapping a backup's data key; wrong keys, refusals and outages give
// distinct coded errors, and no token or secret key reaches any output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../src/redact/secret.js';
import { createPool } from '../../src/pool/pool.js';
import {
  createBackup,
  verifyBackup,
  restoreBackup,
  type CreateBackupResult,
} from '../../src/backup/index.js';
import { readHeaderFromFile } from '../../src/backup/reader.js';
import {
  assertNoCanary,
  canary,
  createPki,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';
import { KmsServer, TEST_KMS_CREDENTIALS } from '../support/kms-server.js';
import { VaultTransitServer } from '../support/vault-transit-server.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
// A secret access key the server accepts and the outputs must never show.
const secretAccessKey = `${canary()}-aws-secret`;
let cluster: Cluster;
let kms: KmsServer;
let vault: VaultTransitServer;
let vaultToken: string;
let work: string;
let kmsKey: { keyId: string; arn: string };
const outputs: string[] = [];

function url(database: string): string {
  return cluster.url({ user: 'app', password, database });
}

const kmsOptions = () => ({
  region: 'us-east-1',
  endpoint: kms.endpoint,
  credentials: { accessKeyId: TEST_KMS_CREDENTIALS.accessKeyId, secretAccessKey },
});
const vaultOptions = () => ({ addr: vault.address, token: new Secret(vaultToken) });

/** Asynchronous on purpose: the KMS and Vault servers live in this process and must keep answering. */
async function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number; stdout: string; stderr: string }> {
  const clean = withoutConnectionVariables(['AWS_', 'VAULT_']);
  const child = spawn(process.execPath, [...CLI, ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const status = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  clearTimeout(timer);
  outputs.push(stdout, stderr);
  return { status, stdout, stderr };
}

function describeError(error: unknown): string {
  const e = error as Error & { fix?: string };
  outputs.push(`${e.message} ${e.fix ?? ''} ${e.stack ?? ''} ${JSON.stringify(e)}`);
  return (error as { code?: string }).code ?? String(error);
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-bkkeys-'));
  kms = await KmsServer.start({
    credentials: { accessKeyId: TEST_KMS_CREDENTIALS.accessKeyId, secretAccessKey },
  });
  kmsKey = kms.createKey('backups');
  vault = await VaultTransitServer.start();
  vault.createKey('backups');
  vault.createKey('other');
  vaultToken = vault.createToken(['backups']);
  cluster = await startCluster();
  await cluster.createRole('app', { password, attributes: 'LOGIN CREATEDB' });
  await cluster.createDatabase('app', 'app');
  const pool = await createPool({ url: url('app'), env: {}, environment: 'test', checkRole: false });
  await pool.query(`CREATE TABLE k (id int PRIMARY KEY); INSERT INTO k SELECT generate_series(1, 500)`);
  await pool.close();
});

after(async () => {
  await cluster?.stop();
  await kms?.stop();
  await vault?.stop();
  rmSync(work, { recursive: true, force: true });
  const all = outputs.join('\n');
  assertNoCanary(all, password);
  assertNoCanary(all, secretAccessKey);
  if (vaultToken) assertNoCanary(all, vaultToken);
});

describe('AWS KMS', () => {
  let backup: CreateBackupResult;

  test('the server speaks SigV4: an unsigned request is refused', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${kms.endpoint}/`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.Decrypt' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(status, 403);
  });

  test('GenerateDataKey wraps the data key, bound to the backup id; verify level 2 unwraps it with Decrypt', async () => {
    backup = await createBackup({
      dir: join(work, 'kms'),
      connection: { url: url('app') },
      env: {},
      keys: { kmsKeyId: 'alias/backups', kms: kmsOptions() },
    });
    const wrap = readHeaderFromFile(backup.file).header.key;
    assert.equal(wrap.type, 'aws-kms');
    assert.equal(backup.manifest.key.id, `aws-kms:${kmsKey.arn}`);
    const generate = kms.requests.find((r) => r.operation === 'GenerateDataKey')!;
    assert.deepEqual(generate.encryptionContext, { 'pgwarden:backup-id': backup.id });
    assert.equal(generate.accessKeyId, TEST_KMS_CREDENTIALS.accessKeyId);

    const decrypts = kms.count('Decrypt');
    const result = await verifyBackup({ target: backup.file, level: 2, keys: { kms: kmsOptions() } });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.recorded, 'authenticated');
    assert.equal(kms.count('Decrypt'), decrypts + 1, 'one Decrypt per verification');
  });

  test('verify level 3 opens the key once for all its checks: one Decrypt, not one per level', async () => {
    const decrypts = kms.count('Decrypt');
    const result = await verifyBackup({
      target: backup.file,
      level: 3,
      keys: { kms: kmsOptions() },
      connection: { url: url('app') },
      env: {},
    });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      result.checks.map((c) => `${c.name}:${c.status}`),
      [
        'file-sha256:passed',
        'manifest-hmac:passed',
        'scratch-restore:passed',
        'chunks:passed',
        'row-counts:passed',
      ],
    );
    assert.equal(kms.count('Decrypt'), decrypts + 1);
  });

  test('another KMS key: WRONG_KEY; access denied, disabled key, bad credentials, outage: KEY_SERVICE', async () => {
    const other = kms.createKey('other');
    const verify = (keys: Parameters<typeof verifyBackup>[0]['keys']) =>
      verifyBackup({ target: backup.file, level: 2, keys, record: false }).then((r) => r.error?.code ?? 'OK');
    assert.equal(await verify({ kmsKeyId: other.keyId, kms: kmsOptions() }), 'PGW_BACKUP_WRONG_KEY');
    kms.faults.denyAccess = true;
    assert.equal(await verify({ kms: kmsOptions() }), 'PGW_BACKUP_KEY_SERVICE');
    kms.faults.denyAccess = false;
    kms.setEnabled(kmsKey.keyId, false);
    assert.equal(await verify({ kms: kmsOptions() }), 'PGW_BACKUP_KEY_SERVICE');
    kms.setEnabled(kmsKey.keyId, true);
    assert.equal(
      await verify({
        kms: { ...kmsOptions(), credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' } },
      }),
      'PGW_BACKUP_KEY_SERVICE',
    );
    await assert.rejects(
      createBackup({
        dir: join(work, 'kms'),
        connection: { url: url('app') },
        env: {},
        keys: { kmsKeyId: 'alias/missing', kms: kmsOptions() },
      }),
      (error: unknown) => describeError(error) === 'PGW_BACKUP_KEY_SERVICE',
    );
    await assert.rejects(
      createBackup({
        dir: join(work, 'kms'),
        connection: { url: url('app') },
        env: {},
        keys: { kmsKeyId: 'alias/backups', kms: { ...kmsOptions(), endpoint: 'http://kms.example.com' } },
      }),
      (error: unknown) => describeError(error) === 'PGW_BACKUP_KEY_INVALID',
    );
    // The backup itself is fine: it still verifies.
    assert.equal(await verify({ kms: kmsOptions() }), 'OK');
  });

  test('the CLI reads the AWS environment: create, verify, restore', async () => {
    const env = {
      AWS_ENDPOINT_URL_KMS: kms.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: TEST_KMS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    };
    const dir = join(work, 'kms-cli');
    const created = await run(
      ['backup', 'create', '--url', url('app'), '--dir', dir, '--kms-key-id', kmsKey.arn, '--json'],
      env,
    );
    assert.equal(created.status, 0, created.stdout + created.stderr);
    const id = JSON.parse(created.stdout).id as string;
    const verified = await run(['backup', 'verify', id, '--dir', dir, '--level', '2', '--json'], env);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    await cluster.createDatabase('from_kms', 'app');
    const restored = await run(
      ['backup', 'restore', id, '--dir', dir, '--url', url('from_kms'), '--json'],
      env,
    );
    assert.equal(restored.status, 0, restored.stdout + restored.stderr);
    const withoutCredentials = await run(['backup', 'verify', id, '--dir', dir, '--level', '2', '--json'], {
      AWS_ENDPOINT_URL_KMS: kms.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: TEST_KMS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'not-the-secret',
    });
    assert.equal(withoutCredentials.status, 1);
    assert.equal(JSON.parse(withoutCredentials.stdout).error.code, 'PGW_BACKUP_KEY_SERVICE');
  });
});

describe('Vault transit', () => {
  let backup: CreateBackupResult;

  test('datakey/plaintext wraps the data key; decrypt unwraps it, also after the key was rotated', async () => {
    backup = await createBackup({
      dir: join(work, 'vault'),
      connection: { url: url('app') },
      env: {},
      keys: { vaultTransitKey: 'backups', vault: vaultOptions() },
    });
    const wrap = readHeaderFromFile(backup.file).header.key;
    assert.equal(wrap.type, 'vault-transit');
    assert.match(wrap.type === 'vault-transit' ? wrap.ciphertext : '', /^vault:v1:/);
    assert.equal(backup.manifest.key.id, 'vault-transit:transit/backups:v1');
    assert.equal(vault.count('/datakey/plaintext/backups'), 1);
    vault.rotateKey('backups');
    const result = await verifyBackup({ target: backup.file, level: 2, keys: { vault: vaultOptions() } });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(vault.count('/decrypt/backups'), 1);
  });

  test('another transit key: WRONG_KEY; revoked token, denied key, sealed Vault: KEY_SERVICE; plain http off loopback: KEY_INVALID', async () => {
    const verify = (keys: Parameters<typeof verifyBackup>[0]['keys']) =>
      verifyBackup({ target: backup.file, level: 2, keys, record: false }).then((r) => r.error?.code ?? 'OK');
    const everything = vault.createToken();
    assert.equal(
      await verify({
        vaultTransitKey: 'other',
        vault: { addr: vault.address, token: new Secret(everything) },
      }),
      'PGW_BACKUP_WRONG_KEY',
    );
    // The token may only use "backups".
    assert.equal(await verify({ vaultTransitKey: 'other', vault: vaultOptions() }), 'PGW_BACKUP_KEY_SERVICE');
    vault.sealed = true;
    assert.equal(await verify({ vault: vaultOptions() }), 'PGW_BACKUP_KEY_SERVICE');
    vault.sealed = false;
    const revoked = vault.createToken();
    vault.revokeToken(revoked);
    assert.equal(
      await verify({ vault: { addr: vault.address, token: new Secret(revoked) } }),
      'PGW_BACKUP_KEY_SERVICE',
    );
    assert.equal(
      await verify({ vault: { addr: 'http://vault.example.com:8200', token: new Secret(vaultToken) } }),
      'PGW_BACKUP_KEY_INVALID',
    );
    assert.equal(await verify({ vault: vaultOptions() }), 'OK');
  });

  test('over HTTPS with VAULT_CACERT: a verified certificate works, an unknown CA is refused', async () => {
    const pki = await createPki();
    const files = pki.writeFiles(join(work, 'vault-pki'));
    const secure = await VaultTransitServer.start({
      tls: { key: pki.server.keyPem, cert: pki.server.certPem },
    });
    try {
      secure.createKey('backups');
      const token = new Secret(secure.createToken());
      const made = await createBackup({
        dir: join(work, 'vault-tls'),
        connection: { url: url('app') },
        env: {},
        keys: {
          vaultTransitKey: 'backups',
          vault: { addr: secure.address, token, caCert: files.caCertPath },
        },
      });
      assert.match(secure.address, /^https:\/\/localhost:/);
      const ok = await verifyBackup({
        target: made.file,
        level: 2,
        keys: { vault: { addr: secure.address, token, caCert: files.caCertPath } },
      });
      assert.equal(ok.ok, true, JSON.stringify(ok));
      const untrusted = await verifyBackup({
        target: made.file,
        level: 2,
        keys: { vault: { addr: secure.address, token, caCert: files.untrustedCaCertPath } },
        record: false,
      });
      assert.equal(untrusted.error?.code, 'PGW_BACKUP_KEY_SERVICE');
      outputs.push(JSON.stringify(untrusted));
    } finally {
      await secure.stop();
    }
  });

  test('the CLI reads VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE; restore works from the header alone', async () => {
    const env = { VAULT_ADDR: vault.address, VAULT_TOKEN: vaultToken, VAULT_NAMESPACE: 'team-a' };
    const dir = join(work, 'vault-cli');
    const created = await run(
      ['backup', 'create', '--url', url('app'), '--dir', dir, '--vault-transit-key', 'backups', '--json'],
      env,
    );
    assert.equal(created.status, 0, created.stdout + created.stderr);
    const id = JSON.parse(created.stdout).id as string;
    assert.ok(vault.requests.filter((r) => r.path.includes('/datakey/')).every((r) => r.tokenAccepted));
    assert.equal(vault.requests.at(-1)!.namespace, 'team-a');
    await cluster.createDatabase('from_vault', 'app');
    const restored = await restoreBackup({
      target: id,
      dir,
      connection: { url: url('from_vault') },
      env: {},
      keys: { vault: vaultOptions() },
    });
    assert.equal(restored.id, id);
    const manifest = JSON.parse(readFileSync(join(dir, `${id}.manifest.json`), 'utf8'));
    assert.equal(manifest.tables[0].rows, 500);
  });
});
