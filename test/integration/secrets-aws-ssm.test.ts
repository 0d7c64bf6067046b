// The aws-ssm backend (SSM Parameter Store) driven through the real AWS SDK v3
// client against a local server speaking the SSM JSON 1.1 protocol, and a pool
// on a real cluster logging in with what the parameter holds.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SecretError } from '../../src/errors.js';
import { createPool } from '../../src/pool/pool.js';
import { CachedCredentials } from '../../src/secrets/cache.js';
import { createAwsSsmProvider } from '../../src/secrets/aws-ssm.js';
import type { SecretLogger } from '../../src/secrets/logger.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { TEST_AWS_CREDENTIALS } from '../support/aws-secrets-manager-server.js';
import { AwsSsmServer } from '../support/aws-ssm-server.js';
import {
  assertErrorHasNoSecret,
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
} from '../support/index.js';

const canaries: string[] = [];
const logLines: string[] = [];
const logger: SecretLogger = {
  log: (level, event, message, fields) =>
    logLines.push(`${level} ${event} ${message} ${JSON.stringify(fields)}`),
};

function secret(): string {
  const value = canary();
  canaries.push(value);
  return value;
}

let server: AwsSsmServer;
let cluster: Cluster;

function provider(parameter: string, endpoint = server.endpoint) {
  return createAwsSsmProvider({
    parameter,
    endpoint,
    region: 'us-east-1',
    // One attempt keeps failure tests fast; the SDK's default is 3 with backoff.
    clientConfig: { credentials: { ...TEST_AWS_CREDENTIALS }, maxAttempts: 1 },
    logger,
  });
}

async function failure(promise: Promise<unknown>): Promise<SecretError> {
  const error = await promise.then(
    () => assert.fail('expected a SecretError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SecretError, inspect(error));
  assert.match(error.message, /aws-ssm/);
  assertErrorHasNoSecret(error, canaries);
  return error;
}

before(async () => {
  [server, cluster] = await Promise.all([AwsSsmServer.start(), startCluster()]);
});

after(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
  for (const value of canaries) assertNoCanary(logLines.join('\n'), value);
});

describe('aws-ssm backend', () => {
  test('a SecureString holding the bare password: decrypted, versioned, described', async () => {
    const password = secret();
    server.put('/pyfactor/prod/db-password', password);
    const p = provider('/pyfactor/prod/db-password');
    const c = await p.fetch();
    assert.equal(c.password?.reveal(), password);
    assert.equal(c.user, undefined, 'the user comes from DB_USER/PGUSER');
    assert.equal(c.version, '1');
    assert.deepEqual(p.describe(), {
      backend: 'aws-ssm',
      parameter: '/pyfactor/prod/db-password',
      region: 'us-east-1',
      endpoint: server.endpoint,
    });
    assert.equal(server.count('GetParameter'), 1);
    await p.close?.();
  });

  test('a bare password starting with "{" is the password, not malformed JSON (issue 12, item 13)', async () => {
    const password = `{${secret()}`;
    canaries.push(password);
    server.put('/pyfactor/prod/brace', password);
    const p = provider('/pyfactor/prod/brace');
    assert.equal((await p.fetch()).password?.reveal(), password);
    await p.close?.();
  });

  test('from the environment, through the pool: RDS-format JSON logs in to a real server', async () => {
    const password = secret();
    await cluster.createRole('pyfactor_app', { password });
    server.put(
      '/pyfactor/prod/db',
      JSON.stringify({ engine: 'postgres', username: 'pyfactor_app', password }),
    );
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = TEST_AWS_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_AWS_CREDENTIALS.secretAccessKey;
    try {
      const env = {
        SECRETS_BACKEND: 'aws-ssm',
        DB_SSM_PARAMETER: '/pyfactor/prod/db',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_SSM: server.endpoint,
      };
      const p = createProviderFromEnv(env, { logger });
      assert.equal((await p.fetch()).user, 'pyfactor_app');
      await p.close?.();

      const pool = await createPool({
        env,
        environment: 'test',
        host: cluster.host,
        port: cluster.port,
        database: 'postgres',
        sslMode: 'disable',
        logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      try {
        const { rows } = await pool.query<{ user: string }>('SELECT current_user AS user');
        assert.equal(rows[0]?.user, 'pyfactor_app');
      } finally {
        await pool.close();
      }
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.key;
    }
  });

  test('put-parameter --overwrite is a rotation: a new version, the cache emits rotate', async () => {
    const before = secret();
    const after = secret();
    server.put('/app/rotating', before);
    const cache = new CachedCredentials(provider('/app/rotating'), { ttlMs: 0, logger });
    const rotations: Array<[string | undefined, string | undefined]> = [];
    cache.on('rotate', (now, old) => rotations.push([old.password?.reveal(), now.password?.reveal()]));
    assert.equal((await cache.get()).password?.reveal(), before);

    const sdk = new SSMClient({
      region: 'us-east-1',
      endpoint: server.endpoint,
      credentials: { ...TEST_AWS_CREDENTIALS },
    });
    const put = await sdk.send(
      new PutParameterCommand({ Name: '/app/rotating', Value: after, Type: 'SecureString', Overwrite: true }),
    );
    sdk.destroy();
    assert.equal(put.Version, 2);

    const now = await cache.get();
    assert.equal(now.password?.reveal(), after);
    assert.equal(now.version, '2');
    assert.deepEqual(rotations, [[before, after]]);
    await cache.close();
  });

  test('a plain String parameter works but warns once that it is stored unencrypted', async () => {
    server.put('/app/plain', secret(), 'String');
    const p = provider('/app/plain');
    const mark = logLines.length;
    await p.fetch();
    await p.fetch();
    const warnings = logLines.slice(mark).filter((l) => l.includes('make it a SecureString'));
    assert.equal(warnings.length, 1, logLines.slice(mark).join('\n'));
  });

  test('missing parameter, access denied, unreachable endpoint, unset variable: coded errors naming the fix', async () => {
    const missing = await failure(provider('/nope').fetch());
    assert.equal(missing.code, 'PGW_SECRET_NOT_FOUND');
    assert.equal(missing.option, 'DB_SSM_PARAMETER');
    assert.match(missing.message, /parameter "\/nope" does not exist/);

    server.faults.denyAccess = true;
    try {
      const denied = await failure(provider('/pyfactor/prod/db').fetch());
      assert.equal(denied.code, 'PGW_SECRET_ACCESS_DENIED');
      assert.match(denied.fix ?? '', /ssm:GetParameter/);
    } finally {
      server.faults.denyAccess = false;
    }

    const down = await failure(provider('/pyfactor/prod/db', 'http://127.0.0.1:1').fetch());
    assert.equal(down.code, 'PGW_SECRET_BACKEND_UNAVAILABLE');
    assert.equal(down.option, 'AWS_ENDPOINT_URL_SSM');
    assert.match(down.message, /SSM Parameter Store could not be reached/);

    assert.throws(
      () => createProviderFromEnv({ SECRETS_BACKEND: 'aws-ssm' }),
      (e: unknown) =>
        e instanceof SecretError && e.code === 'PGW_SECRET_CONFIG' && e.option === 'DB_SSM_PARAMETER',
    );
  });
});
