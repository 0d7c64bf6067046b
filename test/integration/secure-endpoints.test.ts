// One rule for every HTTP endpoint that carries a secret (issue 12, item 2):
// https, or plain http on 127.0.0.1, ::1 and localhost only. Each case points
// a real client (the AWS SDK, the Vault client, the webhook sender, the CLI
// as a user runs it) at a plain-http listener outside that list and proves
// the refusal is a coded config error and that no request reached it. The
// AWS cases include the endpoint the SDK resolves on its own, from the
// environment and from the shared config file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretError } from '../../src/errors.js';
import { createProviderFromEnv } from '../../src/secrets/select.js';
import { assertNoCanary, canary, withoutConnectionVariables } from '../support/index.js';
import { TripwireServer } from '../support/tripwire-server.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const secretAccessKey = `${canary()}-aws`;
const vaultToken = canary();
let tripwire: TripwireServer;
let dir: string;

/** The SDK's own settings, so the only endpoint in play is the one a case sets. */
const awsBase = (): Record<string, string> => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIAPGWARDENTEST0001',
  AWS_SECRET_ACCESS_KEY: secretAccessKey,
  AWS_CONFIG_FILE: join(dir, 'no-such-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-such-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
});

/** Asynchronous: the tripwire lives in this process and must be able to answer. */
function run(
  args: string[],
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Promise<{ status: number; out: string }> {
  const clean = withoutConnectionVariables(['AWS_', 'VAULT_', 'SECRETS_']);
  const child = spawn(process.execPath, [...nodeArgs, ...CLI, ...args], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      for (const secret of [secretAccessKey, vaultToken]) assertNoCanary(out, secret);
      resolve({ status: code ?? -1, out });
    }),
  );
}

/** `pgwarden doctor --json` must not report ok, and must name the config error. */
async function doctorRefuses(env: Record<string, string>, pattern: RegExp): Promise<void> {
  const { status, out } = await run(['doctor', '--json'], {
    APP_ENV: 'production',
    DB_HOST: 'db.example.com',
    DB_NAME: 'app',
    DB_USER: 'app',
    ...env,
  });
  const report = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as {
    ok: boolean;
    error?: { code: string; message: string };
  };
  assert.notEqual(status, 0, out);
  assert.equal(report.ok, false, out);
  assert.equal(report.error?.code, 'PGW_SECRET_CONFIG', out);
  assert.match(report.error?.message ?? '', pattern);
}

before(async () => {
  tripwire = await TripwireServer.start();
  dir = mkdtempSync(join(tmpdir(), 'pgw-endpoints-'));
});

after(async () => {
  await tripwire?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('AWS Secrets Manager and SSM', () => {
  test('AWS_ENDPOINT_URL_SECRETS_MANAGER on plain http off loopback: doctor says PGW_SECRET_CONFIG, nothing is sent', async () => {
    await doctorRefuses(
      {
        ...awsBase(),
        SECRETS_BACKEND: 'aws-secrets-manager',
        DB_SECRET_ID: 'app/prod/db',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: tripwire.url,
      },
      /AWS_ENDPOINT_URL_SECRETS_MANAGER points AWS Secrets Manager at plain http:\/\/127\.0\.0\.2/,
    );
    assert.deepEqual(tripwire.requests, []);
  });

  test('AWS_ENDPOINT_URL_SSM (and the generic AWS_ENDPOINT_URL) likewise', async () => {
    await doctorRefuses(
      {
        ...awsBase(),
        SECRETS_BACKEND: 'aws-ssm',
        DB_SSM_PARAMETER: '/app/db',
        AWS_ENDPOINT_URL_SSM: tripwire.url,
      },
      /AWS_ENDPOINT_URL_SSM points AWS SSM Parameter Store at plain http/,
    );
    await doctorRefuses(
      {
        ...awsBase(),
        SECRETS_BACKEND: 'aws-ssm',
        DB_SSM_PARAMETER: '/app/db',
        AWS_ENDPOINT_URL: tripwire.url,
      },
      /AWS_ENDPOINT_URL points/,
    );
    assert.deepEqual(tripwire.requests, []);
  });

  test('endpoint_url in the AWS config file, which only the SDK reads: judged on what the SDK resolved', async () => {
    const config = join(dir, 'aws-config');
    writeFileSync(config, `[default]\nregion = us-east-1\nendpoint_url = ${tripwire.url}\n`);
    for (const [backend, setting] of [
      ['aws-secrets-manager', { DB_SECRET_ID: 'app/prod/db' }],
      ['aws-ssm', { DB_SSM_PARAMETER: '/app/db' }],
    ] as const) {
      await doctorRefuses(
        { ...awsBase(), AWS_CONFIG_FILE: config, SECRETS_BACKEND: backend, ...setting },
        /The endpoint the AWS SDK resolved for .* points .* at plain http:\/\/127\.0\.0\.2/,
      );
    }
    assert.deepEqual(tripwire.requests, []);
  });

  test("the AWS SDK's Node 20 notice never reaches the CLI's output", async () => {
    // The SDK judges process.version; a preload makes any runtime look like Node 20.
    const preload = join(dir, 'node20.mjs');
    writeFileSync(preload, "Object.defineProperty(process, 'version', { value: 'v20.19.0' });\n");
    const env = {
      ...awsBase(),
      SECRETS_BACKEND: 'aws-secrets-manager',
      DB_SECRET_ID: 'app/prod/db',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9/',
    };
    const { out } = await run(['doctor', '--json'], env, ['--import', preload]);
    assert.match(out, /"ok": false/, out); // the SDK client was built and asked
    assert.doesNotMatch(out, /NodeVersionSupportWarning|require node >=/, out);
    // The same client built outside the CLI does print it: the test can fail.
    const script =
      "const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager'); new SecretsManagerClient({ region: 'us-east-1' });";
    const bare = spawnSync(process.execPath, ['--import', preload, '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.match(bare.stderr, /NodeVersionSupportWarning/, bare.stderr);
  });

  test('a malformed endpoint is a config error, not "backend unavailable"', async () => {
    await doctorRefuses(
      {
        ...awsBase(),
        SECRETS_BACKEND: 'aws-secrets-manager',
        DB_SECRET_ID: 'app/prod/db',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http//secretsmanager',
      },
      /AWS_ENDPOINT_URL_SECRETS_MANAGER is not a URL/,
    );
    const config = join(dir, 'aws-config-malformed');
    writeFileSync(config, '[default]\nregion = us-east-1\nendpoint_url = not a url\n');
    await doctorRefuses(
      { ...awsBase(), AWS_CONFIG_FILE: config, SECRETS_BACKEND: 'aws-secrets-manager', DB_SECRET_ID: 'x' },
      /is not a valid URL/,
    );
  });
});

describe('Vault', () => {
  test('VAULT_ADDR on plain http off loopback: refused when the provider is built, for both Vault backends', async () => {
    for (const backend of ['vault', 'vault-database']) {
      const error = (() => {
        try {
          createProviderFromEnv({
            SECRETS_BACKEND: backend,
            VAULT_ADDR: tripwire.url,
            VAULT_TOKEN: vaultToken,
            VAULT_PATH: 'secret/app',
            VAULT_DB_ROLE: 'app',
          });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(error instanceof SecretError, `${backend}: ${String(error)}`);
      assert.equal(error.code, 'PGW_SECRET_CONFIG');
      assert.match(error.message, /VAULT_ADDR points Vault at plain http:\/\/127\.0\.0\.2/);
    }
    await doctorRefuses(
      {
        SECRETS_BACKEND: 'vault',
        VAULT_ADDR: tripwire.url,
        VAULT_TOKEN: vaultToken,
        VAULT_PATH: 'secret/app',
      },
      /VAULT_ADDR points Vault at plain http/,
    );
    assert.deepEqual(tripwire.requests, []);
  });
});

describe('KMS (backups)', () => {
  /** A child that asks KMS for a data key, as `backup create --kms-key-id` does. */
  async function kmsDataKey(env: Record<string, string>): Promise<{ code?: string; message?: string }> {
    const script = join(dir, 'kms-child.mts');
    writeFileSync(
      script,
      `import { AwsKmsSource } from ${JSON.stringify(join(process.cwd(), 'src/backup/keys/aws-kms.ts'))};
try {
  await new AwsKmsSource({ keyId: 'alias/backups' }).createDataKey('backup-1');
  console.log(JSON.stringify({ code: 'none' }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}
`,
    );
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^AWS_/.test(k)));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    assertNoCanary(out, secretAccessKey);
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string };
  }

  test('AWS_ENDPOINT_URL_KMS and endpoint_url in the AWS config file on plain http: PGW_BACKUP_KEY_INVALID, nothing sent', async () => {
    const direct = await kmsDataKey({ ...awsBase(), AWS_ENDPOINT_URL_KMS: tripwire.url });
    assert.equal(direct.code, 'PGW_BACKUP_KEY_INVALID', direct.message);
    assert.match(direct.message ?? '', /AWS_ENDPOINT_URL_KMS points AWS KMS at plain http/);
    const config = join(dir, 'aws-config-kms');
    writeFileSync(config, `[default]\nregion = us-east-1\nendpoint_url = ${tripwire.url}\n`);
    const resolved = await kmsDataKey({ ...awsBase(), AWS_CONFIG_FILE: config });
    assert.equal(resolved.code, 'PGW_BACKUP_KEY_INVALID', resolved.message);
    assert.match(resolved.message ?? '', /The endpoint the AWS SDK resolved for KMS/);
    assert.deepEqual(tripwire.requests, []);
  });
});

describe('alert webhooks', () => {
  test('a webhook on plain http off loopback is refused before any alert is sent', async () => {
    const { status, out } = await run(
      ['alerts', 'check', '--offline', '--webhook', `${tripwire.url}/hook/t0k3n`],
      {},
    );
    assert.equal(status, 2, out);
    assert.match(
      out,
      /PGW_ALERTS_CONFIG_INVALID: --webhook points the webhook receiver at plain http:\/\/127\.0\.0\.2/,
    );
    assert.doesNotMatch(out, /t0k3n/);
    assert.deepEqual(tripwire.requests, []);
  });
});
