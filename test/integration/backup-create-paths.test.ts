// Paths of `backup create` off the happy road. pg_dump and pg_restore must
// connect where, and as whom, the pool's own connection succeeded: after a
// failover to the second host of a list, and after the pool fell back to the
// secret's AWSPREVIOUS password because the database does not know the
// AWSCURRENT one yet (the configuration's first host and first-fetched
// password are then the wrong ones). And a run failing after the data key was
// made zeroes the key material it holds: the data key, and the payload and
// manifest keys derived from it, whether pg_dump fails or the run is aborted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as NodeCrypto from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup, generateKeyFile, restoreBackup, type KeySource } from '../../src/backup/index.js';
import { INFO_MANIFEST, INFO_PAYLOAD } from '../../src/backup/format/constants.js';
import { findPgTool } from '../../src/backup/pg-tools.js';
import { PgwardenError } from '../../src/errors.js';
import { AwsSecretsManagerServer, TEST_AWS_CREDENTIALS } from '../support/aws-secrets-manager-server.js';
import {
  assertNoCanary,
  canary,
  findFreePort,
  startCluster,
  type Cluster,
  withoutConnectionVariables,
} from '../support/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const password = canary();
let cluster: Cluster;
let aws: AwsSecretsManagerServer;
let work: string;
let keyFile: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgw-bktarget-'));
  cluster = await startCluster();
  aws = await AwsSecretsManagerServer.start();
  await cluster.createRole('app', { password, attributes: 'LOGIN' });
  await cluster.createDatabase('app', 'app');
  await cluster.createDatabase('copy', 'app');
  await cluster.adminQuery('SELECT 1');
  mkdirSync(join(work, 'keys'), { mode: 0o700 });
  keyFile = join(work, 'keys', 'k');
  generateKeyFile(keyFile);
});

after(async () => {
  await aws?.stop();
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the tools connect where the pool connected', () => {
  test('a host list whose first host is down: create and restore use the host that answered', async () => {
    const dead = await findFreePort();
    const hosts = `postgresql://app:${encodeURIComponent(password)}@127.0.0.1:${dead},127.0.0.1:${cluster.port}`;
    const created = await createBackup({
      dir: join(work, 'failover'),
      connection: { url: `${hosts}/app?sslmode=disable` },
      env: {},
      keys: { keyFile },
      rowCounts: false,
    });
    assert.equal(created.manifest.port, cluster.port, 'the manifest names the host that answered');
    const restored = await restoreBackup({
      target: created.file,
      connection: { url: `${hosts}/copy?sslmode=disable` },
      env: {},
      keys: { keyFile },
    });
    assert.equal(restored.database, 'copy');
  });

  test('AWSPREVIOUS fallback: pg_dump gets the password that worked, not the rejected AWSCURRENT one', async () => {
    const rejected = canary();
    aws.createSecret('app/db', JSON.stringify({ username: 'app', password, engine: 'postgres' }));
    // Rotation half done: the secret moved on, the database was not told yet.
    aws.rotateSecret('app/db', JSON.stringify({ username: 'app', password: rejected, engine: 'postgres' }));
    const clean = withoutConnectionVariables(['AWS_']);
    // Not spawnSync: the stand-in AWS server answers from this process's event loop.
    const child = spawn(
      process.execPath,
      [...CLI, 'backup', 'create', '--dir', join(work, 'previous'), '--key-file', keyFile, '--json'],
      {
        env: {
          ...clean,
          SECRETS_BACKEND: 'aws-secrets-manager',
          DB_SECRET_ID: 'app/db',
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
          AWS_ACCESS_KEY_ID: TEST_AWS_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: TEST_AWS_CREDENTIALS.secretAccessKey,
          DB_HOST: cluster.host,
          DB_PORT: String(cluster.port),
          DB_NAME: 'app',
          DB_SSL: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const result = { stdout: '', stderr: '', status: -1 };
    child.stdout.on('data', (d: Buffer) => (result.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (result.stderr += d.toString()));
    result.status = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    for (const secret of [password, rejected]) assertNoCanary(result.stdout + result.stderr, secret);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal((JSON.parse(result.stdout.trim()) as { ok: boolean }).ok, true);
  });
});

describe('key material on the error path', () => {
  test('a failure after the data key was made (here: a header that does not validate) leaves it zeroed', async () => {
    const handed: Buffer[] = [];
    const source: KeySource = {
      kind: 'key-file',
      description: 'a key source whose wrap the header refuses',
      createDataKey: async () => {
        const dataKey = randomBytes(32);
        handed.push(dataKey);
        return { dataKey, wrap: { type: 'key-file', keyId: 'not-a-fingerprint' } as never };
      },
      openDataKey: async () => {
        throw new Error('not used');
      },
    };
    await assert.rejects(
      createBackup({
        dir: join(work, 'bad-wrap'),
        connection: {
          url: cluster.url({ user: 'app', password, database: 'app', params: { sslmode: 'disable' } }),
        },
        env: {},
        keys: source,
      }),
    );
    assert.equal(handed.length, 1);
    assert.ok(handed[0]!.equals(Buffer.alloc(32)), 'the data key is still in memory after the failed run');
  });
});

/**
 * Records every key derived with HKDF, by its info string. The derived keys
 * share memory with what hkdfSync returned (derive.ts wraps it without a
 * copy), so the recorded ArrayBuffers show whether the run zeroed them.
 */
function spyOnDerivedKeys(): { keys: Map<string, ArrayBuffer[]>; restore(): void } {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  const original = crypto.hkdfSync;
  const keys = new Map<string, ArrayBuffer[]>();
  crypto.hkdfSync = ((...args: Parameters<typeof original>) => {
    const out = original(...args);
    keys.set(String(args[3]), [...(keys.get(String(args[3])) ?? []), out]);
    return out;
  }) as typeof original;
  syncBuiltinESMExports();
  return {
    keys,
    restore: () => {
      crypto.hkdfSync = original;
      syncBuiltinESMExports();
    },
  };
}

/** A --pg-bin directory whose pg_dump reports the real version, then does `body` instead of dumping. */
function fakePgDump(name: string, body: string): string {
  const bin = join(work, name);
  mkdirSync(bin, { recursive: true });
  const script = `#!/bin/sh
if [ "$1" = "--version" ]; then exec "${findPgTool('pg_dump').path}" --version; fi
${body}
`;
  writeFileSync(join(bin, 'pg_dump'), script);
  chmodSync(join(bin, 'pg_dump'), 0o755);
  return bin;
}

describe('derived keys on the error path (issue 12: hmacKey was not zeroed when create failed)', () => {
  const zeroed = (key: ArrayBuffer) => Buffer.from(key).equals(Buffer.alloc(key.byteLength));

  for (const [name, body, expected] of [
    ['pg_dump fails', "echo 'pg_dump: error: injected failure' >&2\nexit 1", 'PGW_BACKUP_DUMP_FAILED'],
    // Some output, then pg_dump hangs: the abort lands while the dump is being encrypted.
    [
      'the run is aborted mid-dump',
      "printf 'PGDMP-partial-output'\nexec sleep 600",
      'PGW_BACKUP_INTERRUPTED',
    ],
  ] as const) {
    test(`${name}: the payload key and the manifest key are zeroed`, async () => {
      const pgBin = fakePgDump(name.replace(/\W+/g, '-'), body);
      const controller = new AbortController();
      const spy = spyOnDerivedKeys();
      try {
        await assert.rejects(
          createBackup({
            dir: join(work, `keys-${name.replace(/\W+/g, '-')}`),
            connection: {
              url: cluster.url({ user: 'app', password, database: 'app', params: { sslmode: 'disable' } }),
            },
            env: {},
            keys: { keyFile },
            pgBin,
            rowCounts: false,
            signal: controller.signal,
            progressIntervalMs: 20,
            onProgress: (progress) => {
              if (expected === 'PGW_BACKUP_INTERRUPTED' && progress.bytes > 0) controller.abort();
            },
          }),
          (error: unknown) => error instanceof PgwardenError && error.pgwardenCode === expected,
        );
      } finally {
        spy.restore();
      }
      const payload = spy.keys.get(INFO_PAYLOAD) ?? [];
      const manifest = spy.keys.get(INFO_MANIFEST) ?? [];
      assert.equal(payload.length, 1, 'the run derived no payload key: it failed before the keys existed');
      assert.equal(manifest.length, 1, 'the run derived no manifest key');
      assert.ok(zeroed(manifest[0]!), 'the manifest (HMAC) key is still in memory after the failed run');
      assert.ok(zeroed(payload[0]!), 'the payload key is still in memory after the failed run');
    });
  }
});
