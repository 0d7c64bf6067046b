// The aws-secrets-manager backend driven through the real AWS SDK v3 client
// against a local server speaking the Secrets Manager JSON 1.1 protocol.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import {
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { SecretError } from '../../src/errors.js';
import { CachedCredentials } from '../../src/secrets/cache.js';
import { createAwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import type { SecretLogger } from '../../src/secrets/logger.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { AwsSecretsManagerServer, TEST_AWS_CREDENTIALS } from '../support/aws-secrets-manager-server.js';
import { assertErrorHasNoSecret, assertNoCanary, canary } from '../support/index.js';

const canaries: string[] = [];
const logLines: string[] = [];
const logger: SecretLogger = {
  log: (level, event, message, fields) =>
    logLines.push(`${level} ${event} ${message} ${JSON.stringify(fields)}`),
};
const onWarning = (warning: Error) =>
  logLines.push(`${warning.name} ${warning.message} ${warning.stack ?? ''}`);

function secret(): string {
  const value = canary();
  canaries.push(value);
  return value;
}

/** Every surface an error can reach an operator through. */
const assertNoLeak = (error: unknown): void => assertErrorHasNoSecret(error, canaries);

async function failure(promise: Promise<unknown>): Promise<SecretError> {
  const error = await promise.then(
    () => assert.fail('expected a SecretError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SecretError, inspect(error));
  assert.match(error.message, /aws-secrets-manager/);
  assertNoLeak(error);
  return error;
}

let server: AwsSecretsManagerServer;
let rdsPassword: string;
let plainPassword: string;

function provider(secretId: string, endpoint = server.endpoint, credentials = TEST_AWS_CREDENTIALS) {
  return createAwsSecretsManagerProvider({
    secretId,
    endpoint,
    region: 'us-east-1',
    // One attempt keeps failure tests fast; the SDK's default is 3 with backoff.
    clientConfig: { credentials: { ...credentials }, maxAttempts: 1 },
    logger,
  });
}

before(async () => {
  process.on('warning', onWarning);
  server = await AwsSecretsManagerServer.start();
  rdsPassword = secret();
  plainPassword = secret();
  server.createSecret(
    'takumi/production/db',
    JSON.stringify({
      engine: 'postgres',
      host: 'db.example.com',
      port: 5432,
      username: 'takumi_prod',
      password: rdsPassword,
      dbname: 'takumi',
    }),
  );
  server.createSecret('takumi/production/DB_PASSWORD', plainPassword);
});

after(async () => {
  await server.stop();
  process.off('warning', onWarning);
  for (const value of canaries) for (const line of logLines) assertNoCanary(line, value);
});

describe('aws-secrets-manager backend', () => {
  test('reads an RDS-format JSON secret at AWSCURRENT, signed with SigV4', async () => {
    const p = provider('takumi/production/db');
    const c = await p.fetch();
    assert.equal(c.user, 'takumi_prod');
    assert.equal(c.password?.reveal(), rdsPassword);
    assert.equal(c.host, 'db.example.com');
    assert.equal(c.port, 5432);
    assert.equal(c.database, 'takumi');
    assert.match(c.version ?? '', /^[0-9a-f-]{36}$/);
    const last = server.requests.at(-1);
    assert.equal(last?.operation, 'GetSecretValue');
    assert.equal(last?.versionStage, 'AWSCURRENT');
    assert.equal(last?.accessKeyId, TEST_AWS_CREDENTIALS.accessKeyId);
    assert.deepEqual(p.describe(), {
      backend: 'aws-secrets-manager',
      secretId: 'takumi/production/db',
      region: 'us-east-1',
      endpoint: server.endpoint,
    });
    await p.close?.();
  });

  test('a plain-string secret is the password alone', async () => {
    const c = await provider('takumi/production/DB_PASSWORD').fetch();
    assert.equal(c.password?.reveal(), plainPassword);
    assert.equal(c.user, undefined);
  });

  test('from the environment: DB_SECRET_ID, AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER, default credential chain', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = TEST_AWS_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_AWS_CREDENTIALS.secretAccessKey;
    try {
      const p = createProviderFromEnv(
        {
          SECRETS_BACKEND: 'aws-secrets-manager',
          DB_SECRET_ID: 'takumi/production/db',
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL_SECRETS_MANAGER: server.endpoint,
        },
        { logger },
      );
      assert.equal((await p.fetch()).password?.reveal(), rdsPassword);
      await p.close?.();
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.key;
    }
  });

  test('rotation: staging labels move, the cache emits rotate, fetchPrevious reads AWSPREVIOUS', async () => {
    const oldPassword = secret();
    const newPassword = secret();
    server.createSecret('app/rotating', JSON.stringify({ username: 'app', password: oldPassword }));
    const p = provider('app/rotating');
    assert.equal(await p.fetchPrevious?.(), undefined, 'never rotated: no AWSPREVIOUS');

    const cache = new CachedCredentials(p, { ttlMs: 0, logger });
    const rotations: Array<[string | undefined, string | undefined]> = [];
    cache.on('rotate', (now, before) => rotations.push([before.password?.reveal(), now.password?.reveal()]));
    assert.equal((await cache.get()).password?.reveal(), oldPassword);

    // What a rotation Lambda does: createSecret (AWSPENDING), then finishSecret (move AWSCURRENT).
    const sdk = new SecretsManagerClient({
      region: 'us-east-1',
      endpoint: server.endpoint,
      credentials: { ...TEST_AWS_CREDENTIALS },
    });
    const put = await sdk.send(
      new PutSecretValueCommand({
        SecretId: 'app/rotating',
        SecretString: JSON.stringify({ username: 'app', password: newPassword }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    assert.equal((await cache.get()).password?.reveal(), oldPassword, 'AWSPENDING is not current yet');
    const current = server.requests.at(-1);
    assert.equal(current?.versionStage, 'AWSCURRENT');
    const before = await p.fetch();
    await sdk.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'app/rotating',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: put.VersionId,
        RemoveFromVersionId: before.version,
      }),
    );
    sdk.destroy();

    assert.equal((await cache.get()).password?.reveal(), newPassword);
    assert.deepEqual(rotations, [[oldPassword, newPassword]]);
    const previous = await cache.fetchPrevious();
    assert.equal(previous?.password?.reveal(), oldPassword);
    assert.equal(server.requests.at(-1)?.versionStage, 'AWSPREVIOUS');
    await cache.close();
  });

  test('single flight: 50 concurrent get() make one GetSecretValue', async () => {
    server.faults.delayMs = 50;
    try {
      const cache = new CachedCredentials(provider('takumi/production/db'), { logger });
      const before = server.count('GetSecretValue');
      const all = await Promise.all(Array.from({ length: 50 }, () => cache.get()));
      assert.equal(server.count('GetSecretValue') - before, 1);
      assert.ok(all.every((c) => c.password?.reveal() === rdsPassword));
      await cache.close();
    } finally {
      server.faults.delayMs = 0;
    }
  });

  test('missing secret: PGW_SECRET_NOT_FOUND naming DB_SECRET_ID and the region', async () => {
    const e = await failure(provider('takumi/production/nope').fetch());
    assert.equal(e.code, 'PGW_SECRET_NOT_FOUND');
    assert.equal(e.option, 'DB_SECRET_ID');
    assert.match(e.message, /takumi\/production\/nope/);
    assert.match(e.fix ?? '', /AWS_REGION/);
  });

  test('access denied: PGW_SECRET_ACCESS_DENIED naming the IAM action', async () => {
    server.faults.denyAccess = true;
    try {
      const e = await failure(provider('takumi/production/db').fetch());
      assert.equal(e.code, 'PGW_SECRET_ACCESS_DENIED');
      assert.match(e.fix ?? '', /secretsmanager:GetSecretValue/);
    } finally {
      server.faults.denyAccess = false;
    }
  });

  test('wrong AWS credentials (bad signature): PGW_SECRET_ACCESS_DENIED', async () => {
    const wrong = {
      accessKeyId: TEST_AWS_CREDENTIALS.accessKeyId,
      secretAccessKey: 'not-the-right-key-000000000000000000000',
    };
    const e = await failure(provider('takumi/production/db', server.endpoint, wrong).fetch());
    assert.equal(e.code, 'PGW_SECRET_ACCESS_DENIED');
    assert.match(e.message, /InvalidSignatureException/);
  });

  test('text starting with "{" that is not a JSON object is the bare password (issue 12, item 13)', async () => {
    // `creds generate` used to produce such a password about 1 in 88 times; it was refused as malformed JSON.
    const pw = `{${secret()}`;
    canaries.push(pw);
    server.createSecret('app/brace', pw);
    const lines = logLines.length;
    const p = provider('app/brace');
    const credentials = await p.fetch();
    assert.equal(credentials.password?.reveal(), pw);
    assert.equal(credentials.user, undefined);
    assert.equal((await p.fetch()).password?.reveal(), pw);
    // Said once, without the text: a typo in hand-written JSON now shows as a failed login.
    const notes = logLines.slice(lines).filter((l) => /used as the bare password/.test(l));
    assert.equal(notes.length, 1);
    for (const line of logLines) for (const c of canaries) assertNoCanary(line, c);
    // Valid JSON in the RDS format is still parsed.
    assert.equal((await provider('takumi/production/db').fetch()).user, 'takumi_prod');
  });

  test('missing password field: PGW_SECRET_FIELD_MISSING listing the keys present', async () => {
    server.createSecret('app/nopassword', JSON.stringify({ username: 'app', host: 'db', pass: secret() }));
    const e = await failure(provider('app/nopassword').fetch());
    assert.equal(e.code, 'PGW_SECRET_FIELD_MISSING');
    assert.match(e.message, /"password"/);
    assert.match(e.message, /"pass"/);
  });

  test('HTTP 500: PGW_SECRET_BACKEND_UNAVAILABLE; within the grace the cache serves stale and warns', async () => {
    const cache = new CachedCredentials(provider('takumi/production/db'), {
      ttlMs: 1,
      refreshWindow: [1, 1],
      staleGraceMs: 60_000,
      logger,
    });
    await cache.get();
    server.faults.serverError = true;
    try {
      const e = await failure(provider('takumi/production/db').fetch());
      assert.equal(e.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
      assert.match(e.message, /InternalServiceError|500/);
      await new Promise((r) => setTimeout(r, 5));
      assert.equal((await cache.get()).password?.reveal(), rdsPassword);
      assert.equal(cache.stats().staleServed, 1);
      assert.ok(
        logLines.some((l) => l.startsWith('warn PGW_SECRET_STALE') && l.includes('aws-secrets-manager')),
      );
    } finally {
      server.faults.serverError = false;
      await cache.close();
    }
  });

  test('server down (connection refused): PGW_SECRET_BACKEND_UNAVAILABLE naming the endpoint', async () => {
    const down = await AwsSecretsManagerServer.start();
    down.createSecret('x', secret());
    await down.stop();
    const e = await failure(provider('x', down.endpoint).fetch());
    assert.equal(e.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
    assert.match(e.message, /ECONNREFUSED/);
    assert.ok(e.message.includes(down.endpoint));
  });

  test('a slow backend hits the cache fetch timeout: PGW_SECRET_BACKEND_UNAVAILABLE', async () => {
    server.faults.delayMs = 1_000;
    try {
      const cache = new CachedCredentials(provider('takumi/production/db'), { fetchTimeoutMs: 100, logger });
      const started = Date.now();
      const e = await failure(cache.get());
      assert.equal(e.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
      assert.match(e.message, /timed out/);
      assert.ok(Date.now() - started < 900);
      await cache.close();
    } finally {
      server.faults.delayMs = 0;
    }
  });

  test('requests without SigV4 are rejected by the test server, as AWS does', async () => {
    const response = await fetch(server.endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': 'secretsmanager.GetSecretValue',
      },
      body: JSON.stringify({ SecretId: 'takumi/production/db' }),
    });
    assert.equal(response.status, 403);
    assert.match(response.headers.get('x-amzn-errortype') ?? '', /^MissingAuthenticationTokenException/);
    const body = (await response.json()) as { __type: string };
    assert.equal(body.__type, 'MissingAuthenticationTokenException');
  });
});
