/**
 * What `pgwarden demo --keep` leaves running, and how to reach it: a URL
 * that verifies the server (sslmode=verify-full with the demo's CA), a
 * password file for libpq's PGPASSFILE (so no password is printed), and the
 * PID to stop.
 */
import { writeFileSync } from 'node:fs';
import type { Secret } from '../redact/secret.js';
import type { Cluster } from '../testing/cluster.js';

/** A login the demo created, for the password file. */
export interface DemoLogin {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret;
}

export interface KeptCluster {
  /** What it is in the demo, e.g. `the TLS cluster`. */
  readonly name: string;
  readonly pid: number;
  /** The cluster's directory: data, socket, server log. */
  readonly dir: string;
  /** `postgresql://user@localhost:port/db?sslmode=verify-full&sslrootcert=…`, without a password. */
  readonly url: string;
}

/** Leaves `cluster` running and says how to connect to it as `login`, verifying against `caPath`. */
export async function keepCluster(
  cluster: Cluster,
  name: string,
  login: DemoLogin,
  caPath: string,
): Promise<KeptCluster> {
  // Slashes stay readable; libpq decodes the rest of the percent-encoding.
  const path = encodeURIComponent(caPath).replace(/%2F/g, '/');
  const url = `postgresql://${encodeURIComponent(login.user)}@${login.host}:${login.port}/${encodeURIComponent(login.database)}?sslmode=verify-full&sslrootcert=${path}`;
  const pid = await cluster.release();
  return { name, pid, dir: cluster.dir, url };
}

const pgpassField = (value: string): string => value.replace(/([\\:])/g, '\\$1');

/** Writes a libpq password file (mode 0600) with one line per login. */
export function writePgpass(path: string, logins: readonly DemoLogin[]): void {
  const lines = logins.map((l) =>
    [l.host, String(l.port), l.database, l.user, l.password.reveal()].map(pgpassField).join(':'),
  );
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
}
