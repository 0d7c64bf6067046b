import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { SecretError } from '../errors.js';
import { createProviderFromEnv, SECRETS_BACKENDS } from './select.js';

const VAULT = {
  VAULT_ADDR: 'https://vault.example.com:8200',
  VAULT_TOKEN: 'hvs.test-token-aaaaaaaaaaaaaaaaaaaa',
};

describe('createProviderFromEnv', () => {
  test('builds each backend from its variables', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ DB_PASSWORD: 'pw-aaaa' }, 'env'],
      [{ SECRETS_BACKEND: 'env', DB_PASSWORD: 'pw-aaaa' }, 'env'],
      [{ SECRETS_BACKEND: 'dotenv', NODE_ENV: 'development' }, 'dotenv'],
      [{ SECRETS_BACKEND: 'file', DB_PASSWORD_FILE: '/run/secrets/db_password' }, 'file'],
      [{ DB_PASSWORD_FILE: '/run/secrets/db_password' }, 'file'],
      [
        { SECRETS_BACKEND: 'aws-secrets-manager', DB_SECRET_ID: 'app/db', AWS_REGION: 'eu-west-1' },
        'aws-secrets-manager',
      ],
      [{ SECRETS_BACKEND: 'aws-ssm', DB_SSM_PARAMETER: '/app/db', AWS_REGION: 'eu-west-1' }, 'aws-ssm'],
      [{ SECRETS_BACKEND: 'vault', ...VAULT, VAULT_PATH: 'secret/takumi/production' }, 'vault'],
      [{ SECRETS_BACKEND: 'vault-database', ...VAULT, VAULT_DB_ROLE: 'app' }, 'vault-database'],
      [{ SECRETS_BACKEND: 'rds-iam', DB_HOST: 'db.rds.amazonaws.com', DB_USER: 'app' }, 'rds-iam'],
      [{ SECRETS_BACKEND: 'keychain', DB_PROFILE: 'prod' }, 'keychain'],
      [{ SECRETS_BACKEND: ' Vault ', ...VAULT, VAULT_PATH: 'secret/app' }, 'vault'],
    ];
    for (const [env, name] of cases) {
      const provider = createProviderFromEnv(env);
      assert.equal(provider.name, name, JSON.stringify(env));
      assert.equal(provider.describe().backend, name);
      await provider.close?.();
    }
    assert.equal(SECRETS_BACKENDS.length, 9);
  });

  test('an unknown backend lists the known ones', () => {
    assert.throws(
      () => createProviderFromEnv({ SECRETS_BACKEND: 'hashicorp' }),
      (e: SecretError) => {
        assert.equal(e.code, 'PGW_SECRET_UNKNOWN_BACKEND');
        assert.equal(e.option, 'SECRETS_BACKEND');
        for (const name of SECRETS_BACKENDS) assert.ok(e.message.includes(name), name);
        return true;
      },
    );
  });

  test('a missing setting is PGW_SECRET_CONFIG naming the variable', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ SECRETS_BACKEND: 'aws-secrets-manager' }, 'DB_SECRET_ID'],
      [{ SECRETS_BACKEND: 'aws-ssm' }, 'DB_SSM_PARAMETER'],
      [{ SECRETS_BACKEND: 'vault', VAULT_TOKEN: 'x', VAULT_PATH: 'secret/a' }, 'VAULT_ADDR'],
      [{ SECRETS_BACKEND: 'vault', VAULT_ADDR: 'https://v:8200', VAULT_PATH: 'secret/a' }, 'VAULT_TOKEN'],
      [{ SECRETS_BACKEND: 'vault', ...VAULT }, 'VAULT_PATH'],
      [{ SECRETS_BACKEND: 'vault', ...VAULT, VAULT_PATH: 'secret' }, 'VAULT_PATH'],
      [
        {
          SECRETS_BACKEND: 'vault',
          VAULT_ADDR: 'https://v:8200',
          VAULT_ROLE_ID: 'r',
          VAULT_PATH: 'secret/a',
        },
        'VAULT_SECRET_ID',
      ],
      [
        {
          SECRETS_BACKEND: 'vault',
          VAULT_ADDR: 'https://v:8200',
          VAULT_AUTH_METHOD: 'kubernetes',
          VAULT_PATH: 'secret/a',
        },
        'VAULT_K8S_ROLE',
      ],
      [
        { SECRETS_BACKEND: 'vault', ...VAULT, VAULT_AUTH_METHOD: 'ldap', VAULT_PATH: 'secret/a' },
        'VAULT_AUTH_METHOD',
      ],
      [{ SECRETS_BACKEND: 'vault', ...VAULT, VAULT_ADDR: 'ftp://v', VAULT_PATH: 'secret/a' }, 'VAULT_ADDR'],
      [{ SECRETS_BACKEND: 'vault-database', ...VAULT }, 'VAULT_DB_ROLE'],
      [{ SECRETS_BACKEND: 'rds-iam', DB_USER: 'app' }, 'DB_HOST'],
      [{ SECRETS_BACKEND: 'rds-iam', DB_HOST: 'h' }, 'DB_USER'],
      [{ SECRETS_BACKEND: 'rds-iam', DB_HOST: 'h', DB_USER: 'u', DB_PORT: 'x' }, 'DB_PORT'],
      [{ SECRETS_BACKEND: 'keychain' }, 'DB_PROFILE'],
      [{ SECRETS_BACKEND: 'keychain', DB_PROFILE: '../etc' }, 'DB_PROFILE'],
      [{ SECRETS_BACKEND: 'file' }, 'DB_PASSWORD_FILE'],
    ];
    for (const [env, variable] of cases) {
      assert.throws(
        () => createProviderFromEnv(env),
        (e: SecretError) => {
          assert.equal(e.code, 'PGW_SECRET_CONFIG', JSON.stringify(env));
          assert.equal(e.option, variable, JSON.stringify(env));
          assert.ok(e.message.includes(variable) || (e.fix ?? '').includes(variable), e.message);
          return true;
        },
      );
    }
  });

  test('dotenv follows the environment option, else APP_ENV/NODE_ENV/ENVIRONMENT', () => {
    assert.throws(() => createProviderFromEnv({ SECRETS_BACKEND: 'dotenv', NODE_ENV: 'production' }), {
      code: 'PGW_SECRET_NOT_ALLOWED',
    });
    assert.throws(
      () =>
        createProviderFromEnv(
          { SECRETS_BACKEND: 'dotenv', NODE_ENV: 'development' },
          { environment: 'production' },
        ),
      { code: 'PGW_SECRET_NOT_ALLOWED' },
    );
    assert.doesNotThrow(() =>
      createProviderFromEnv({ SECRETS_BACKEND: 'dotenv', APP_ENV: 'ci', NODE_ENV: 'production' }),
    );
    assert.doesNotThrow(() => createProviderFromEnv({ SECRETS_BACKEND: 'dotenv' }));
  });
});
