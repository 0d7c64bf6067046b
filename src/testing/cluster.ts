import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg, { type Pool, type QueryResultRow } from 'pg';
import { ConfigError } from '../errors.js';
import { SUPERUSER, adminClientConfig, openAdminPool, withAdminClient } from './admin-connection.js';
import { track, untrack, type TrackedCluster } from './cluster-registry.js';
import {
  validateOptions,
  type ClusterOptions,
  type CreateRoleOptions,
  type KillSignal,
  type LoopbackAddress,
  type StopOptions,
  type UrlOptions,
} from './cluster-options.js';
import { connectionUrl, createDatabaseSql, createRoleSql } from './cluster-sql.js';
import { installTls, resolveTls, type ClusterTls } from './cluster-tls.js';
import { findFreePort } from './free-port.js';
import { HarnessError } from './harness-error.js';
import { DEFAULT_HBA_LINES, renderHba } from './hba.js';
import { runInitdb } from './initdb.js';
import { runBaseBackup } from './base-backup.js';
import { fileSize, readFrom, tail } from './log-file.js';
import { resolveServerUser, type OsUser } from './os-user.js';
import { chownTo, writeOwnedFile, makeOwnedDir } from './owned-files.js';
import { findPgBinaries, type PgBinaries } from './pg-binaries.js';
import { awaitReady, spawnPostmaster, type ReadyOutcome } from './postmaster.js';
import { normalizeConf, renderPostgresConf, type ConfSettings, type ConfValue } from './postgres-conf.js';
import type { ServerProcess } from './server-process.js';
import { releaseOrphanedSharedMemory } from './sysv-shm.js';

const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const RELOAD_TIMEOUT_MS = 10_000;
const MAX_PORT_ATTEMPTS = 3;

/**
 * A throwaway PostgreSQL cluster in a temporary directory, run by this
 * process. Create it with {@link startCluster}; always {@link Cluster.stop} it
 * (or use {@link withCluster}). Clusters still running when the process ends
 * are killed and removed by an exit hook.
 */
export class Cluster {
  /** The superuser the harness administers the cluster as. */
  readonly superuser = SUPERUSER;
  /** The directory holding everything below (removed by stop()). */
  readonly dir: string;
  readonly dataDir: string;
  /** The unix socket directory (private to the server's OS user). */
  readonly socketDir: string;
  /** Server output: initdb, startup, errors. Read it with {@link Cluster.readLog}. */
  readonly logFile: string;
  readonly binaries: PgBinaries;

  readonly #options: ClusterOptions;
  readonly #owner: OsUser | undefined;
  readonly #listen: readonly LoopbackAddress[];
  readonly #harnessConf = new Map<string, ConfValue>();
  #callerConf: Map<string, ConfValue>;
  #hba: readonly string[];
  #initdbConf = '';
  #port: number;
  #process: ServerProcess | undefined;
  #pool: Pool | undefined;
  #stopping: Promise<void> | undefined;
  readonly #tracked: TrackedCluster;

  private constructor(options: ClusterOptions, binaries: PgBinaries, owner: OsUser | undefined, dir: string) {
    this.#options = options;
    this.binaries = binaries;
    this.#owner = owner;
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.socketDir = join(dir, 'sock');
    this.logFile = join(dir, 'postgres.log');
    this.#listen = options.listen ?? ['127.0.0.1'];
    this.#port = options.port ?? 0;
    this.#callerConf = normalizeConf(options.conf ?? {});
    this.#hba = options.hba ?? DEFAULT_HBA_LINES;
    this.#tracked = {
      dir,
      dataDir: this.dataDir,
      keep: options.keep ?? false,
      livePid: () => (this.#process?.running ? this.#process.pid : undefined),
    };
  }

  /** Use {@link startCluster}. */
  static async create(options: ClusterOptions = {}): Promise<Cluster> {
    validateOptions(options);
    const binaries = options.binaries ?? findPgBinaries({ allowEmbedded: options.allowEmbedded ?? true });
    const owner = resolveServerUser();
    const dir = makeClusterDir(options.baseDir);
    chownTo(dir, owner);
    const cluster = new Cluster(options, binaries, owner, dir);
    track(cluster.#tracked);
    try {
      await cluster.#initialize();
      return cluster;
    } catch (error) {
      await cluster.stop({ mode: 'immediate' }).catch(() => undefined);
      throw error;
    }
  }

  /** `127.0.0.1` (or the first `listen` address). */
  get host(): string {
    return this.#listen[0] ?? '127.0.0.1';
  }

  get port(): number {
    return this.#port;
  }

  get binDir(): string {
    return this.binaries.binDir;
  }

  get major(): number {
    return this.binaries.major;
  }

  /** The PID of the running postmaster, or of the last one after it exited. */
  get pid(): number {
    if (!this.#process) throw new HarnessError('start', 'The cluster has not been started.');
    return this.#process.pid;
  }

  /** Whether the postmaster process is alive. */
  get running(): boolean {
    return this.#process?.running ?? false;
  }

  /**
   * Runs `sql` (one or more statements) as the superuser in `database`, over
   * the unix socket, on a connection of its own.
   */
  async queryIn(database: string, sql: string): Promise<void> {
    const client = new pg.Client({ ...adminClientConfig(this.socketDir, this.#port), database });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /**
   * Runs `sql` as the superuser over the unix socket and returns the rows.
   * Uses a pool of two connections kept for the cluster's life.
   */
  async adminQuery<R extends QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<R[]> {
    if (!this.#pool) throw new HarnessError('admin', 'The cluster has been stopped.');
    const result = await this.#pool.query<R>(sql, params === undefined ? undefined : [...params]);
    return result.rows;
  }

  /** `CREATE ROLE` with the name quoted, attributes (default `LOGIN`) and an optional password. */
  async createRole(name: string, options: CreateRoleOptions = {}): Promise<void> {
    await this.adminQuery(createRoleSql(name, options));
  }

  /** `CREATE DATABASE`, optionally owned by `owner`. */
  async createDatabase(name: string, owner?: string): Promise<void> {
    await this.adminQuery(createDatabaseSql(name, owner));
  }

  /** Promotes a replica to primary (`pg_promote()`, waiting for it) . */
  async promote(): Promise<void> {
    await this.adminQuery('SELECT pg_promote(true, 30)');
  }

  /** A replica of this cluster (see `ClusterOptions.replicaOf`), with the same binaries. */
  startReplica(options: Omit<ClusterOptions, 'replicaOf' | 'binaries'> = {}): Promise<Cluster> {
    return Cluster.create({
      ...options,
      binaries: this.binaries,
      replicaOf: { socketDir: this.socketDir, port: this.#port, binDir: this.binDir },
    });
  }

  /** A `postgresql://` URL for this cluster over TCP, every part percent-encoded. */
  url(options: UrlOptions): string {
    return connectionUrl(this.host, this.#port, options);
  }

  /** Everything the server (and initdb) wrote so far. */
  readLog(): string {
    return readFrom(this.logFile);
  }

  /**
   * Sends SIGHUP and waits until the server has re-read its configuration
   * (postgresql.conf, pg_hba.conf and the TLS files).
   *
   * @throws HarnessError (step `reload`) when the server kept its old settings.
   */
  async reload(): Promise<void> {
    const postmaster = this.#requireRunning('reload');
    const before = await this.#confLoadTime();
    const logOffset = fileSize(this.logFile);
    postmaster.signal('SIGHUP');
    // pg_conf_load_time() of a *new* backend is the postmaster's: once it
    // changes, the postmaster has finished reloading, TLS and pg_hba included.
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    while ((await this.#confLoadTime()) === before) {
      if (Date.now() >= deadline)
        throw new HarnessError('reload', 'The server did not reload its configuration.');
      await delay(10);
    }
    // pg_hba.conf and the TLS files are all-or-nothing: on an error the server keeps
    // the old ones and says so. (postgresql.conf errors were caught by setConf();
    // "contains errors" also appears for settings that merely need a restart.)
    const log = readFrom(this.logFile, logOffset);
    if (/was not reloaded/.test(log)) {
      throw new HarnessError('reload', `The server rejected part of its new configuration:\n${tail(log)}`);
    }
  }

  /**
   * Adds or replaces postgresql.conf settings and reloads. Settings the server
   * cannot take without a restart are returned; call {@link Cluster.restart}.
   *
   * @throws ConfigError `PGW_CONFIG_INVALID` for a reserved name or a value the
   *   server rejects; the previous configuration is then restored.
   */
  async setConf(settings: ConfSettings): Promise<{ pendingRestart: string[] }> {
    const previous = this.#callerConf;
    this.#callerConf = new Map([...previous, ...normalizeConf(settings)]);
    this.#writeConf();
    if (!this.running) return { pendingRestart: [] };
    // pg_file_settings re-reads the file. A changed postmaster-level setting is
    // reported as "could not be applied" too, but that only means "needs a restart".
    const errors = await this.adminQuery<{ name: string | null; error: string }>(
      `SELECT f.name, f.error FROM pg_file_settings f LEFT JOIN pg_settings s ON s.name = f.name
        WHERE f.error IS NOT NULL AND NOT (s.context = 'postmaster' AND f.error = 'setting could not be applied')`,
    );
    if (errors.length > 0) {
      this.#callerConf = previous;
      this.#writeConf();
      const list = errors.map((e) => `${e.name ?? '(syntax)'}: ${e.error}`).join('; ');
      throw new ConfigError('PGW_CONFIG_INVALID', `PostgreSQL rejected the settings: ${list}.`, {
        option: `conf.${errors[0]?.name ?? ''}`,
      });
    }
    await this.reload();
    const pending = await this.adminQuery<{ name: string }>(
      'SELECT name FROM pg_settings WHERE pending_restart',
    );
    return { pendingRestart: pending.map((row) => row.name) };
  }

  /**
   * Replaces the pg_hba.conf rules (the harness's admin rule stays first) and reloads.
   *
   * @throws ConfigError `PGW_CONFIG_INVALID` when PostgreSQL cannot parse a
   *   rule; the previous rules are then restored.
   */
  async writeHba(lines: readonly string[]): Promise<void> {
    const previous = this.#hba;
    this.#hba = [...lines];
    this.#writeHbaFile();
    if (!this.running) return;
    const errors = await this.adminQuery<{ line_number: number | null; error: string }>(
      'SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL',
    );
    if (errors.length > 0) {
      this.#hba = previous;
      this.#writeHbaFile();
      const list = errors.map((e) => `line ${e.line_number ?? '?'}: ${e.error}`).join('; ');
      throw new ConfigError('PGW_CONFIG_INVALID', `PostgreSQL rejected the pg_hba.conf rules: ${list}.`, {
        option: 'hba',
      });
    }
    await this.reload();
  }

  /** Switches the server to another certificate (e.g. a PKI's `expired` one) and reloads. */
  async setTls(tls: ClusterTls): Promise<void> {
    for (const [name, value] of installTls(this.dataDir, resolveTls(tls), this.#owner)) {
      this.#harnessConf.set(name, value);
    }
    this.#writeConf();
    if (this.running) await this.reload();
  }

  /**
   * Starts the postmaster again after {@link Cluster.kill}, on the same port
   * and data directory (crash recovery runs if it was killed). A no-op while
   * it runs.
   */
  async start(): Promise<void> {
    if (this.#stopping) throw new HarnessError('start', 'The cluster has been stopped.');
    if (this.running) return;
    await this.#launch(false);
  }

  /** Fast shutdown, then start: for settings that need a restart. */
  async restart(): Promise<void> {
    if (this.#process?.running) await this.#process.terminate('SIGINT', STOP_TIMEOUT_MS);
    await this.start();
  }

  /**
   * Sends `signal` to the postmaster (default SIGKILL, a crash) and waits for
   * it to exit; SIGKILL follows if it has not after 10 s. The cluster keeps
   * its directory and port, so {@link Cluster.start} brings it back.
   */
  async kill(signal: KillSignal = 'SIGKILL'): Promise<void> {
    await this.#requireRunning('stop').terminate(signal, STOP_TIMEOUT_MS);
  }

  /**
   * Shuts the server down, waits for the postmaster to exit (SIGKILL after the
   * timeout), closes the admin pool and removes the directory. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options);
    return this.#stopping;
  }

  /**
   * Hands the running server and its directory over to the caller, who then
   * stops it (SIGINT to the returned PID) and removes {@link Cluster.dir}:
   * the exit hook leaves it alone and later stop() calls do nothing. Closes
   * the harness's own connections. `pgwarden demo --keep` uses it.
   *
   * @returns the postmaster's PID.
   */
  async release(): Promise<number> {
    const pid = this.#requireRunning('stop').pid;
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool)
      await Promise.race([pool.end().catch(() => undefined), delay(5_000, undefined, { ref: false })]);
    untrack(this.#tracked);
    this.#stopping = Promise.resolve();
    return pid;
  }

  async #stop(options: StopOptions): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    // Close our own connections first, so a fast shutdown has no clients to terminate.
    if (pool)
      await Promise.race([pool.end().catch(() => undefined), delay(5_000, undefined, { ref: false })]);
    if (this.#process?.running) {
      const signal = options.mode === 'immediate' ? 'SIGQUIT' : 'SIGINT';
      await this.#process.terminate(signal, options.timeoutMs ?? STOP_TIMEOUT_MS);
    }
    untrack(this.#tracked);
    if (!(options.keep ?? this.#options.keep ?? false)) {
      releaseOrphanedSharedMemory(this.dataDir);
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    }
  }

  async #initialize(): Promise<void> {
    makeOwnedDir(this.socketDir, this.#owner);
    writeOwnedFile(this.logFile, '', this.#owner);
    if (this.#options.replicaOf) {
      await runBaseBackup({
        binaries: this.binaries,
        primary: this.#options.replicaOf,
        dataDir: this.dataDir,
        cwd: this.dir,
        logFile: this.logFile,
        owner: this.#owner,
      });
    } else {
      await runInitdb({
        binaries: this.binaries,
        dataDir: this.dataDir,
        cwd: this.dir,
        logFile: this.logFile,
        owner: this.#owner,
        dataChecksums: this.#options.dataChecksums ?? true,
      });
    }
    this.#initdbConf = readFileSync(join(this.dataDir, 'postgresql.conf'), 'utf8');
    const choosePort = this.#options.port === undefined;
    if (choosePort) this.#port = await findFreePort(this.#listen[0]);
    this.#setHarnessDefaults();
    if (this.#options.tls) {
      for (const [name, value] of installTls(this.dataDir, resolveTls(this.#options.tls), this.#owner)) {
        this.#harnessConf.set(name, value);
      }
    }
    this.#writeConf();
    this.#writeHbaFile();
    await this.#launch(choosePort);
    this.#pool = openAdminPool(this.socketDir, this.#port);
  }

  #setHarnessDefaults(): void {
    const settings: [string, ConfValue][] = [
      ['listen_addresses', this.#listen.join(',')],
      ['port', this.#port],
      ['unix_socket_directories', this.socketDir],
      // Durability is pointless for a cluster that is deleted after the test.
      ['fsync', false],
      ['synchronous_commit', false],
      ['full_page_writes', false],
      ['max_connections', 100],
      // Several clusters run side by side on small CI machines.
      ['shared_buffers', '16MB'],
    ];
    for (const [name, value] of settings) this.#harnessConf.set(name, value);
  }

  /** Starts the postmaster, retrying with a new port if `mayChangePort` and the port was taken. */
  async #launch(mayChangePort: boolean): Promise<void> {
    const timeoutMs = this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (let portAttempt = 1; ;) {
      const logOffset = fileSize(this.logFile);
      this.#process = await spawnPostmaster({
        binaries: this.binaries,
        dataDir: this.dataDir,
        cwd: this.dir,
        logFile: this.logFile,
        owner: this.#owner,
        port: this.#port,
      });
      const outcome = await awaitReady(this.#process, {
        socketDir: this.socketDir,
        port: this.#port,
        timeoutMs: Math.max(deadline - Date.now(), 0),
        logFile: this.logFile,
        logOffset,
      });
      if (outcome.ready) return;
      if (outcome.failure === 'timeout') await this.#process.terminate('SIGKILL', STOP_TIMEOUT_MS);
      if (outcome.failure === 'port-in-use' && mayChangePort && portAttempt < MAX_PORT_ATTEMPTS) {
        portAttempt += 1;
        this.#port = await findFreePort(this.#listen[0]);
        this.#harnessConf.set('port', this.#port);
        this.#writeConf();
        continue;
      }
      // Backends of a SIGKILLed postmaster notice its death within moments.
      if (outcome.failure === 'predecessor-alive' && Date.now() < deadline) {
        await delay(100);
        continue;
      }
      throw new HarnessError('start', startFailureMessage(outcome, this.#port, timeoutMs));
    }
  }

  #writeConf(): void {
    const text = renderPostgresConf(this.#initdbConf, this.#harnessConf, this.#callerConf);
    writeOwnedFile(join(this.dataDir, 'postgresql.conf'), text, this.#owner);
  }

  #writeHbaFile(): void {
    writeOwnedFile(join(this.dataDir, 'pg_hba.conf'), renderHba(this.#hba), this.#owner);
  }

  #requireRunning(step: 'reload' | 'stop'): ServerProcess {
    if (!this.#process?.running) throw new HarnessError(step, 'The cluster is not running.');
    return this.#process;
  }

  #confLoadTime(): Promise<string> {
    // As text: microseconds, where a Date would round to milliseconds.
    return withAdminClient(this.socketDir, this.#port, async (client) => {
      const result = await client.query<{ t: string }>('SELECT pg_conf_load_time()::text AS t');
      return result.rows[0]?.t ?? '';
    });
  }
}

function makeClusterDir(baseDir: string | undefined): string {
  // Absolute, because pg only treats a host starting with '/' as a socket directory.
  const base = resolve(baseDir ?? tmpdir());
  try {
    return mkdtempSync(join(base, 'pgwarden-pg-'));
  } catch (error) {
    throw new ConfigError('PGW_CONFIG_INVALID', `Cannot create a cluster directory in ${base}.`, {
      option: 'baseDir',
      fix: 'Pass an existing, writable baseDir or fix TMPDIR.',
      cause: error,
    });
  }
}

/**
 * Creates and starts a throwaway cluster: initdb into a new temporary
 * directory, settings and pg_hba.conf written, the postmaster started and
 * ready. See {@link ClusterOptions}. Typical cost: 1 s, nearly all initdb.
 *
 * @throws ConfigError `PGW_CONFIG_INVALID` for bad options or missing binaries.
 * @throws HarnessError when initdb or the server fails (the log tail is in the message).
 */
export function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  return Cluster.create(options);
}

/** Runs `fn` with a fresh cluster and always stops it afterwards. */
export async function withCluster<T>(
  options: ClusterOptions,
  fn: (cluster: Cluster) => Promise<T>,
): Promise<T> {
  const cluster = await startCluster(options);
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

function startFailureMessage(
  outcome: Extract<ReadyOutcome, { ready: false }>,
  port: number,
  timeoutMs: number,
): string {
  const status = outcome.status;
  const how = status?.signal ? `killed by ${status.signal}` : `exit code ${status?.code ?? '?'}`;
  const reason =
    outcome.failure === 'timeout'
      ? `did not accept connections within ${timeoutMs} ms`
      : outcome.failure === 'port-in-use'
        ? `could not bind port ${port}: it is in use`
        : `exited during start-up (${how})`;
  return `PostgreSQL ${reason}. Server log:\n${tail(outcome.log)}`;
}
