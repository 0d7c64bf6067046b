// Startup: bad input gives coded errors that never carry the password; the
// production policy refuses (listing every violation) and warns elsewhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import {
  createPool,
  PgwardenError,
  PolicyError,
  WardenPool,
  type CreatePoolOptions,
} from '../../src/index.js';
import {
  assertNoCanary,
  canary,
  createPki,
  findFreePort,
  isProcessAlive,
  startCluster,
  waitForProcessExit,
  type Cluster,
  type Pki,
  recordingLogger,
} from '../support/index.js';

let cluster: Cluster;
let pki: Pki;
const password = canary();
const { lines: logLines, logger } = recordingLogger();
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);

before(async () => {
  pki = await createPki();
  cluster = await startCluster({
    tls: { pki },
    // The backend's pid on every line, to find the one serving a given attempt;
    // a long authentication_timeout, so a client that kept its socket open would be seen.
    conf: { log_connections: true, log_line_prefix: '%m [%p] ', authentication_timeout: '10min' },
    hba: [
      // What the server asks for without a password: md5 and cleartext, for two roles of their own.
      'hostssl all md5_user 127.0.0.1/32 md5',
      'hostssl all plain_user 127.0.0.1/32 password',
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
    ],
  });
  await cluster.createRole('app', { password });
  await cluster.createRole('plain_user');
  await cluster.createRole('md5_user');
  // An md5 verifier, so md5 is what the server asks for (a SCRAM one would make it ask SCRAM).
  const md5 = createHash('md5').update(`${password}md5_user`).digest('hex');
  await cluster.adminQuery(`ALTER ROLE md5_user PASSWORD 'md5${md5}'`);
  await cluster.createRole('boss', { password, attributes: 'LOGIN SUPERUSER CREATEDB' });
  process.on('warning', onWarning);
});

after(async () => {
  process.off('warning', onWarning);
  await cluster?.stop();
  // Nothing any test did may have put the password in a log line or a warning.
  assertNoCanary(logLines.join('\n'), password);
  assertNoCanary(warnings.map((w) => `${w.message} ${w.stack}`).join('\n'), password);
});

const base = (extra: CreatePoolOptions = {}): CreatePoolOptions => ({
  env: {},
  environment: 'test',
  host: '127.0.0.1',
  port: cluster.port,
  database: 'postgres',
  user: 'app',
  password,
  sslMode: 'verify-full',
  sslRootCert: pki.ca.certPem,
  logger,
  ...extra,
});

async function refusal(options: CreatePoolOptions): Promise<PgwardenError> {
  try {
    const pool = await createPool(options);
    await pool.close();
  } catch (error) {
    assert.ok(error instanceof PgwardenError, `not coded: ${String(error)}`);
    const json = JSON.stringify(error);
    assert.equal(JSON.parse(json).code, error.code);
    for (const text of [
      error.message,
      error.stack ?? '',
      json,
      inspect(error, { depth: 6 }),
      String(error.cause ?? ''),
    ]) {
      assertNoCanary(text, password);
    }
    assert.match(error.message, /Fix:|violation/);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('bad input gives coded errors naming the option', () => {
  test('wrong password', async () => {
    const error = await refusal(base({ password: `${password}-wrong` }));
    assert.equal(error.code, 'PGW_CONN_AUTH_FAILED');
    assert.equal(error.option, 'password');
  });

  test('unknown database', async () => {
    const error = await refusal(base({ database: 'nope_db' }));
    assert.equal(error.code, 'PGW_CONN_DATABASE_NOT_FOUND');
    assert.equal(error.option, 'database');
  });

  test('unknown role', async () => {
    assert.equal((await refusal(base({ user: 'ghost' }))).code, 'PGW_CONN_AUTH_FAILED');
  });

  test('nothing listening', async () => {
    const error = await refusal(base({ port: await findFreePort() }));
    assert.equal(error.code, 'PGW_CONN_REFUSED');
  });

  test('host that does not resolve', async () => {
    const error = await refusal(base({ host: 'no-such-host.invalid', sslServerName: 'localhost' }));
    assert.equal(error.code, 'PGW_CONN_HOST_NOT_FOUND');
  });

  test('malformed URL, port out of range, unknown sslmode, missing CA', async () => {
    assert.equal(
      (await refusal(base({ url: `postgresql://app:${password}@127.0.0.1:notaport/db` }))).code,
      'PGW_CONFIG_URL_INVALID',
    );
    assert.equal((await refusal(base({ port: 0 }))).code, 'PGW_CONFIG_INVALID');
    assert.equal((await refusal(base({ sslMode: 'verify' as never }))).code, 'PGW_CONFIG_INVALID');
    assert.equal(
      (await refusal(base({ sslRootCert: '/nonexistent/root.crt' }))).code,
      'PGW_CONFIG_FILE_UNREADABLE',
    );
  });

  test('a password carried in DATABASE_URL is never echoed', async () => {
    const url = `postgresql://app:${encodeURIComponent(password)}x@127.0.0.1:${cluster.port}/postgres?sslmode=verify-full`;
    const error = await refusal({
      ...base(),
      password: undefined,
      user: undefined,
      env: { DATABASE_URL: url, PGSSLROOTCERT: 'system' },
    });
    assert.ok(['PGW_CONN_AUTH_FAILED', 'PGW_TLS_CERT_UNTRUSTED'].includes(error.code));
  });
});

describe('production policy', () => {
  test('refuses an insecure config before connecting and lists every violation', async () => {
    const logBefore = cluster.readLog().length;
    const error = await refusal(
      base({ environment: 'production', sslMode: 'disable', password: 'postgres' }),
    );
    assert.ok(error instanceof PolicyError);
    assert.equal(error.code, 'PGW_POLICY_VIOLATION');
    assert.deepEqual(error.violations.map((v) => v.code).sort(), [
      'PGW_POLICY_TLS_DISABLED',
      'PGW_POLICY_WEAK_PASSWORD',
    ]);
    for (const v of error.violations) {
      assert.ok(v.option.length > 0 && v.fix.length > 0);
      assert.ok(error.message.includes(v.code));
    }
    // Fail closed: not even a connection attempt reached the server.
    assert.doesNotMatch(cluster.readLog().slice(logBefore), /connection authorized: user=app/);
  });

  test('certificate validation off is refused in production', async () => {
    const error = (await refusal({
      ...base({ environment: 'production', sslMode: undefined, sslRootCert: undefined }),
      env: { DB_SSL: 'true', DB_SSL_REJECT_UNAUTHORIZED: 'false' },
    })) as PolicyError;
    assert.deepEqual(
      error.violations.map((v) => v.code),
      ['PGW_POLICY_CERT_VALIDATION_DISABLED'],
    );
    assert.equal(error.violations[0]!.option, 'DB_SSL_REJECT_UNAUTHORIZED');
  });

  test('a superuser application role is refused after the first connection', async () => {
    const error = (await refusal(base({ environment: 'production', user: 'boss' }))) as PolicyError;
    assert.deepEqual(
      error.violations.map((v) => v.code),
      ['PGW_POLICY_PRIVILEGED_ROLE'],
    );
    assert.match(error.message, /SUPERUSER, CREATEDB/);
  });

  test('the strict profile refuses a plaintext environment password', async () => {
    const error = (await refusal({
      ...base({ environment: 'production', policy: 'strict', password: undefined }),
      env: { DB_PASSWORD: password },
    })) as PolicyError;
    assert.deepEqual(
      error.violations.map((v) => v.code),
      ['PGW_POLICY_PASSWORD_PLAINTEXT_ENV'],
    );
  });

  test('a compliant production config starts', async () => {
    const pool = await createPool(base({ environment: 'production' }));
    try {
      assert.deepEqual(pool.startup!.violations, []);
      assert.equal(pool.startup!.role!.name, 'app');
    } finally {
      await pool.close();
    }
  });

  test('outside production the same violations are coded warnings', async () => {
    warnings.length = 0;
    const pool = await createPool(base({ environment: 'development', sslMode: 'prefer', user: 'boss' }));
    await pool.close();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    const codes = warnings.map((w) => (w as Error & { code?: string }).code).sort();
    assert.deepEqual(codes, ['PGW_POLICY_PRIVILEGED_ROLE', 'PGW_POLICY_TLS_DISABLED']);
    assert.ok(warnings.every((w) => w.name === 'PgwardenWarning'));
  });
});

describe('a password the server asks for and nobody gave (issue 12, item 4)', () => {
  /** Pids of the backends that accepted a connection since `offset` in the server log. */
  function backendsSince(offset: number): number[] {
    const lines = cluster.readLog().slice(offset);
    return [...lines.matchAll(/\[(\d+)\] LOG: {2}connection received: host=127\.0\.0\.1/g)].map((m) =>
      Number(m[1]),
    );
  }

  test('PGW_CONN_PASSWORD_MISSING at once, naming the sources, and the server sees the socket closed', async () => {
    const offset = cluster.readLog().length;
    // env: {} — no PGPASSWORD, no HOME, so no ~/.pgpass either: nothing gives a password.
    // The connect timeout is far away: an error before it is not a timeout.
    const error = await refusal(base({ password: undefined, connectionTimeoutMs: 300_000 }));
    assert.equal(error.code, 'PGW_CONN_PASSWORD_MISSING');
    assert.equal(error.option, 'password');
    assert.match(error.message, /user "app"/);
    for (const source of ['SECRETS_BACKEND', 'DB_PASSWORD', 'PGPASSWORD', 'URL', '.pgpass', 'PGPASSFILE']) {
      assert.ok(error.fix!.includes(source), `the fix does not name ${source}: ${error.fix}`);
    }
    // One connection reached the server, and its backend ended: the client closed
    // the socket. Left open, the backend would wait for authentication_timeout (10 min).
    const backends = backendsSince(offset);
    assert.equal(backends.length, 1, cluster.readLog().slice(offset));
    assert.ok(await waitForProcessExit(backends[0]!, 30_000), 'the backend still waits for a password');
    assert.ok(!isProcessAlive(backends[0]!));
    assert.doesNotMatch(cluster.readLog().slice(offset), /authentication timeout|connection authorized/);
  });

  test('the same from pool.ready() of a pool built synchronously, when the server asks SCRAM, md5 or cleartext', async () => {
    for (const [user, mechanism] of [
      ['app', 'SCRAM-SHA-256'],
      ['md5_user', 'md5'],
      ['plain_user', 'password'],
    ] as const) {
      const offset = cluster.readLog().length;
      const pool = new WardenPool(base({ user, password: undefined, connectionTimeoutMs: 300_000 }));
      try {
        await assert.rejects(pool.ready(), (e: PgwardenError) => {
          assert.equal(e.pgwardenCode, 'PGW_CONN_PASSWORD_MISSING', `${mechanism}: ${e.message}`);
          assert.match(e.message, new RegExp(`user "${user}"`));
          return true;
        });
      } finally {
        await pool.close();
      }
      const backends = backendsSince(offset);
      assert.equal(backends.length, 1, `${mechanism}: ${cluster.readLog().slice(offset)}`);
      assert.ok(await waitForProcessExit(backends[0]!, 30_000), `${mechanism}: the backend still waits`);
    }
  });
});
