// Shared setup of the integration tests (integrations-*.test.ts): one
// throwaway TLS cluster per file that accepts only TLS with SCRAM, a role
// with a canary password, a table with a unique column, and the checks that
// prove a library talks through the pgwarden pool it was handed, not through
// a pool of its own.
import assert from 'node:assert/strict';
import { createPool, type CreatePoolOptions, type WardenPool } from '../../src/index.js';
import { canary, createPki, startCluster, type Cluster, type Pki } from '../support/index.js';

export interface IntegrationFixture {
  readonly cluster: Cluster;
  readonly pki: Pki;
  readonly password: string;
  /** pgwarden options for the `app` role over verify-full TLS, tagged with `applicationName`. */
  options(applicationName: string, extra?: CreatePoolOptions): CreatePoolOptions;
  /** `createPool(options(applicationName, extra))`. */
  pool(applicationName: string, extra?: CreatePoolOptions): Promise<WardenPool>;
  stop(): Promise<void>;
}

/** The role the libraries connect as: no superuser, no CREATEROLE, no CREATEDB. */
export const APP_ROLE = 'app';

export async function startIntegrationCluster(): Promise<IntegrationFixture> {
  const pki = await createPki();
  // hostssl only: a plaintext side pool, or one without the password, cannot connect at all.
  const cluster = await startCluster({ tls: { pki }, hba: ['hostssl all all 127.0.0.1/32 scram-sha-256'] });
  const password = canary();
  try {
    await cluster.createRole(APP_ROLE, { password });
    await cluster.adminQuery(
      `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
       GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ${APP_ROLE};
       GRANT USAGE ON SEQUENCE items_id_seq TO ${APP_ROLE}`,
    );
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const options = (applicationName: string, extra: CreatePoolOptions = {}): CreatePoolOptions => ({
    env: {},
    environment: 'test',
    host: '127.0.0.1',
    port: cluster.port,
    database: 'postgres',
    user: APP_ROLE,
    password,
    sslMode: 'verify-full',
    sslRootCert: pki.ca.certPem,
    applicationName,
    ...extra,
  });
  return {
    cluster,
    pki,
    password,
    options,
    pool: (applicationName, extra) => createPool(options(applicationName, extra)),
    stop: () => cluster.stop(),
  };
}

export interface ServerConnection {
  readonly pid: number;
  readonly applicationName: string;
  readonly ssl: boolean;
  readonly state: string | null;
}

/** The app role's connections as the server sees them (pg_stat_activity with pg_stat_ssl). */
export async function serverConnections(cluster: Cluster): Promise<ServerConnection[]> {
  const rows = await cluster.adminQuery<{
    pid: number;
    application_name: string;
    ssl: boolean | null;
    state: string | null;
  }>(
    `SELECT a.pid, a.application_name, s.ssl, a.state
       FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s USING (pid)
      WHERE a.usename = $1 AND a.backend_type = 'client backend'`,
    [APP_ROLE],
  );
  return rows.map((row) => ({
    pid: row.pid,
    applicationName: row.application_name,
    ssl: row.ssl === true,
    state: row.state,
  }));
}

/**
 * Proves that every connection of the app role on the server is one of
 * `pool`'s: as many as the pool holds, each over TLS and tagged with the
 * pool's application_name. A library that built its own pg pool would show
 * up here (or fail to connect at all: the cluster takes TLS + SCRAM only).
 */
export async function assertOnlyPoolConnections(cluster: Cluster, pool: WardenPool): Promise<void> {
  // A connection the pool just closed may still be listed for a moment.
  const deadline = Date.now() + 2000;
  for (;;) {
    const connections = await serverConnections(cluster);
    const foreign = connections.filter((c) => !c.ssl || c.applicationName !== pool.config.applicationName);
    if ((foreign.length === 0 && connections.length === pool.totalCount) || Date.now() > deadline) {
      assert.deepEqual(foreign, [], 'a connection that is not the pgwarden pool’s');
      assert.equal(connections.length, pool.totalCount, 'server connections vs pool.totalCount');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until the server lists no connection of the app role (a pool that ended). */
export async function assertNoServerConnections(cluster: Cluster): Promise<void> {
  const deadline = Date.now() + 2000;
  let connections = await serverConnections(cluster);
  while (connections.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    connections = await serverConnections(cluster);
  }
  assert.deepEqual(connections, [], 'connections left open on the server');
}

/**
 * Counts the pool's checkouts through pg-pool's own `acquire` event: every
 * query a library sends through the pool (pool.query or pool.connect) is one.
 */
export function countCheckouts(pool: WardenPool): { readonly count: number; stop(): void } {
  let count = 0;
  const listener = () => {
    count++;
  };
  pool.on('acquire', listener);
  return {
    get count() {
      return count;
    },
    stop: () => void pool.removeListener('acquire', listener),
  };
}

/** Everything the pool lent out has come back: nothing checked out, nobody waiting. */
export function assertNothingCheckedOut(pool: WardenPool): void {
  assert.equal(pool.totalCount - pool.idleCount, 0, 'connections still checked out');
  assert.equal(pool.waitingCount, 0, 'callers still waiting');
}

/**
 * Waits (up to 2 s) until everything the pool lent out has come back, for
 * libraries whose background work (pollers, timers) may still hold a client
 * for a moment after their own call returned.
 */
export async function waitUntilNothingCheckedOut(pool: WardenPool): Promise<void> {
  const deadline = Date.now() + 2000;
  while (pool.totalCount - pool.idleCount > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assertNothingCheckedOut(pool);
}
