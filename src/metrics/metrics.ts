/**
 * Prometheus metrics of a pool through prom-client: pool gauges read at
 * scrape time, histograms and counters fed by the pool's instruments.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WardenPool } from '../pool/pool.js';

export interface PoolMetricsOptions {
  /** Register into this registry (the app's own). Default: a new one. */
  registry?: Registry;
  /** Metric name prefix. Default `pgwarden_`. */
  prefix?: string;
  /** A `pool` label value, to tell several pools apart. Default `default`. */
  poolName?: string;
}

export interface PoolMetrics {
  readonly registry: Registry;
  /** Stops feeding the metrics from the pool. */
  stop(): void;
}

/** SQLSTATE class (first two characters) or, for client-side failures, the pgwarden code. */
function errorClass(code: string, sqlstate: string | undefined): string {
  return sqlstate ? sqlstate.slice(0, 2) : code;
}

export function instrumentPool(pool: WardenPool, options: PoolMetricsOptions = {}): PoolMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'pgwarden_';
  const labels = { pool: options.poolName ?? 'default' };
  const registers = [registry];

  const connections = new Gauge({
    name: `${prefix}pool_connections`,
    help: 'Connections of the pool by state (idle, in_use), read at scrape time.',
    labelNames: ['pool', 'state'] as const,
    registers,
    collect() {
      const stats = pool.stats();
      this.set({ ...labels, state: 'idle' }, stats.idle);
      this.set({ ...labels, state: 'in_use' }, stats.inUse);
    },
  });
  new Gauge({
    name: `${prefix}pool_connections_total`,
    help: 'Open connections of the pool.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.set(labels, pool.stats().total);
    },
  });
  new Gauge({
    name: `${prefix}pool_waiting`,
    help: 'Callers waiting for a connection.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.set(labels, pool.stats().waiting);
    },
  });
  new Gauge({
    name: `${prefix}pool_max`,
    help: 'Most connections the pool may open.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      this.set(labels, pool.stats().max);
    },
  });
  const acquire = new Histogram({
    name: `${prefix}pool_acquire_seconds`,
    help: 'Time callers waited for a connection.',
    labelNames: ['pool'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const queries = new Histogram({
    name: `${prefix}query_duration_seconds`,
    help: 'Duration of pool.query calls by outcome.',
    labelNames: ['pool', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers,
  });
  const connectionErrors = new Counter({
    name: `${prefix}connection_errors_total`,
    help: 'Connection failures by SQLSTATE class (or pgwarden code when the server sent none).',
    labelNames: ['pool', 'class'] as const,
    registers,
  });
  const authFailures = new Counter({
    name: `${prefix}auth_failures_total`,
    help: 'Authentication failures when connecting.',
    labelNames: ['pool'] as const,
    registers,
  });
  const handshakes = new Histogram({
    name: `${prefix}tls_handshake_seconds`,
    help: 'TLS handshake duration of new connections.',
    labelNames: ['pool'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers,
  });
  const rotations = new Counter({
    name: `${prefix}credential_rotations_total`,
    help: 'Credential rotations the pool picked up.',
    labelNames: ['pool'] as const,
    registers,
  });
  new Gauge({
    name: `${prefix}secret_fetches`,
    help: 'Secrets backend fetches (cumulative), read at scrape time.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      const cache = pool.credentialsInfo().cache;
      if (cache) this.set(labels, Number(cache.fetches ?? 0));
    },
  });
  new Gauge({
    name: `${prefix}secret_cache_hits`,
    help: 'Credential lookups answered from the cache (cumulative), read at scrape time.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      const cache = pool.credentialsInfo().cache;
      if (cache) this.set(labels, Number(cache.hits ?? 0));
    },
  });
  void connections;

  pool.instrument({
    acquired: (seconds) => acquire.observe(labels, seconds),
    queried: (seconds, outcome) => queries.observe({ ...labels, outcome }, seconds),
    connectionFailed: (code, sqlstate) => {
      connectionErrors.inc({ ...labels, class: errorClass(code, sqlstate) });
      if (code === 'PGW_CONN_AUTH_FAILED') authFailures.inc(labels);
    },
    tlsHandshake: (seconds) => handshakes.observe(labels, seconds),
    rotated: () => rotations.inc(labels),
  });
  return { registry, stop: () => pool.instrument(undefined) };
}

/** A node:http handler serving the registry at `/metrics` (path configurable). */
export function metricsHandler(
  source: WardenPool | PoolMetrics,
  options: PoolMetricsOptions & { path?: string } = {},
): (req: IncomingMessage, res: ServerResponse, next?: () => void) => void {
  const metrics = 'registry' in source ? source : instrumentPool(source, options);
  const path = options.path ?? '/metrics';
  return (req, res, next) => {
    if ((req.url ?? '').split('?')[0] !== path) {
      if (next) return next();
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  };
}
