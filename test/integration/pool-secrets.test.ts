// Credentials from secrets backends through the pool: rotation under load,
// alternating users, Vault dynamic credentials, and a backend outage. Real
// PostgreSQL; AWS and Vault are the local protocol servers driven by the
// real clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createPool,
  PgwardenError,
  type CreatePoolOptions,
  type RotationEvent,
  type WardenPool,
} from '../../src/index.js';
import { createAwsSecretsManagerProvider, createRdsIamProvider } from '../../src/secrets/aws.js';
import { runAudit } from '../../src/audit/index.js';
import { AwsSecretsManagerServer, TEST_AWS_CREDENTIALS } from '../support/aws-secrets-manager-server.js';
import { runDoctor } from '../../src/doctor/doctor.js';
import { VaultServer } from '../support/vault-server.js';
import { assertNoCanary, canary, startCluster, type Cluster, recordingLogger } from '../support/index.js';

let cluster: Cluster;
let aws: AwsSecretsManagerServer;
const secrets: string[] = [];
const { lines: logLines, logger } = recordingLogger();

function newPassword(): string {
  const value = canary();
  secrets.push(value);
  return value;
}

before(async () => {
  cluster = await startCluster({ conf: { max_connections: 120 } });
  aws = await AwsSecretsManagerServer.start();
  await cluster.adminQuery('CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)');
});

after(async () => {
  await aws?.stop();
  await cluster?.stop();
  for (const value of secrets) assertNoCanary(logLines.join('\n'), value);
});

function awsPoolOptions(secretId: string, extra: CreatePoolOptions = {}): CreatePoolOptions {
  return {
    env: {},
    environment: 'test',
    host: cluster.host,
    port: cluster.port,
    database: 'postgres',
    sslMode: 'disable',
    logger,
    secrets: createAwsSecretsManagerProvider({
      secretId,
      region: 'us-east-1',
      endpoint: aws.endpoint,
      clientConfig: { credentials: { ...TEST_AWS_CREDENTIALS } },
    }),
    ...extra,
  };
}

/** Runs `loops` concurrent query loops until `stop` resolves; returns counts. */
async function load(
  pool: WardenPool,
  loops: number,
  stop: Promise<void>,
): Promise<{ ok: number; failed: Error[]; users: Set<string> }> {
  let running = true;
  void stop.then(() => (running = false));
  const failed: Error[] = [];
  const users = new Set<string>();
  let ok = 0;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (running) {
        try {
          const { rows } = await pool.query<{ u: string }>('SELECT current_user AS u, pg_sleep(0.002)');
          users.add(rows[0]!.u);
          ok++;
        } catch (error) {
          failed.push(error as Error);
        }
      }
    }),
  );
  return { ok, failed, users };
}

describe('rotation through the pool', () => {
  test('20 loops for 10 s while the password rotates 5 times: 0 failed queries', async () => {
    let password = newPassword();
    await cluster.createRole('rot_app', { password });
    await cluster.adminQuery('GRANT SELECT ON counter TO rot_app');
    aws.createSecret('rot/app', JSON.stringify({ username: 'rot_app', password, engine: 'postgres' }));
    const pool = await createPool(
      awsPoolOptions('rot/app', {
        max: 10,
        maxLifetimeMs: 700,
        idleTimeoutMs: 300,
        secretsCache: { ttlMs: 400 },
      }),
    );
    const rotations: RotationEvent[] = [];
    pool.on('rotation', (event: RotationEvent) => rotations.push(event));
    const fetchesBefore = aws.count('GetSecretValue');
    try {
      const stop = sleep(10_000);
      const rotating = (async () => {
        for (let i = 0; i < 5; i++) {
          await sleep(1600);
          const next = newPassword();
          // The AWS rotation order: the secret's new version becomes AWSCURRENT,
          // then the database is told; AWSPREVIOUS bridges the gap.
          aws.rotateSecret(
            'rot/app',
            JSON.stringify({ username: 'rot_app', password: next, engine: 'postgres' }),
          );
          await sleep(150);
          await cluster.adminQuery(`ALTER ROLE rot_app PASSWORD '${next}'`);
          password = next;
        }
      })();
      const result = await load(pool, 20, stop);
      await rotating;
      assert.deepEqual(
        result.failed.map((e) => (e as PgwardenError).code ?? e.message),
        [],
      );
      assert.ok(result.ok > 1000, `only ${result.ok} queries ran`);
      assert.ok(rotations.length >= 5, `saw ${rotations.length} rotations`);
      // Steady state costs no backend call per query: about one per TTL.
      const fetches = aws.count('GetSecretValue') - fetchesBefore;
      assert.ok(fetches < result.ok / 20, `${fetches} backend calls for ${result.ok} queries`);
    } finally {
      await pool.close();
    }
    // The last password works, the first one no longer does.
    const check = await createPool({
      ...awsPoolOptions('rot/app'),
      secrets: undefined,
      user: 'rot_app',
      password,
    });
    await check.close();
    await assert.rejects(
      createPool({
        ...awsPoolOptions('rot/app'),
        secrets: undefined,
        user: 'rot_app',
        password: secrets[0]!,
      }),
      (e: unknown) => e instanceof PgwardenError && e.code === 'PGW_CONN_AUTH_FAILED',
    );
  });

  test('alternating users: switching the secret moves new connections to the other user, 0 failures', async () => {
    const [a, b] = [newPassword(), newPassword()];
    await cluster.adminQuery('CREATE ROLE alt_group NOLOGIN; GRANT SELECT ON counter TO alt_group');
    await cluster.createRole('alt_app', { password: a, inRoles: ['alt_group'] });
    await cluster.createRole('alt_app_clone', { password: b, inRoles: ['alt_group'] });
    aws.createSecret('alt/app', JSON.stringify({ username: 'alt_app', password: a }));
    const pool = await createPool(awsPoolOptions('alt/app', { max: 8, secretsCache: { ttlMs: 300 } }));
    try {
      const stop = sleep(4000);
      const switching = sleep(1500).then(() =>
        aws.rotateSecret('alt/app', JSON.stringify({ username: 'alt_app_clone', password: b })),
      );
      const rotations: RotationEvent[] = [];
      pool.on('rotation', (event: RotationEvent) => rotations.push(event));
      const result = await load(pool, 20, stop);
      await switching;
      assert.deepEqual(
        result.failed.map((e) => e.message),
        [],
      );
      assert.deepEqual([...result.users].sort(), ['alt_app', 'alt_app_clone']);
      // Old connections drained: after the switch every pooled session is the clone.
      await pool.query('SELECT 1');
      const sessions = await cluster.adminQuery<{ u: string }>(
        "SELECT DISTINCT usename AS u FROM pg_stat_activity WHERE usename LIKE 'alt_app%' AND application_name = 'pgwarden'",
      );
      assert.deepEqual(
        sessions.map((s) => s.u),
        ['alt_app_clone'],
      );
    } finally {
      await pool.close();
    }
  });

  test('backend down longer than the TTL: cached credentials keep working and a warning is logged', async () => {
    const password = newPassword();
    await cluster.createRole('stale_app', { password });
    aws.createSecret('stale/app', JSON.stringify({ username: 'stale_app', password }));
    const pool = await createPool(
      awsPoolOptions('stale/app', {
        max: 2,
        idleTimeoutMs: 50,
        secretsCache: { ttlMs: 200, staleGraceMs: 60_000 },
      }),
    );
    try {
      aws.faults.serverError = true;
      const deadline = Date.now() + 1500;
      let queries = 0;
      while (Date.now() < deadline) {
        await pool.query('SELECT 1');
        queries++;
        await sleep(100); // idle connections close, so new ones need credentials
      }
      assert.ok(queries >= 10);
      assert.match(logLines.join('\n'), /PGW_SECRET_STALE/);
      assert.ok((pool.credentialsInfo().cache?.staleServed as number) > 0);
    } finally {
      aws.faults.serverError = false;
      await pool.close();
    }
  });

  test('rds-iam refuses to send its token without TLS, whatever the environment', async () => {
    await assert.rejects(
      createPool({
        ...awsPoolOptions('unused'),
        secrets: createRdsIamProvider({
          host: 'db.example.invalid',
          user: 'app',
          region: 'us-east-1',
          credentials: { ...TEST_AWS_CREDENTIALS },
        }),
      }),
      (e: unknown) =>
        e instanceof PgwardenError && e.code === 'PGW_CONFIG_CONFLICT' && /rds-iam needs TLS/.test(e.message),
    );
  });

  test('a backend that fails at startup is a coded error naming the backend', async () => {
    await assert.rejects(
      createPool(awsPoolOptions('missing/secret')),
      (e: unknown) =>
        e instanceof PgwardenError &&
        e.code === 'PGW_SECRET_NOT_FOUND' &&
        /aws-secrets-manager/.test(e.message),
    );
  });
});

describe('Vault dynamic credentials through the pool', () => {
  test('renewed, rolled before max_ttl with 0 failed queries, revoked after close', async () => {
    await cluster.adminQuery('CREATE TABLE widgets (id int); INSERT INTO widgets VALUES (1)');
    const vault = await VaultServer.start({
      database: {
        execute: (sql) => cluster.adminQuery(sql),
        password: newPassword,
        roles: {
          app: {
            ttlSeconds: 3,
            maxTtlSeconds: 6,
            grantStatements: ['GRANT SELECT ON widgets TO "{{name}}"'],
          },
        },
      },
    });
    try {
      const token = vault.createToken({ ttlSeconds: 600 });
      secrets.push(token);
      const pool = await createPool({
        env: {
          SECRETS_BACKEND: 'vault-database',
          VAULT_ADDR: vault.address,
          VAULT_TOKEN: token,
          VAULT_DB_ROLE: 'app',
        },
        environment: 'test',
        host: cluster.host,
        port: cluster.port,
        database: 'postgres',
        sslMode: 'disable',
        logger,
        max: 6,
        secretsCache: { expiryMarginMs: 2500 },
      });
      const rotations: RotationEvent[] = [];
      pool.on('rotation', (event: RotationEvent) => rotations.push(event));
      let result;
      try {
        result = await load(pool, 10, sleep(9000));
      } finally {
        await pool.close();
      }
      assert.deepEqual(
        result.failed.map((e) => (e as PgwardenError).code ?? e.message),
        [],
      );
      assert.ok(vault.count('sys/leases/renew') >= 1, 'the lease was never renewed');
      assert.ok(rotations.length >= 1, 'credentials were never rolled');
      assert.ok(result.users.size >= 2, `one dynamic user only: ${[...result.users].join(', ')}`);
      // close() revoked the lease in use, and the Vault engine dropped its role.
      const current = rotations.at(-1)!.user;
      // A rolled lease whose end the client already passed is dropped by the
      // engine's own timer, which may land a moment later: allow for it.
      const roleGone = async () =>
        (await cluster.adminQuery('SELECT 1 FROM pg_roles WHERE rolname = $1', [current])).length === 0;
      const deadline = Date.now() + 3000;
      while ((vault.activeLeases().length > 0 || !(await roleGone())) && Date.now() < deadline)
        await sleep(50);
      assert.equal(vault.activeLeases().length, 0);
      assert.ok(await roleGone(), `${current} still exists after close`);
    } finally {
      await vault.stop();
    }
  });
});

describe('tools on a secrets backend', () => {
  test('audit and doctor each take one Vault lease, connect with it, and give it back', async () => {
    const vault = await VaultServer.start({
      database: {
        execute: (sql) => cluster.adminQuery(sql),
        password: newPassword,
        roles: { auditor: { ttlSeconds: 60, maxTtlSeconds: 120 } },
      },
    });
    try {
      const token = vault.createToken({ ttlSeconds: 600 });
      secrets.push(token);
      const options = {
        env: {
          SECRETS_BACKEND: 'vault-database',
          VAULT_ADDR: vault.address,
          VAULT_TOKEN: token,
          VAULT_DB_ROLE: 'auditor',
        },
        environment: 'test',
        host: cluster.host,
        port: cluster.port,
        database: 'postgres',
        sslMode: 'disable',
      } as const;

      const report = await runAudit(options);
      assert.equal(report.connection.ok, true, JSON.stringify(report.connection.error));
      assert.equal(vault.count('database/creds/'), 1, 'the audit fetched its credentials more than once');
      assert.deepEqual(vault.activeLeases(), [], 'the audit left its lease behind');

      const doctor = await runDoctor(options);
      assert.equal(doctor.connection?.ok, true);
      assert.equal(vault.count('database/creds/'), 2, 'doctor fetched its credentials more than once');
      assert.deepEqual(vault.activeLeases(), [], 'doctor left its lease behind');
      for (const value of secrets) assertNoCanary(JSON.stringify([report, doctor]), value);
    } finally {
      await vault.stop();
    }
  });
});
