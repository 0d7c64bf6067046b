/**
 * The pool's events on `node:diagnostics_channel`, as undici and Node's own
 * http do: any number of subscribers (metrics, OpenTelemetry, an app's own
 * logging), each independent of the others, and nearly free when there is
 * none: the hot path checks `hasSubscribers` and reads no clock otherwise.
 *
 * Every message names the pool that published it and its primary: a read
 * replica's pool publishes with `primary` set to the pool the application
 * created, so a subscriber interested in one pool filters on `primary`.
 * Messages carry no secret (no password, no connection string).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type pg from 'pg';
import type { RotationEvent } from './credential-source.js';

/** The channel names, stable: part of the public API. */
export const CHANNELS = Object.freeze({
  acquire: 'pgwarden:pool:acquire',
  query: 'pgwarden:pool:query',
  connectionError: 'pgwarden:pool:connection-error',
  tlsHandshake: 'pgwarden:pool:tls-handshake',
  rotation: 'pgwarden:credentials:rotation',
});

/** What every message carries. */
export interface PoolMessageBase {
  /** The pool that published: the application's pool, or one of its read replicas' pools. */
  readonly pool: pg.Pool;
  /** The application's pool: `pool` itself, or the primary whose replica `pool` is. */
  readonly primary: pg.Pool;
}

/** `pgwarden:pool:acquire`: a caller got a connection (or gave up) after waiting `seconds`. */
export interface AcquireMessage extends PoolMessageBase {
  readonly seconds: number;
  readonly outcome: 'success' | 'error';
}

/** `pgwarden:pool:query`: a `pool.query()` finished, checkout excluded. */
export interface QueryMessage extends PoolMessageBase {
  readonly seconds: number;
  readonly outcome: 'success' | 'error';
}

/** `pgwarden:pool:connection-error`: a connect failed or a pooled connection broke. */
export interface ConnectionErrorMessage extends PoolMessageBase {
  /** The `PGW_*` code (`PGW_CONN_AUTH_FAILED` for a rejected password). */
  readonly code: string;
  /** The server's SQLSTATE when it sent one. */
  readonly sqlstate: string | undefined;
}

/** `pgwarden:pool:tls-handshake`: a new connection's TLS handshake completed. */
export interface TlsHandshakeMessage extends PoolMessageBase {
  readonly seconds: number;
}

/** `pgwarden:credentials:rotation`: the pool picked up new credentials. */
export interface RotationMessage extends PoolMessageBase {
  readonly rotation: RotationEvent;
}

const channels = {
  acquire: diagnosticsChannel.channel(CHANNELS.acquire),
  query: diagnosticsChannel.channel(CHANNELS.query),
  connectionError: diagnosticsChannel.channel(CHANNELS.connectionError),
  tlsHandshake: diagnosticsChannel.channel(CHANNELS.tlsHandshake),
  rotation: diagnosticsChannel.channel(CHANNELS.rotation),
};

type Timed = 'acquire' | 'query' | 'tlsHandshake';

/** One pool's publisher: fills in `pool` and `primary`. */
export class PoolDiagnostics {
  readonly #base: PoolMessageBase;

  constructor(pool: pg.Pool, primary: pg.Pool = pool) {
    this.#base = { pool, primary };
  }

  /** A start time when someone listens on `name`, else undefined (no clock read). */
  start(name: Timed): number | undefined {
    return channels[name].hasSubscribers ? performance.now() : undefined;
  }

  /** Publishes the time since `started` (from `start`); nothing when `started` is undefined. */
  timed(name: 'acquire' | 'query', started: number | undefined, outcome: 'success' | 'error'): void;
  timed(name: 'tlsHandshake', started: number | undefined): void;
  timed(name: Timed, started: number | undefined, outcome?: 'success' | 'error'): void {
    if (started === undefined) return;
    const seconds = (performance.now() - started) / 1000;
    channels[name].publish(outcome ? { ...this.#base, seconds, outcome } : { ...this.#base, seconds });
  }

  connectionError(code: string, sqlstate: string | undefined): void {
    if (channels.connectionError.hasSubscribers)
      channels.connectionError.publish({ ...this.#base, code, sqlstate });
  }

  rotation(rotation: RotationEvent): void {
    if (channels.rotation.hasSubscribers) channels.rotation.publish({ ...this.#base, rotation });
  }
}
