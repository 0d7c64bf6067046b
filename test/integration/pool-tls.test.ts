// libpq-exact sslmode against real TLS clusters: every mode, every bad
// certificate, client certificates and channel binding.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, PgwardenError, type CreatePoolOptions, type WardenPool } from '../../src/index.js';
import {
  canary,
  assertNoCanary,
  createPki,
  encryptClientKey,
  startCluster,
  type Cluster,
  type Pki,
  type PkiFiles,
} from '../support/index.js';

let pki: Pki;
let files: PkiFiles;
let tlsCluster: Cluster;
let plainCluster: Cluster;
let dir: string;
const password = canary();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgw-tls-'));
  pki = await createPki({ clientRoles: ['certuser'] });
  files = pki.writeFiles(join(dir, 'pki'));
  const hba = [
    'hostssl all certuser 127.0.0.1/32 cert',
    'hostssl all md5user 127.0.0.1/32 md5',
    'hostssl all trustuser 127.0.0.1/32 trust',
    'hostssl all sslonly 127.0.0.1/32 scram-sha-256',
    'hostnossl all sslonly 127.0.0.1/32 reject',
    'host all all 127.0.0.1/32 scram-sha-256',
  ];
  [tlsCluster, plainCluster] = await Promise.all([startCluster({ tls: { pki }, hba }), startCluster({})]);
  for (const cluster of [tlsCluster, plainCluster]) {
    await cluster.createRole('app', { password });
    await cluster.createRole('sslonly', { password });
  }
  await tlsCluster.createRole('certuser');
  await tlsCluster.createRole('trustuser');
  await tlsCluster.adminQuery(
    `SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD '${password}'`,
  );
});

after(async () => {
  await Promise.all([tlsCluster?.stop(), plainCluster?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function options(cluster: Cluster, extra: CreatePoolOptions): CreatePoolOptions {
  return {
    env: {},
    environment: 'test',
    host: '127.0.0.1',
    port: cluster.port,
    database: 'postgres',
    user: 'app',
    password,
    ...extra,
  };
}

async function withPool<T>(opts: CreatePoolOptions, fn: (pool: WardenPool) => Promise<T>): Promise<T> {
  const pool = await createPool(opts);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

async function sessionIsTls(pool: WardenPool): Promise<boolean> {
  const { rows } = await pool.query<{ ssl: boolean }>(
    'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
  );
  return rows[0]!.ssl;
}

async function failure(opts: CreatePoolOptions): Promise<PgwardenError> {
  try {
    const pool = await createPool(opts);
    await pool.close();
  } catch (error) {
    assert.ok(error instanceof PgwardenError, `expected a PgwardenError, got ${String(error)}`);
    assertNoCanary(
      `${error.message}\n${error.stack}\n${JSON.stringify(error)}\n${String(error.cause)}`,
      password,
    );
    return error;
  }
  assert.fail('expected the pool to refuse');
}

describe('sslmode semantics', () => {
  test('verify-full with the CA: TLS 1.2+ and the server certificate is reported', async () => {
    await withPool(
      options(tlsCluster, { sslMode: 'verify-full', sslRootCert: files.caCertPath }),
      async (pool) => {
        assert.equal(await sessionIsTls(pool), true);
        assert.match(pool.startup!.tls!.protocol!, /^TLSv1\.[23]$/);
        assert.match(pool.startup!.tls!.certificate!.subject, /CN=localhost/);
      },
    );
  });

  test('disable: plaintext even when the server offers TLS', async () => {
    await withPool(options(tlsCluster, { sslMode: 'disable' }), async (pool) =>
      assert.equal(await sessionIsTls(pool), false),
    );
  });

  test('prefer: TLS when offered, plaintext when the server has none', async () => {
    await withPool(options(tlsCluster, { sslMode: 'prefer' }), async (pool) =>
      assert.equal(await sessionIsTls(pool), true),
    );
    await withPool(options(plainCluster, { sslMode: 'prefer' }), async (pool) =>
      assert.equal(await sessionIsTls(pool), false),
    );
  });

  test('allow: plaintext first, TLS when pg_hba.conf insists', async () => {
    await withPool(options(tlsCluster, { sslMode: 'allow' }), async (pool) =>
      assert.equal(await sessionIsTls(pool), false),
    );
    await withPool(options(tlsCluster, { sslMode: 'allow', user: 'sslonly' }), async (pool) =>
      assert.equal(await sessionIsTls(pool), true),
    );
  });

  test('require without a root certificate encrypts but does not verify', async () => {
    await tlsCluster.setTls({ pki, certificate: 'untrustedServer' });
    try {
      await withPool(options(tlsCluster, { sslMode: 'require' }), async (pool) =>
        assert.equal(await sessionIsTls(pool), true),
      );
      // libpq: require with a root certificate behaves as verify-ca.
      const error = await failure(options(tlsCluster, { sslMode: 'require', sslRootCert: files.caCertPath }));
      assert.equal(error.code, 'PGW_TLS_CERT_UNTRUSTED');
    } finally {
      await tlsCluster.setTls({ pki, certificate: 'server' });
    }
  });

  test('require never falls back to plaintext', async () => {
    assert.equal(
      (await failure(options(plainCluster, { sslMode: 'require' }))).code,
      'PGW_TLS_SERVER_NO_SSL',
    );
  });

  test('verify-ca accepts a wrong host name, verify-full refuses it unless sslServerName names it', async () => {
    await tlsCluster.setTls({ pki, certificate: 'wrongHost' });
    try {
      await withPool(
        options(tlsCluster, { sslMode: 'verify-ca', sslRootCert: files.caCertPath }),
        async (pool) => assert.equal(await sessionIsTls(pool), true),
      );
      const error = await failure(
        options(tlsCluster, { sslMode: 'verify-full', sslRootCert: files.caCertPath }),
      );
      assert.equal(error.code, 'PGW_TLS_HOSTNAME_MISMATCH');
      assert.equal(error.option, 'host');
      await withPool(
        options(tlsCluster, {
          sslMode: 'verify-full',
          sslRootCert: files.caCertPath,
          sslServerName: 'wrong.example.invalid',
        }),
        async (pool) => assert.equal(await sessionIsTls(pool), true),
      );
    } finally {
      await tlsCluster.setTls({ pki, certificate: 'server' });
    }
  });

  test('expired and untrusted certificates are refused with distinct codes', async () => {
    for (const [certificate, code] of [
      ['expired', 'PGW_TLS_CERT_EXPIRED'],
      ['untrustedServer', 'PGW_TLS_CERT_UNTRUSTED'],
    ] as const) {
      await tlsCluster.setTls({ pki, certificate });
      try {
        const error = await failure(
          options(tlsCluster, { sslMode: 'verify-full', sslRootCert: files.caCertPath }),
        );
        assert.equal(error.code, code);
        assert.match(error.message, /Fix:/);
      } finally {
        await tlsCluster.setTls({ pki, certificate: 'server' });
      }
    }
  });

  test('verify-full against a server without TLS', async () => {
    const error = await failure(
      options(plainCluster, { sslMode: 'verify-full', sslRootCert: files.caCertPath }),
    );
    assert.equal(error.code, 'PGW_TLS_SERVER_NO_SSL');
  });

  test('sslnegotiation=direct is passed through; a PostgreSQL 15 server cannot do it, and the error says so', async () => {
    const error = await failure(
      options(tlsCluster, {
        sslMode: 'verify-full',
        sslRootCert: files.caCertPath,
        sslNegotiation: 'direct',
      }),
    );
    assert.equal(error.code, 'PGW_TLS_HANDSHAKE');
    assert.equal(error.option, 'sslNegotiation');
    assert.match(error.message, /PostgreSQL 17/);
  });

  test('TLS minimum version is enforced by the client', async () => {
    await withPool(
      options(tlsCluster, {
        sslMode: 'verify-full',
        sslRootCert: files.caCertPath,
        sslMinVersion: 'TLSv1.3',
      }),
      async (pool) => assert.equal(pool.startup!.tls!.protocol, 'TLSv1.3'),
    );
  });
});

describe('client certificates', () => {
  test('mutual TLS with cert authentication, from files', async () => {
    const client = files.clients.certuser!;
    await withPool(
      options(tlsCluster, {
        user: 'certuser',
        password: undefined,
        sslMode: 'verify-full',
        sslRootCert: files.caCertPath,
        sslCert: client.certPath,
        sslKey: client.keyPath,
      }),
      async (pool) => {
        const { rows } = await pool.query<{ u: string }>('SELECT current_user AS u');
        assert.equal(rows[0]!.u, 'certuser');
      },
    );
  });

  test('an encrypted key with its passphrase works; a wrong one is a coded error', async () => {
    const passphrase = canary();
    const encrypted = encryptClientKey(pki.client('certuser').keyPem, passphrase);
    const base = options(tlsCluster, {
      user: 'certuser',
      password: undefined,
      sslMode: 'verify-full',
      sslRootCert: pki.ca.certPem,
      sslCert: pki.client('certuser').certPem,
      sslKey: encrypted,
    });
    await withPool({ ...base, sslKeyPassphrase: passphrase }, async (pool) =>
      assert.equal(await sessionIsTls(pool), true),
    );
    const wrong = await failure({ ...base, sslKeyPassphrase: 'not-the-passphrase-at-all' });
    assert.equal(wrong.code, 'PGW_TLS_KEY_PASSPHRASE');
    assertNoCanary(wrong.message, passphrase);
    assert.equal((await failure(base)).code, 'PGW_TLS_KEY_PASSPHRASE');
  });
});

describe('channel binding', () => {
  const secure = () => ({
    sslMode: 'verify-full' as const,
    sslRootCert: files.caCertPath,
    channelBinding: 'require' as const,
  });

  test('require uses SCRAM-SHA-256-PLUS over TLS', async () => {
    await withPool(options(tlsCluster, secure()), async (pool) => {
      const client = await pool.connect();
      try {
        assert.equal((client as unknown as { authMechanism: string }).authMechanism, 'SCRAM-SHA-256-PLUS');
      } finally {
        client.release();
      }
    });
  });

  test('require refuses md5 and trust servers before any password is sent', async () => {
    assert.equal(
      (await failure(options(tlsCluster, { ...secure(), user: 'md5user' }))).code,
      'PGW_TLS_CHANNEL_BINDING',
    );
    assert.equal(
      (await failure(options(tlsCluster, { ...secure(), user: 'trustuser' }))).code,
      'PGW_TLS_CHANNEL_BINDING',
    );
  });
});
