// After an authentication failure the pool asks its secrets backend again,
// once for every connection rejected at the same time, and reads the
// backend's previous version at most once per rotation (issue 12: each new
// connection re-fetched and called the uncached fetchPrevious up to 3 times,
// and with vault-database each invalidate() took a new lease). A counting
// provider against a real cluster whose password changed on the server only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool, PgwardenError, type CreatePoolOptions, type WardenPool } from '../../src/index.js';
import { Secret } from '../../src/redact/secret.js';
import type { Credentials, SecretProvider } from '../../src/secrets/provider.js';
import {
  assertErrorHasNoSecret,
  assertNoCanary,
  canary,
  startCluster,
  type Cluster,
  recordingLogger,
} from '../support/index.js';

/** Connections opened at once in each wave; more than one, so sharing shows. */
const N = 8;

let cluster: Cluster;
const secrets: string[] = [];
const { lines: logLines, logger } = recordingLogger();

function newPassword(): string {
  const value = canary();
  secrets.push(value);
  return value;
}

before(async () => {
  cluster = await startCluster({ conf: { max_connections: 60 } });
});

after(async () => {
  await cluster?.stop();
  for (const value of secrets) assertNoCanary(logLines.join('\n'), value);
});

/** A provider that counts every call the pool makes to it. */
class CountingProvider implements SecretProvider {
  readonly name = 'counting';
  fetches = 0;
  previousFetches = 0;
  invalidations = 0;
  constructor(
    public current: { user: string; password: string },
    public previous: { user: string; password: string } | undefined,
    /** Like vault-database: invalidate() drops the lease, and the next fetch takes a new one. */
    readonly onInvalidate?: (provider: CountingProvider) => void,
  ) {}

  async fetch(): Promise<Credentials> {
    this.fetches += 1;
    return { user: this.current.user, password: new Secret(this.current.password) };
  }

  async fetchPrevious(): Promise<Credentials | undefined> {
    this.previousFetches += 1;
    return this.previous && { user: this.previous.user, password: new Secret(this.previous.password) };
  }

  invalidate(): void {
    this.invalidations += 1;
    this.onInvalidate?.(this);
  }

  describe() {
    return { backend: 'counting' };
  }

  counts() {
    return { fetches: this.fetches, previous: this.previousFetches, invalidations: this.invalidations };
  }
}

function options(provider: SecretProvider, extra: CreatePoolOptions = {}): CreatePoolOptions {
  return {
    env: {},
    environment: 'test',
    host: cluster.host,
    port: cluster.port,
    database: 'postgres',
    sslMode: 'disable',
    logger,
    secrets: provider,
    max: 2 * N,
    // Long: every fetch counted below is one the pool asked for after a failure.
    secretsCache: { ttlMs: 600_000 },
    ...extra,
  };
}

/** N new connections at once (idle ones are taken first and counted apart); their failures. */
async function wave(pool: WardenPool): Promise<PgwardenError[]> {
  const idle = pool.idleCount;
  const settled = await Promise.allSettled(Array.from({ length: N + idle }, () => pool.connect()));
  const failures: PgwardenError[] = [];
  for (const result of settled) {
    if (result.status === 'fulfilled') result.value.release();
    else failures.push(result.reason as PgwardenError);
  }
  assert.equal(settled.length - failures.length, idle, 'only the idle connections may succeed');
  for (const error of failures) {
    assert.ok(error instanceof PgwardenError, String(error));
    assert.equal(error.pgwardenCode, 'PGW_CONN_AUTH_FAILED', error.message);
    assertErrorHasNoSecret(error, secrets);
  }
  return failures;
}

const delta = (
  after: ReturnType<CountingProvider['counts']>,
  before: ReturnType<CountingProvider['counts']>,
) => ({
  fetches: after.fetches - before.fetches,
  previous: after.previous - before.previous,
  invalidations: after.invalidations - before.invalidations,
});

describe('recovery after an authentication failure', () => {
  test(`${N} connections rejected at once share one re-fetch and one read of the previous version`, async () => {
    const password = newPassword();
    await cluster.createRole('rec_app', { password });
    const provider = new CountingProvider(
      { user: 'rec_app', password },
      // The previous version is wrong too: nothing the backend has works.
      { user: 'rec_app', password: newPassword() },
    );
    const pool = await createPool(options(provider));
    try {
      assert.deepEqual(provider.counts(), { fetches: 1, previous: 0, invalidations: 0 });
      // The password changes on the server only: the backend still hands out the old one.
      const changed = newPassword();
      await cluster.adminQuery(`ALTER ROLE rec_app PASSWORD '${changed}'`);

      let before = provider.counts();
      assert.equal((await wave(pool)).length, N);
      // Before: up to 3 re-fetches and 3 reads of the previous version per connection.
      assert.deepEqual(delta(provider.counts(), before), { fetches: 1, previous: 1, invalidations: 1 });

      // A second wave costs at most one more fetch (once the first recovery's hold has passed),
      // and never another read of the previous version: no rotation happened.
      before = provider.counts();
      assert.equal((await wave(pool)).length, N);
      const second = delta(provider.counts(), before);
      assert.ok(second.fetches <= 1 && second.invalidations <= 1, JSON.stringify(second));
      assert.equal(second.previous, 0);

      // The backend learns the new password: the pool follows it, without reading the previous version.
      provider.current = { user: 'rec_app', password: changed };
      // Drop the connections opened before the change, so the pool must open (and log in) a new one.
      const opened = await Promise.all(Array.from({ length: pool.idleCount }, () => pool.connect()));
      for (const client of opened) client.release(true);
      assert.equal(pool.totalCount, 0);
      before = provider.counts();
      let connected = false;
      for (let attempt = 0; attempt < 200 && !connected; attempt++) {
        try {
          (await pool.connect()).release(true);
          connected = true;
        } catch (error) {
          assert.equal((error as PgwardenError).pgwardenCode, 'PGW_CONN_AUTH_FAILED');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert.ok(connected, 'the pool never picked up the password the backend now has');
      const third = delta(provider.counts(), before);
      assert.ok(third.fetches >= 1 && third.fetches <= 3, JSON.stringify(third));
      assert.equal(third.previous, 0);
      assert.equal((await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u, 'rec_app');
    } finally {
      await pool.close();
    }
  });

  test('the previous version is used when it is the one the server knows, by every rejected connection', async () => {
    const password = newPassword();
    await cluster.createRole('rec_prev', { password });
    const rotated = newPassword();
    // A rotation half done: the backend's current version is new, the server still knows the previous one.
    const provider = new CountingProvider(
      { user: 'rec_prev', password: rotated },
      { user: 'rec_prev', password },
    );
    const pool = await createPool(options(provider));
    try {
      // Startup: the current version was rejected, re-fetched once, and the previous one read once.
      assert.deepEqual(provider.counts(), { fetches: 2, previous: 1, invalidations: 1 });
      const before = provider.counts();
      const idle = pool.idleCount;
      const clients = await Promise.all(Array.from({ length: N + idle }, () => pool.connect()));
      for (const client of clients) client.release();
      assert.equal(pool.totalCount, N + idle);
      // Every one was rejected with the current version first, then logged in with the previous one
      // that the startup's recovery read: at most one more fetch, and no second read of the previous version.
      const spent = delta(provider.counts(), before);
      assert.ok(spent.fetches <= 1, JSON.stringify(spent));
      assert.equal(spent.previous, 0, JSON.stringify(spent));
      for (const client of clients)
        assert.equal((client as unknown as { connectedUser: string }).connectedUser, 'rec_prev');
    } finally {
      await pool.close();
    }
  });

  test('vault-database-like: a wave of rejected connections takes one new lease, not one per connection', async () => {
    const password = newPassword();
    await cluster.createRole('rec_lease_0', { password });
    let leases = 0;
    // Each invalidate() drops the lease; the next fetch gets a new role, which the server does not know.
    const provider = new CountingProvider({ user: 'rec_lease_0', password }, undefined, (p) => {
      leases += 1;
      p.current = { user: `rec_lease_${leases}`, password: newPassword() };
    });
    const pool = await createPool(options(provider));
    try {
      await cluster.adminQuery(`ALTER ROLE rec_lease_0 PASSWORD '${newPassword()}'`);
      assert.equal((await wave(pool)).length, N);
      assert.equal(leases, 1, `${leases} leases taken for ${N} rejected connections`);
      assert.equal(provider.previousFetches, 0, 'fresh credentials differed: no previous version needed');
    } finally {
      await pool.close();
    }
  });
});
