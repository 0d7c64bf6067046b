import { Client, Pool, type ClientConfig } from 'pg';

/** The superuser initdb creates; the harness administers every cluster as this role. */
export const SUPERUSER = 'postgres';

/**
 * Connection settings for the harness's own superuser connections over the
 * cluster's private unix socket (trust, see ADMIN_HBA_LINE).
 *
 * Every field pg would otherwise read from PG* environment variables is set
 * explicitly, so a developer's PGSSLMODE, PGOPTIONS or PGDATABASE cannot break
 * or redirect administration.
 */
export function adminClientConfig(socketDir: string, port: number): ClientConfig {
  return {
    host: socketDir,
    port,
    user: SUPERUSER,
    database: 'postgres',
    password: '',
    ssl: false,
    options: '',
    application_name: 'pgwarden-harness',
    connectionTimeoutMillis: 5_000,
  };
}

/**
 * The pool behind Cluster.adminQuery: two connections kept for the cluster's
 * life, so repeated admin queries skip connection start-up.
 */
export function openAdminPool(socketDir: string, port: number): Pool {
  const pool = new Pool({
    ...adminClientConfig(socketDir, port),
    max: 2,
    idleTimeoutMillis: 0,
    // A cluster a test forgot to stop must not keep the process alive; the exit hook kills it.
    allowExitOnIdle: true,
  });
  // Killing or restarting the server breaks idle pooled connections; pg reports
  // that as a pool 'error', which would crash the process without a listener.
  // The pool drops those clients and reconnects on the next query.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Runs `fn` on a fresh, unpooled superuser connection, then closes it. Used
 * for readiness probes (pg_isready is missing from the embedded binaries) and
 * to observe a reload: a new backend is forked from the postmaster and so sees
 * its current configuration.
 */
export async function withAdminClient<T>(
  socketDir: string,
  port: number,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ ...adminClientConfig(socketDir, port), connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
