/**
 * Prometheus metrics of a pool through prom-client, built on the pool's
 * diagnostics_channel messages (src/pool/diagnostics.ts): each
 * instrumentPool() subscribes on its own and stop() removes only its own
 * subscriptions. Gauges and the credential counters are read at scrape time;
 * the read replicas' pools appear with `target="replica:host:port"`.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  CHANNELS,
  type AcquireMessage,
  type ConnectionErrorMessage,
  type PoolMessageBase,
  type QueryMessage,
  type TlsHandshakeMessage,
} from '../pool/diagnostics.js';
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
  /** Stops feeding the metrics from the pool (this instrumentation only; others keep theirs). */
  stop(): void;
}

/** SQLSTATE class (first two characters) or, for client-side failures, the pgwarden code. */
function errorClass(code: string, sqlstate: string | undefined): string {
  return sqlstate ? sqlstate.slice(0, 2) : code;
}

const PRIMARY = 'primary';

/** The pool and each replica's pool, with its `target` label. */
function targets(pool: WardenPool): { target: string; pool: WardenPool }[] {
  return [
    { target: PRIMARY, pool },
    ...pool
      .replicaPools()
      .map((r) => ({ target: `replica:${r.target.host}:${r.target.port}`, pool: r.pool })),
  ];
}

/**
 * A counter fed at scrape time from a cumulative count the pool keeps: it
 * adds what the count grew by since the last scrape (a count that went back,
 * after the pool swapped its credentials source, starts over).
 */
function cumulative(
  read: () => number | undefined,
): (counter: Counter<string>, labels: Record<string, string>) => void {
  let last = 0;
  return (counter, labels) => {
    const now = read();
    if (now === undefined) return;
    const grown = now >= last ? now - last : now;
    last = now;
    counter.inc(labels, grown); // also when 0: the series exists from the first scrape
  };
}

export function instrumentPool(pool: WardenPool, options: PoolMetricsOptions = {}): PoolMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'pgwarden_';
  const name = options.poolName ?? 'default';
  const registers = [registry];

  const eachTarget = (
    set: (labels: { pool: string; target: string }, stats: ReturnType<WardenPool['stats']>) => void,
  ) => {
    for (const t of targets(pool)) set({ pool: name, target: t.target }, t.pool.stats());
  };
  new Gauge({
    name: `${prefix}pool_connections`,
    help: 'Connections of the pool by state (idle, in_use), read at scrape time.',
    labelNames: ['pool', 'target', 'state'] as const,
    registers,
    collect() {
      eachTarget((labels, stats) => {
        this.set({ ...labels, state: 'idle' }, stats.idle);
        this.set({ ...labels, state: 'in_use' }, stats.inUse);
      });
    },
  });
  new Gauge({
    name: `${prefix}pool_connections_open`,
    help: 'Open connections of the pool (idle, in use and being opened), read at scrape time.',
    labelNames: ['pool', 'target'] as const,
    registers,
    collect() {
      eachTarget((labels, stats) => this.set(labels, stats.total));
    },
  });
  new Gauge({
    name: `${prefix}pool_waiting`,
    help: 'Callers waiting for a connection.',
    labelNames: ['pool', 'target'] as const,
    registers,
    collect() {
      eachTarget((labels, stats) => this.set(labels, stats.waiting));
    },
  });
  new Gauge({
    name: `${prefix}pool_max`,
    help: 'Most connections the pool may open.',
    labelNames: ['pool', 'target'] as const,
    registers,
    collect() {
      eachTarget((labels, stats) => this.set(labels, stats.max));
    },
  });
  const acquire = new Histogram({
    name: `${prefix}pool_acquire_seconds`,
    help: 'Time callers waited for a connection, by outcome.',
    labelNames: ['pool', 'target', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const queries = new Histogram({
    name: `${prefix}query_duration_seconds`,
    help: 'Duration of pool.query calls by outcome.',
    labelNames: ['pool', 'target', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers,
  });
  const connectionErrors = new Counter({
    name: `${prefix}connection_errors_total`,
    help: 'Connection failures by SQLSTATE class (or pgwarden code when the server sent none).',
    labelNames: ['pool', 'target', 'class'] as const,
    registers,
  });
  const authFailures = new Counter({
    name: `${prefix}auth_failures_total`,
    help: 'Authentication failures when connecting.',
    labelNames: ['pool', 'target'] as const,
    registers,
  });
  const handshakes = new Histogram({
    name: `${prefix}tls_handshake_seconds`,
    help: 'TLS handshake duration of new connections.',
    labelNames: ['pool', 'target'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers,
  });
  const rotations = new Counter({
    name: `${prefix}credential_rotations_total`,
    help: 'Credential rotations the pool picked up.',
    labelNames: ['pool'] as const,
    registers,
  });
  /** A cumulative count of the credentials cache, or undefined without a cache. */
  const cacheCount = (key: 'fetches' | 'hits') => (): number | undefined => {
    const cache = pool.credentialsInfo().cache;
    return cache ? Number(cache[key] ?? 0) : undefined;
  };
  const fetches = cumulative(cacheCount('fetches'));
  new Counter({
    name: `${prefix}secret_fetches_total`,
    help: 'Secrets backend fetches, successful or not.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      fetches(this, { pool: name });
    },
  });
  const hits = cumulative(cacheCount('hits'));
  new Counter({
    name: `${prefix}secret_cache_hits_total`,
    help: 'Credential lookups answered from the cache.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      hits(this, { pool: name });
    },
  });

  // Messages name the pool that published; a replica's pool publishes with this pool as primary.
  const replicaLabels = new WeakMap<pg.Pool, string>();
  const targetOf = (message: PoolMessageBase): string | undefined => {
    if (message.primary !== pool) return undefined;
    if (message.pool === pool) return PRIMARY;
    let label = replicaLabels.get(message.pool);
    if (label === undefined) {
      label = targets(pool).find((t) => t.pool === message.pool)?.target ?? 'replica';
      replicaLabels.set(message.pool, label);
    }
    return label;
  };
  const handlers: [string, (message: unknown) => void][] = [
    [
      CHANNELS.acquire,
      (message) => {
        const m = message as AcquireMessage;
        const target = targetOf(m);
        if (target) acquire.observe({ pool: name, target, outcome: m.outcome }, m.seconds);
      },
    ],
    [
      CHANNELS.query,
      (message) => {
        const m = message as QueryMessage;
        const target = targetOf(m);
        if (target) queries.observe({ pool: name, target, outcome: m.outcome }, m.seconds);
      },
    ],
    [
      CHANNELS.connectionError,
      (message) => {
        const m = message as ConnectionErrorMessage;
        const target = targetOf(m);
        if (!target) return;
        connectionErrors.inc({ pool: name, target, class: errorClass(m.code, m.sqlstate) });
        if (m.code === 'PGW_CONN_AUTH_FAILED') authFailures.inc({ pool: name, target });
      },
    ],
    [
      CHANNELS.tlsHandshake,
      (message) => {
        const m = message as TlsHandshakeMessage;
        const target = targetOf(m);
        if (target) handshakes.observe({ pool: name, target }, m.seconds);
      },
    ],
    [
      CHANNELS.rotation,
      (message) => {
        // Replicas share the primary's credentials: count the rotation once.
        if (targetOf(message as PoolMessageBase) === PRIMARY) rotations.inc({ pool: name });
      },
    ],
  ];
  for (const [channel, handler] of handlers) diagnosticsChannel.subscribe(channel, handler);
  let stopped = false;
  return {
    registry,
    stop: () => {
      if (stopped) return;
      stopped = true;
      for (const [channel, handler] of handlers) diagnosticsChannel.unsubscribe(channel, handler);
    },
  };
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
