import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from './resolve.js';
import { PgwardenError } from '../errors.js';
import { createPki } from '../testing/pki.js';

const CANARY = 'canary-7f3a9c1e5b-Pw!x';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgwardenError, `expected a PgwardenError, got ${String(error)}`);
    for (const text of [
      error.message,
      String(error),
      error.stack ?? '',
      JSON.stringify(error),
      inspect(error),
    ]) {
      assert.ok(!text.includes(CANARY), 'canary leaked into an error');
    }
    return error.code;
  }
  assert.fail('expected an error');
}

describe('precedence', () => {
  test('options > DATABASE_URL > DB_* > PG* > defaults', () => {
    const env = {
      DATABASE_URL: 'postgresql://urluser@urlhost:6000/urldb',
      DB_HOST: 'dbhost',
      DB_PORT: '7000',
      DB_NAME: 'dbname',
      PGHOST: 'pghost',
      PGAPPNAME: 'from-pg',
    };
    const { config } = resolveConfig({ env, host: 'opthost', environment: 'test' });
    assert.equal(config.host, 'opthost');
    assert.equal(config.sources.host, 'options.host');
    assert.equal(config.port, 6000);
    assert.equal(config.sources.port, 'DATABASE_URL port');
    assert.equal(config.database, 'urldb');
    assert.equal(config.user, 'urluser');
    assert.equal(config.applicationName, 'from-pg');
    assert.equal(config.sources.applicationName, 'PGAPPNAME');
    assert.equal(config.pool.max, 10);
  });

  test('DB_* wins over PG*, and the database defaults to the user as in libpq', () => {
    const { config } = resolveConfig({
      env: { DB_USER: 'app', PGUSER: 'other', PGPORT: '5433' },
      environment: 'test',
    });
    assert.equal(config.user, 'app');
    assert.equal(config.database, 'app');
    assert.equal(config.port, 5433);
  });

  test('the resolved config is frozen and the password is a redacted Secret', () => {
    const { config } = resolveConfig({ env: { DB_PASSWORD: CANARY }, environment: 'test' });
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.tls) && Object.isFrozen(config.pool));
    assert.equal(config.password?.reveal(), CANARY);
    for (const text of [
      JSON.stringify(config),
      inspect(config, { depth: 5 }),
      String(config.password),
      `${config.password}`,
    ]) {
      assert.ok(!text.includes(CANARY));
    }
  });
});

describe('guideline variables', () => {
  test('takumi: DB_SSL=true validates against the system store; DB_POOL_* and timeouts in ms', () => {
    const { config } = resolveConfig({
      env: {
        DB_SSL: 'true',
        DB_SSL_REJECT_UNAUTHORIZED: 'true',
        DB_POOL_MIN: '2',
        DB_POOL_MAX: '10',
        DB_CONNECTION_TIMEOUT: '2000',
        DB_IDLE_TIMEOUT: '30000',
      },
      environment: 'test',
    });
    assert.equal(config.tls.mode, 'verify-full');
    assert.deepEqual(config.tls.rootCert, { origin: 'system' });
    assert.equal(config.pool.min, 2);
    assert.equal(config.pool.max, 10);
    assert.equal(config.pool.connectionTimeoutMs, 2000);
    assert.equal(config.pool.idleTimeoutMs, 30000);
  });

  test('takumi: DB_SSL_REJECT_UNAUTHORIZED=false means encryption without validation', () => {
    const { config } = resolveConfig({
      env: { DB_SSL: 'true', DB_SSL_REJECT_UNAUTHORIZED: 'false' },
      environment: 'development',
    });
    assert.equal(config.tls.mode, 'require');
    assert.equal(config.tls.effectiveMode, 'require');
  });

  test('frende: DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW and DATABASE_POOL_TIMEOUT in seconds', () => {
    const { config } = resolveConfig({
      env: { DATABASE_POOL_SIZE: '20', DATABASE_MAX_OVERFLOW: '30', DATABASE_POOL_TIMEOUT: '60' },
      environment: 'test',
    });
    assert.equal(config.pool.min, 20);
    assert.equal(config.pool.max, 50);
    assert.equal(config.pool.acquireTimeoutMs, 60_000);
  });

  test('PGCONNECT_TIMEOUT is seconds, as in libpq', () => {
    const { config } = resolveConfig({ env: { PGCONNECT_TIMEOUT: '3' }, environment: 'test' });
    assert.equal(config.pool.connectionTimeoutMs, 3000);
  });
});

describe('environment and defaults', () => {
  test('APP_ENV, NODE_ENV, ENVIRONMENT in that order; production defaults to verify-full', () => {
    assert.throws(
      () => resolveConfig({ env: { NODE_ENV: 'production' } }),
      (e: PgwardenError) => e.code === 'PGW_TLS_ROOT_CERT_MISSING',
    );
    const { config } = resolveConfig({ env: { ENVIRONMENT: 'production', APP_ENV: 'dev' } });
    assert.equal(config.environment, 'development');
    assert.equal(config.sources.environment, 'APP_ENV');
    assert.equal(config.tls.mode, 'prefer');
  });

  test('an unknown environment name fails closed', () => {
    assert.equal(
      code(() => resolveConfig({ env: { NODE_ENV: 'prodution' } })),
      'PGW_CONFIG_INVALID',
    );
  });

  test('sslrootcert=system implies verify-full and refuses weaker modes', () => {
    const { config } = resolveConfig({ env: { PGSSLROOTCERT: 'system' }, environment: 'test' });
    assert.equal(config.tls.mode, 'verify-full');
    assert.equal(
      code(() =>
        resolveConfig({ env: { PGSSLROOTCERT: 'system', PGSSLMODE: 'require' }, environment: 'test' }),
      ),
      'PGW_CONFIG_CONFLICT',
    );
  });
});

describe('bad input', () => {
  test('port out of range names the variable', () => {
    try {
      resolveConfig({ env: { DB_PORT: '70000' }, environment: 'test' });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof PgwardenError);
      assert.equal(error.code, 'PGW_CONFIG_INVALID');
      assert.equal(error.option, 'DB_PORT');
      assert.match(error.message, /DB_PORT/);
      assert.match(error.message, /70000/);
    }
  });

  test('unknown sslmode', () => {
    assert.equal(
      code(() => resolveConfig({ env: { PGSSLMODE: 'verify_full' }, environment: 'test' })),
      'PGW_CONFIG_INVALID',
    );
  });

  test('bad boolean', () => {
    assert.equal(
      code(() => resolveConfig({ env: { DB_SSL: 'maybe' }, environment: 'test' })),
      'PGW_CONFIG_INVALID',
    );
  });

  test('malformed URL never echoes the password', () => {
    assert.equal(
      code(() =>
        resolveConfig({
          env: { DATABASE_URL: `postgresql://u:${CANARY}@host:99999999/db` },
          environment: 'test',
        }),
      ),
      'PGW_CONFIG_URL_INVALID',
    );
    assert.equal(
      code(() => resolveConfig({ url: `mysql://u:${CANARY}@host/db`, environment: 'test' })),
      'PGW_CONFIG_URL_INVALID',
    );
    assert.equal(
      code(() => resolveConfig({ url: `postgresql://u:%ZZ${CANARY}@host/db`, environment: 'test' })),
      'PGW_CONFIG_URL_INVALID',
    );
  });

  test('a password is never echoed in schema errors', () => {
    assert.equal(
      code(() =>
        resolveConfig({
          password: 42 as unknown as string,
          env: { DB_PASSWORD: CANARY },
          environment: 'test',
        }),
      ),
      'PGW_CONFIG_INVALID',
    );
  });

  test('missing CA file, invalid PEM, verify-full without CA', () => {
    assert.equal(
      code(() => resolveConfig({ env: { DB_SSL_CA: '/nonexistent/ca.pem' }, environment: 'test' })),
      'PGW_CONFIG_FILE_UNREADABLE',
    );
    assert.equal(
      code(() =>
        resolveConfig({
          sslRootCert: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----',
          environment: 'test',
        }),
      ),
      'PGW_TLS_INVALID_PEM',
    );
    assert.equal(
      code(() =>
        resolveConfig({ sslMode: 'verify-full', env: { HOME: '/nonexistent' }, environment: 'test' }),
      ),
      'PGW_TLS_ROOT_CERT_MISSING',
    );
  });

  test('a client key readable by others is refused like libpq does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgw-key-'));
    const keyPath = join(dir, 'client.key');
    writeFileSync(keyPath, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    chmodSync(keyPath, 0o644);
    assert.equal(
      code(() => resolveConfig({ sslKey: keyPath, sslCert: undefined, environment: 'test' })),
      'PGW_TLS_KEY_PERMISSIONS',
    );
  });

  test('misspelled variables and options give coded warnings with the intended name', () => {
    const { warnings } = resolveConfig({
      env: {
        DB_SSL_REJECT_UNAUTHORISED: 'false',
        PGSSLMOD: 'disable',
        DB_APP_PASSWORD: 'x',
        DATABASE_URL: 'postgres://h/db?sslmdoe=require',
      },
      environment: 'test',
      ...({ maxx: 3 } as object),
    });
    const byOption = new Map(warnings.map((w) => [w.option, w]));
    assert.match(byOption.get('DB_SSL_REJECT_UNAUTHORISED')!.message, /DB_SSL_REJECT_UNAUTHORIZED/);
    assert.match(byOption.get('PGSSLMOD')!.message, /PGSSLMODE/);
    assert.match(byOption.get('options.maxx')!.message, /"max"/);
    assert.match(byOption.get('DATABASE_URL ?sslmdoe')!.message, /sslmode/);
    assert.ok(!byOption.has('DB_APP_PASSWORD'));
    assert.ok(warnings.every((w) => w.code === 'PGW_CONFIG_UNKNOWN_KEY'));
  });
});

describe('host lists and replicas', () => {
  test('hosts pair with ports by position; a single port applies to all; replicas take host[:port]', () => {
    const { config } = resolveConfig({
      env: {
        DB_HOST: 'db1,db2',
        DB_PORT: '6001,6002',
        DB_READ_REPLICA_HOST: 'r1,r2:7000',
        DB_FAILOVER_TIMEOUT: '5000',
      },
      environment: 'test',
    });
    assert.deepEqual(config.hosts, [
      { host: 'db1', port: 6001 },
      { host: 'db2', port: 6002 },
    ]);
    assert.equal(config.host, 'db1');
    assert.deepEqual(config.replicas.hosts, [
      { host: 'r1', port: 6001 },
      { host: 'r2', port: 7000 },
    ]);
    assert.equal(config.failoverTimeoutMs, 5000);
    assert.deepEqual(resolveConfig({ host: 'a,b', port: 7000, environment: 'test', env: {} }).config.hosts, [
      { host: 'a', port: 7000 },
      { host: 'b', port: 7000 },
    ]);
  });

  test('mismatched host and port lists, empty hosts and bad replica entries are coded errors', () => {
    assert.equal(
      code(() => resolveConfig({ env: { DB_HOST: 'a,b,c', DB_PORT: '1,2' }, environment: 'test' })),
      'PGW_CONFIG_CONFLICT',
    );
    assert.equal(
      code(() => resolveConfig({ env: { DB_HOST: 'a,,b' }, environment: 'test' })),
      'PGW_CONFIG_INVALID',
    );
    assert.equal(
      code(() => resolveConfig({ env: { DB_READ_REPLICA_HOST: 'r1:99999' }, environment: 'test' })),
      'PGW_CONFIG_INVALID',
    );
    assert.equal(
      code(() => resolveConfig({ env: { PGTARGETSESSIONATTRS: 'writable' }, environment: 'test' })),
      'PGW_CONFIG_INVALID',
    );
  });
});

describe('PGREQUIRESSL (libpq, deprecated)', () => {
  const deprecation = (warnings: readonly { code: string; option: string }[]) =>
    warnings.filter((w) => w.option === 'PGREQUIRESSL').map((w) => w.code);

  test('=1 means sslmode require when no source sets sslmode, with a deprecation warning', () => {
    const { config, warnings } = resolveConfig({ env: { PGREQUIRESSL: '1' }, environment: 'development' });
    assert.equal(config.tls.mode, 'require');
    assert.equal(config.tls.effectiveMode, 'require');
    assert.equal(config.sources.sslMode, 'PGREQUIRESSL');
    assert.deepEqual(deprecation(warnings), ['PGW_CONFIG_DEPRECATED']);
    assert.match(warnings.find((w) => w.option === 'PGREQUIRESSL')!.message, /PGSSLMODE/);
    // Without it the same environment is libpq's prefer, which may fall back to plaintext.
    assert.equal(resolveConfig({ env: {}, environment: 'development' }).config.tls.mode, 'prefer');
    assert.equal(resolveConfig({ env: {}, environment: 'test' }).config.tls.mode, 'prefer');
    assert.equal(
      resolveConfig({ env: { PGREQUIRESSL: '1' }, environment: 'test' }).config.tls.mode,
      'require',
    );
  });

  test('a value starting with 1 counts, as libpq reads only its first character', () => {
    for (const value of ['1', '10', '1yes']) {
      const { config } = resolveConfig({ env: { PGREQUIRESSL: value }, environment: 'development' });
      assert.equal(config.tls.mode, 'require', `PGREQUIRESSL=${JSON.stringify(value)}`);
    }
  });

  test('any other value is ignored, as libpq ignores it', () => {
    for (const value of ['0', '', 'yes', 'true', ' 1', '01']) {
      const { config, warnings } = resolveConfig({
        env: { PGREQUIRESSL: value },
        environment: 'development',
      });
      assert.equal(config.tls.mode, 'prefer', `PGREQUIRESSL=${JSON.stringify(value)}`);
      assert.deepEqual(deprecation(warnings), []);
    }
  });

  test('PGSSLMODE, the URL, DB_SSL and the option each win over it', () => {
    const cases: Array<[Record<string, string>, object, string, string]> = [
      [{ PGSSLMODE: 'disable' }, {}, 'disable', 'PGSSLMODE'],
      [{ PGSSLMODE: 'allow' }, {}, 'allow', 'PGSSLMODE'],
      [{ DATABASE_URL: 'postgresql://h/db?sslmode=prefer' }, {}, 'prefer', 'DATABASE_URL ?sslmode'],
      [{}, { url: 'postgresql://h/db?sslmode=disable' }, 'disable', 'url ?sslmode'],
      [{ DB_SSL: 'false' }, {}, 'disable', 'DB_SSL'],
      [{}, { sslMode: 'disable' }, 'disable', 'options.sslMode'],
    ];
    for (const [env, options, mode, origin] of cases) {
      const { config } = resolveConfig({
        env: { PGREQUIRESSL: '1', ...env },
        environment: 'development',
        ...options,
      });
      assert.equal(config.tls.mode, mode, JSON.stringify({ env, options }));
      assert.equal(config.sources.sslMode, origin);
    }
  });

  test("never lowers production's verify-full default", async () => {
    const pki = await createPki();
    for (const environment of ['production', 'staging'] as const) {
      const { config } = resolveConfig({
        env: { PGREQUIRESSL: '1' },
        environment,
        sslRootCert: pki.ca.certPem,
      });
      assert.equal(config.tls.mode, 'verify-full', environment);
      assert.equal(config.tls.effectiveMode, 'verify-full');
      assert.equal(config.sources.sslMode, `default for ${environment}`);
    }
    // Read from the environment too; and without a CA production still refuses rather than settle for require.
    const fromEnv = resolveConfig({
      env: { PGREQUIRESSL: '1', NODE_ENV: 'production', PGSSLROOTCERT: 'system' },
    });
    assert.equal(fromEnv.config.tls.mode, 'verify-full');
    assert.equal(
      code(() => resolveConfig({ env: { PGREQUIRESSL: '1', NODE_ENV: 'production', HOME: '/nonexistent' } })),
      'PGW_TLS_ROOT_CERT_MISSING',
    );
  });

  test('with a root certificate, require is verify-ca as in libpq', async () => {
    const pki = await createPki();
    const { config } = resolveConfig({
      env: { PGREQUIRESSL: '1' },
      environment: 'development',
      sslRootCert: pki.ca.certPem,
    });
    assert.equal(config.tls.mode, 'require');
    assert.equal(config.tls.effectiveMode, 'verify-ca');
  });
});
