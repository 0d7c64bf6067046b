/**
 * Where, and as whom, the pool's connection actually logged in: the host of
 * the list that answered (after a failover it is not `config.host`), the user
 * and the password that worked (after a rotation, or a fallback to the
 * secret's previous version, they are not `config.user`/`config.password`).
 * pg_dump and pg_restore must connect the same way.
 *
 * Read from pg's public Client fields (`host`, `port`, `user`, `password`)
 * and the pool client's `connectedUser`, which the pool keeps up to date for
 * the host and credentials each connection used. A pool accessor would be
 * the proper home for this (see the lead's notes); until then this reads
 * only public fields.
 */
import type pg from 'pg';

export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The password that logged in (a function, so the value never shows in a log of this object). */
  readonly password: () => string | undefined;
}

export function connectedTarget(client: pg.PoolClient): ConnectionTarget {
  const connected = client as unknown as pg.Client & { connectedUser?: string };
  const user = connected.connectedUser ?? connected.user ?? '';
  return {
    host: connected.host,
    port: connected.port,
    user,
    password: () => (typeof connected.password === 'string' ? connected.password : undefined),
  };
}
