/**
 * Readiness of a pool: whether it can serve a query now and, if not, why,
 * telling apart what plain pools cannot (database unreachable, pool
 * exhausted, credentials failing, TLS failing). A pool operation: the HTTP
 * handlers in src/health sit above it.
 */
import type pg from 'pg';
import { PgwardenError, type ErrorCode } from '../errors.js';
import { tlsSessionInfo } from '../tls/session-info.js';
import { classifyQueryError } from './classify-error.js';
import { clientStream } from './warden-client.js';

/** Counts of connections and waiters. */
export interface PoolStats {
  /** Open physical connections. */
  readonly total: number;
  readonly idle: number;
  readonly inUse: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  readonly max: number;
}

/** What readiness needs of a pool (WardenPool satisfies it). */
export interface ReadinessTarget {
  readonly closed: boolean;
  stats(): PoolStats;
  /** A checkout without retries, so an outage is reported at once. */
  checkout(options: { retry: boolean }): Promise<pg.PoolClient>;
}

export type HealthStatus = 'ok' | 'fail';

/** Why the pool is not ready, as a stable reason code. */
export type ReadyReason =
  'ok' | 'exhausted' | 'database-unreachable' | 'credentials-failing' | 'tls-failure' | 'closed' | 'error';

export interface ReadyReport {
  readonly status: HealthStatus;
  readonly reason: ReadyReason;
  /** The coded error behind a failure. */
  readonly code?: ErrorCode | undefined;
  readonly pool: PoolStats;
}

export interface DatabaseReport {
  readonly status: HealthStatus;
  readonly reason: ReadyReason;
  readonly code?: ErrorCode | undefined;
  readonly latencyMs?: number;
  readonly tls: {
    readonly protocol: string | null;
    readonly certificateDaysLeft?: number | undefined;
  } | null;
  readonly serverVersion?: string;
}

export interface HealthOptions {
  /** How long readiness waits for a connection before answering. Default 2000 ms. */
  timeoutMs?: number;
}

export function reasonOf(error: unknown): { reason: ReadyReason; code: ErrorCode | undefined } {
  const coded = error instanceof PgwardenError ? error : classifyQueryError(error);
  const code = coded.pgwardenCode;
  if (code === 'PGW_POOL_EXHAUSTED') return { reason: 'exhausted', code };
  if (code === 'PGW_POOL_CLOSED') return { reason: 'closed', code };
  if (code.startsWith('PGW_TLS_')) return { reason: 'tls-failure', code };
  if (code === 'PGW_CONN_AUTH_FAILED' || code === 'PGW_CONN_HBA_REJECTED' || code.startsWith('PGW_SECRET_')) {
    return { reason: 'credentials-failing', code };
  }
  if (code.startsWith('PGW_CONN_') || code === 'PGW_QUERY_CONNECTION_LOST')
    return { reason: 'database-unreachable', code };
  return { reason: 'error', code };
}

/** Acquires a client within `timeoutMs`, or throws PGW_POOL_EXHAUSTED; a late client is released. */
async function acquire(pool: ReadinessTarget, timeoutMs: number): Promise<pg.PoolClient> {
  let timer: NodeJS.Timeout | undefined;
  const pending = pool.checkout({ retry: false });
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      pending.then(
        (client) => client.release(),
        () => undefined,
      );
      const stats = pool.stats();
      reject(
        new PgwardenError(
          stats.inUse >= stats.max ? 'PGW_POOL_EXHAUSTED' : 'PGW_CONN_TIMEOUT',
          `No connection within ${timeoutMs} ms for the health check (in use ${stats.inUse} of ${stats.max}, waiting ${stats.waiting}).`,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A pooled connection the server already closed (admin shutdown, restart): worth one retry. */
function isStaleConnection(error: unknown): boolean {
  // classifyQueryError maps the server's session-ending SQLSTATEs (57P01-57P05) here too.
  const coded = error instanceof PgwardenError ? error : classifyQueryError(error);
  return coded.pgwardenCode === 'PGW_QUERY_CONNECTION_LOST';
}

/**
 * Runs `work` on a pooled connection. A failed connection is discarded, never
 * returned to the pool; if it was a stale one, the check retries once on a
 * fresh connection, so a single dead idle socket is not reported as an outage.
 */
async function onConnection<T>(
  pool: ReadinessTarget,
  timeoutMs: number,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const client = await acquire(pool, timeoutMs);
    try {
      const result = await work(client);
      client.release();
      return result;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      if (attempt > 0 || !isStaleConnection(error)) throw error;
    }
  }
}

/** Whether the pool can serve a query now, and if not, why. */
export async function checkReady(pool: ReadinessTarget, options: HealthOptions = {}): Promise<ReadyReport> {
  const stats = pool.stats();
  if (pool.closed) return { status: 'fail', reason: 'closed', code: 'PGW_POOL_CLOSED', pool: stats };
  // Everything checked out and callers queued: probing would only join the queue.
  if (stats.inUse >= stats.max && stats.waiting > 0) {
    return { status: 'fail', reason: 'exhausted', code: 'PGW_POOL_EXHAUSTED', pool: stats };
  }
  try {
    await onConnection(pool, options.timeoutMs ?? 2000, (client) => client.query(';'));
    return { status: 'ok', reason: 'ok', pool: pool.stats() };
  } catch (error) {
    return { status: 'fail', ...reasonOf(error), pool: pool.stats() };
  }
}

/** A round trip to the database: latency, TLS protocol, certificate lifetime. */
export async function checkDatabase(
  pool: ReadinessTarget,
  options: HealthOptions = {},
): Promise<DatabaseReport> {
  const started = performance.now();
  try {
    return await onConnection(pool, options.timeoutMs ?? 2000, async (client): Promise<DatabaseReport> => {
      const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      const tls = tlsSessionInfo(clientStream(client));
      return {
        status: 'ok',
        reason: 'ok',
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
        tls: tls ? { protocol: tls.protocol, certificateDaysLeft: tls.certificate?.daysLeft } : null,
        serverVersion: rows[0]?.v ?? '',
      };
    });
  } catch (error) {
    return { status: 'fail', ...reasonOf(error), tls: null };
  }
}
