import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import {
  assertNoCanary,
  canary,
  createPki,
  encryptClientKey,
  startCluster,
  type Cluster,
  type Pki,
} from '../support/index.js';

interface SslRow {
  ssl: boolean;
  version: string;
  user: string;
  client_dn: string | null;
}

/** Connects over TLS and reports what pg_stat_ssl says about the connection. */
async function tlsSession(
  cluster: Cluster,
  user: string,
  ssl: ConnectionOptions,
  options: { host?: string; password?: string } = {},
): Promise<SslRow> {
  const client = new pg.Client({
    host: options.host ?? cluster.host,
    port: cluster.port,
    user,
    password: options.password,
    database: 'postgres',
    ssl,
  });
  await client.connect();
  try {
    const { rows } = await client.query<SslRow>(
      'SELECT ssl, version, current_user AS user, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    assert.ok(rows[0]);
    return rows[0];
  } finally {
    await client.end();
  }
}

describe('a TLS cluster', () => {
  let pki: Pki;
  let cluster: Cluster;
  const password = canary();

  before(async () => {
    pki = await createPki({ clientRoles: ['app'] });
    cluster = await startCluster({
      tls: { pki },
      hba: [
        'hostssl all app 127.0.0.1/32 cert clientcert=verify-full',
        'hostssl all all 127.0.0.1/32 scram-sha-256',
        'hostssl all all ::1/128 scram-sha-256',
      ],
    });
    await cluster.createRole('app');
    await cluster.createRole('web', { password });
  });
  after(() => cluster?.stop());

  test('accepts a verifying client at 127.0.0.1 and at localhost', async () => {
    const verifyFull = { ca: pki.ca.certPem, rejectUnauthorized: true };
    const byIp = await tlsSession(cluster, 'web', verifyFull, { password });
    assert.equal(byIp.ssl, true);
    assert.match(byIp.version, /^TLSv1\.[23]$/);
    // A host name makes pg send SNI and Node check the DNS name instead of the IP address.
    const byName = await tlsSession(
      cluster,
      'web',
      { ...verifyFull, servername: 'localhost' },
      { host: 'localhost', password },
    );
    assert.equal(byName.ssl, true);
  });

  test('a server certificate that is expired, untrusted or for another host is refused by Node', async () => {
    const cases = [
      { certificate: 'expired', codes: ['CERT_HAS_EXPIRED'] },
      {
        certificate: 'untrustedServer',
        codes: ['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      },
      { certificate: 'wrongHost', codes: ['ERR_TLS_CERT_ALTNAME_INVALID'] },
    ] as const;
    try {
      for (const { certificate, codes } of cases) {
        await cluster.setTls({ pki, certificate });
        await assert.rejects(
          tlsSession(cluster, 'web', { ca: pki.ca.certPem, rejectUnauthorized: true }, { password }),
          (error: NodeJS.ErrnoException) => {
            assert.ok(
              codes.includes(error.code as never),
              `${certificate}: got ${error.code}: ${error.message}`,
            );
            return true;
          },
        );
      }
    } finally {
      await cluster.setTls({ pki });
    }
    assert.equal((await tlsSession(cluster, 'web', { ca: pki.ca.certPem }, { password })).ssl, true);
  });

  test('client-certificate authentication works with the PKI client certificate', async () => {
    const { certPem, keyPem } = pki.client('app');
    const session = await tlsSession(cluster, 'app', { ca: pki.ca.certPem, cert: certPem, key: keyPem });
    assert.equal(session.user, 'app');
    assert.match(session.client_dn ?? '', /CN=app/);
  });

  test('an encrypted client key works with its passphrase', async () => {
    const passphrase = canary();
    const { certPem, keyPem } = pki.client('app');
    const encrypted = encryptClientKey(keyPem, passphrase);
    assert.match(encrypted, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const session = await tlsSession(cluster, 'app', {
      ca: pki.ca.certPem,
      cert: certPem,
      key: encrypted,
      passphrase,
    });
    assert.equal(session.user, 'app');
  });

  test('the cert rule refuses a missing certificate and one issued to another role', async () => {
    await assert.rejects(tlsSession(cluster, 'app', { ca: pki.ca.certPem }), { code: '28000' });
    const other = await pki.issueClient('someone_else');
    await assert.rejects(
      tlsSession(cluster, 'app', { ca: pki.ca.certPem, cert: other.certPem, key: other.keyPem }),
      {
        code: '28000',
      },
    );
    assert.match(cluster.readLog(), /certificate authentication failed for user "app"/);
    assertNoCanary(cluster.readLog(), password);
  });
});
