/**
 * A throwaway PgBouncer in front of a throwaway cluster, started and stopped
 * by PID like the clusters: Debian's `pgbouncer` package, loopback only,
 * TLS on both hops (clients verify it with the harness PKI; it verifies the
 * server with verify-full), SCRAM for clients, and either an auth_file of
 * users or `auth_query` (so rotated passwords keep working).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { Cluster } from './cluster.js';
import { track, untrack, type TrackedCluster } from './cluster-registry.js';
import { findFreePort } from './free-port.js';
import { HarnessError } from './harness-error.js';
import { fileSize, readFrom, tail } from './log-file.js';
import { resolveServerUser } from './os-user.js';
import { chownTo, writeOwnedFile } from './owned-files.js';
import type { Pki } from './pki.js';
import { writePkiFiles } from './pki-files.js';
import { ServerProcess } from './server-process.js';

/** Where Debian's package puts the binary. */
const DEFAULT_BINARY = '/usr/sbin/pgbouncer';

export interface PgBouncerOptions {
  /** The server behind it. */
  readonly cluster: Cluster;
  /** Its TLS: the server certificate it presents to clients, and the CA it verifies the server with. */
  readonly pki: Pki;
  /** Default `transaction`, the mode fleets run. */
  readonly poolMode?: 'transaction' | 'session';
  /** Users of the auth_file, with their passwords (plaintext: PgBouncer needs them to log in to the server). */
  readonly users?: readonly { readonly name: string; readonly password: string }[];
  /**
   * Look users up in the server instead (`auth_user` + `auth_query`): this
   * role must be in `users` and the function `pgbouncer.get_auth(text)` must
   * exist in each database (see {@link PgBouncer.authQuerySql}).
   */
  readonly authUser?: string;
  /** Startup parameters PgBouncer drops instead of refusing. */
  readonly ignoreStartupParameters?: readonly string[];
  /** The binary. Default Debian's `/usr/sbin/pgbouncer`. */
  readonly binary?: string;
}

function quote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export class PgBouncer {
  readonly host = '127.0.0.1';
  readonly port: number;
  readonly poolMode: 'transaction' | 'session';
  readonly #dir: string;
  readonly #logFile: string;
  readonly #process: ServerProcess;
  readonly #tracked: TrackedCluster;

  private constructor(
    dir: string,
    port: number,
    poolMode: 'transaction' | 'session',
    process: ServerProcess,
  ) {
    this.#dir = dir;
    this.#logFile = join(dir, 'pgbouncer.log');
    this.port = port;
    this.poolMode = poolMode;
    this.#process = process;
    this.#tracked = {
      dir,
      dataDir: dir,
      keep: false,
      livePid: () => (this.#process.running ? this.#process.pid : undefined),
    };
    track(this.#tracked);
  }

  /** The SQL that creates the SECURITY DEFINER lookup `auth_query` calls; run it as a superuser in each database. */
  static authQuerySql(authUser: string): string {
    return `CREATE SCHEMA IF NOT EXISTS pgbouncer;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE(username text, password text)
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
  $$ SELECT usename::text, passwd::text FROM pg_catalog.pg_shadow WHERE usename = p_usename $$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO "${authUser.replace(/"/g, '""')}";
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO "${authUser.replace(/"/g, '""')}";`;
  }

  static async start(options: PgBouncerOptions): Promise<PgBouncer> {
    const binary = options.binary ?? DEFAULT_BINARY;
    if (!existsSync(binary)) {
      throw new HarnessError('start', `PgBouncer is not installed (${binary}).`, {
        cause: new Error('Install it: apt-get install pgbouncer'),
      });
    }
    const owner = resolveServerUser();
    const dir = mkdtempSync(join(tmpdir(), 'pgwarden-pgbouncer-'));
    chownTo(dir, owner);
    const tls = writePkiFiles(options.pki, join(dir, 'tls'), owner);
    const users = options.users ?? [];
    writeOwnedFile(
      join(dir, 'userlist.txt'),
      users.map((u) => `${quote(u.name)} ${quote(u.password)}\n`).join(''),
      owner,
    );
    const port = await findFreePort();
    const poolMode = options.poolMode ?? 'transaction';
    const lines = [
      '[databases]',
      `* = host=${options.cluster.host} port=${options.cluster.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // No unix socket: the tests connect over TCP only.
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      ...(options.authUser
        ? [
            `auth_user = ${options.authUser}`,
            'auth_query = SELECT username, password FROM pgbouncer.get_auth($1)',
          ]
        : []),
      `pool_mode = ${poolMode}`,
      'max_client_conn = 200',
      'default_pool_size = 20',
      'server_reset_query = DISCARD ALL',
      `ignore_startup_parameters = ${['extra_float_digits', ...(options.ignoreStartupParameters ?? [])].join(',')}`,
      'client_tls_sslmode = require',
      `client_tls_cert_file = ${tls.serverCertPath}`,
      `client_tls_key_file = ${tls.serverKeyPath}`,
      `client_tls_ca_file = ${tls.caCertPath}`,
      'server_tls_sslmode = verify-full',
      `server_tls_ca_file = ${tls.caCertPath}`,
      'log_connections = 1',
      'log_disconnections = 1',
    ];
    const ini = join(dir, 'pgbouncer.ini');
    writeOwnedFile(ini, `${lines.join('\n')}\n`, owner);
    const logFile = join(dir, 'pgbouncer.log');
    writeOwnedFile(logFile, '', owner);
    const process = await ServerProcess.spawn({
      command: binary,
      args: [ini],
      cwd: dir,
      logFile,
      owner,
      unref: true,
      step: 'start',
    });
    const bouncer = new PgBouncer(dir, port, poolMode, process);
    try {
      await bouncer.#awaitListening();
    } catch (error) {
      await bouncer.stop();
      throw error;
    }
    return bouncer;
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** PgBouncer's own log (connections, refusals), for assertions. */
  log(): string {
    return readFrom(this.#logFile);
  }

  async #awaitListening(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (!this.#process.running) {
        throw new HarnessError('start', `PgBouncer exited at start: ${tail(this.log())}`);
      }
      const open = await new Promise<boolean>((resolve) => {
        const socket = connect(this.port, this.host);
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (open) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new HarnessError('start', `PgBouncer did not listen within 15 s: ${tail(this.log())}`);
  }

  /** Stops it by PID (SIGTERM, then SIGKILL) and removes its directory. */
  async stop(): Promise<void> {
    await this.#process.terminate('SIGTERM', 5_000);
    untrack(this.#tracked);
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Bytes of log written so far, to read only what follows. */
  logOffset(): number {
    return fileSize(this.#logFile);
  }
}
