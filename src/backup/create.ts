/**
 * `pgwarden backup create`: pg_dump (custom format, no compression of its
 * own) streams through compression and chunked AES-256-GCM into a hidden
 * temporary file in the backup directory, renamed into place only when
 * everything succeeded; then the manifest is written. Memory stays flat:
 * every stage is a stream with backpressure. The dump is cut into 1 MiB
 * frames compressed in parallel by worker threads (format version 2), so
 * compression runs beside pg_dump instead of after it on one core.
 *
 * Row counts come from the snapshot pg_dump uses: a REPEATABLE READ
 * transaction exports its snapshot, pg_dump imports it with --snapshot, the
 * tables are listed in that transaction and their rows counted from the
 * COPY data as it streams past (dump-row-counts.ts); queries in the same
 * transaction count only what the stream cannot show.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgwardenError } from '../errors.js';
import { createPool, type WardenPool } from '../pool/pool.js';
import { BackupError, ioError } from './backup-error.js';
import { acquireLock } from './lock.js';
import { backupPaths, ensureBackupDir, newBackupId } from './backup-dir.js';
import { lastLines, spawnTool, type ToolProcess } from './child.js';
import { ChunkEncryptor } from './format/chunk-encryptor.js';
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_FRAME_SIZE,
  FORMAT_VERSION,
  MAX_FRAME_SIZE,
  MIN_FRAME_SIZE,
  NONCE_PREFIX_LENGTH,
  SALT_LENGTH,
  STREAM_BUFFER,
  type Compression,
} from './format/constants.js';
import { assertCodecAvailable, defaultCompression, isFramed, minNodeToRead } from './frames/codecs.js';
import { defaultWorkerCount } from './frames/worker-pool.js';
import { manifestKey, payloadKey } from './format/derive.js';
import { encodeHeader } from './format/header.js';
import { CountTap, HashTap } from './io/hash-tap.js';
import { SyncTap } from './io/sync-tap.js';
import { keyIdOf, type KeySource } from './keys/key-source.js';
import { keySourceForCreate, type BackupKeyOptions } from './keys/select.js';
import { connectedTarget } from './connected-target.js';
import { libpqEnvironment, type LibpqSession } from './libpq-env.js';
import { signManifest, writeManifest, type BackupManifest, type TableCount } from './manifest.js';
import {
  checkChunkSize,
  checkCompression,
  checkInteger,
  checkRetentionClass,
  interrupted,
  isKeySource,
  raceAbort,
  type ConnectionInput,
} from './options.js';
import { findPgTool, toolCommand } from './pg-tools.js';
import { payloadEncoder } from './payload.js';
import { progressTicker, type ProgressListener } from './progress.js';
import { countRows, estimateDumpBytes } from './row-counts.js';
import { DumpRowCounts } from './dump-row-counts.js';

/** pg_dump's wait for its table locks, by default: a minute, then a coded failure. */
export const DEFAULT_LOCK_WAIT_TIMEOUT_MS = 60_000;

/** A query's error that says lock_timeout ran out (SQLSTATE lock_not_available). */
function isLockTimeout(error: unknown): boolean {
  return (error as { code?: string })?.code === '55P03';
}

/** The option and fix of a failure that was a table lock held too long, else nothing. */
function lockTimeoutHint(locked: boolean, timeoutMs: number): { option?: string; fix?: string } {
  if (!locked) return {};
  return {
    option: '--lock-wait-timeout',
    fix: `A table stayed locked for ${timeoutMs} ms (a migration, VACUUM FULL or another ACCESS EXCLUSIVE lock: see pg_locks). Retry when it is released, or raise --lock-wait-timeout (0 waits forever). The partial file was removed and no manifest written.`,
  };
}

export interface CreateBackupOptions extends ConnectionInput {
  /** Backup directory; created with mode 0700 when missing, refused when group or others can enter it. */
  dir: string;
  /** Where the key comes from (exactly one source), or a ready key source. Required: backups are always encrypted. */
  keys: BackupKeyOptions | KeySource;
  /**
   * `zstd-frames` (zstd level 1; the default where node:zlib has zstd, Node
   * 22.15+ / 23.8+, and then readable only there), `brotli` (quality 1; the
   * default elsewhere), `gzip` (level 1), `none`, or `zstd` (pg_dump 16+
   * compresses its own output; no layer here).
   */
  compression?: Compression;
  /**
   * Worker threads compressing frames. Default: one less than the cores, 1 to
   * 4 (pg_dump and its backend take a core; one worker keeps up with about
   * 300 MiB/s of pg_dump output). 1 to 64.
   */
  workers?: number;
  /** Uncompressed bytes per compressed frame. Default 1 MiB; 64 KiB to 16 MiB. */
  frameSize?: number;
  /** Plaintext bytes per encrypted chunk. Default 65 536 (64 KiB); 1 KiB to 1 MiB. */
  chunkSize?: number;
  /** Directory holding pg_dump. Default: PG_BIN, then the server's major under /usr/lib/postgresql, then PATH. */
  pgBin?: string;
  /** Retention class recorded in the manifest (cleanup works per database and class). Default `daily`. */
  retentionClass?: string;
  /** Days until the backup expires (manifest `retention.expiresAt`). Default 30. */
  keepDays?: number;
  /** Count rows of every table in the dump's snapshot, for verification level 3. Default true. */
  rowCounts?: boolean;
  /**
   * How long pg_dump may wait for its table locks (pg_dump
   * `--lock-wait-timeout`) before the backup fails with
   * PGW_BACKUP_DUMP_FAILED. Default 60 000 ms; 0 waits forever, as plain
   * pg_dump does. A table held in ACCESS EXCLUSIVE mode (a migration, a
   * VACUUM FULL) would otherwise stall a nightly backup with no end, and
   * every session queued behind pg_dump's lock request with it.
   */
  lockWaitTimeoutMs?: number;
  /** Aborting stops pg_dump, removes the temporary file and rejects with PGW_BACKUP_INTERRUPTED. */
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** Default 1000 ms. */
  progressIntervalMs?: number;
}

export interface CreateBackupResult {
  readonly id: string;
  /** The format version written (docs/backup-format.md). */
  readonly formatVersion: number;
  /** The oldest Node that can verify or restore this backup (zstd-frames needs 22.15). */
  readonly minNodeToRead: string;
  /** Worker threads that compressed frames (0 when nothing was compressed here). */
  readonly workers: number;
  /**
   * How the manifest's rows were counted: from pg_dump's COPY stream, with
   * `count(*)` queries in the snapshot (pg_dump compressed its data), or not.
   */
  readonly rowCounts: 'stream' | 'queries' | 'off';
  readonly file: string;
  readonly manifestPath: string;
  readonly manifest: BackupManifest;
  readonly durationMs: number;
}

interface ServerFacts {
  version: string;
  num: number;
  database: string;
}

export async function createBackup(options: CreateBackupOptions): Promise<CreateBackupResult> {
  const started = new Date();
  const env = options.env ?? process.env;
  const compression = checkCompression(options.compression ?? defaultCompression());
  assertCodecAvailable(compression, 'create');
  const workers = checkInteger(options.workers ?? defaultWorkerCount(), '--workers', 1, 64);
  const frameSize = checkInteger(
    options.frameSize ?? DEFAULT_FRAME_SIZE,
    'frameSize',
    MIN_FRAME_SIZE,
    MAX_FRAME_SIZE,
  );
  const chunkSize = checkChunkSize(options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const retentionClass = checkRetentionClass(options.retentionClass ?? 'daily');
  const keepDays = checkInteger(options.keepDays ?? 30, '--keep-days', 0, 36_500);
  const lockWaitTimeoutMs = checkInteger(
    options.lockWaitTimeoutMs ?? DEFAULT_LOCK_WAIT_TIMEOUT_MS,
    '--lock-wait-timeout',
    0,
    86_400_000,
  );
  const { signal } = options;
  // The key first: without one nothing else happens, not even a connection.
  const keySource = isKeySource(options.keys) ? options.keys : keySourceForCreate({ ...options.keys, env });
  const dir = ensureBackupDir(options.dir, true);
  const lock = acquireLock(dir, 'create');
  let pool: WardenPool | undefined;
  let session: LibpqSession | undefined;
  let tool: ToolProcess | undefined;
  let temp: string | undefined;
  // Key material, zeroed in `finally` whatever happens: a failed run must not leave it in memory.
  let dataKey: Buffer | undefined;
  let hmacKey: Buffer | undefined;
  let encoder: Transform | undefined;
  try {
    if (signal?.aborted) throw interrupted('backup');
    pool = await raceAbort(
      createPool({ ...options.connection, env, purpose: 'admin', checkRole: false, min: 0, max: 2 }),
      signal,
      'backup',
    );
    const client = await pool.connect();
    let inTransaction = false;
    try {
      const facts = (
        await client.query<ServerFacts>(
          `SELECT current_setting('server_version') AS version,
                  current_setting('server_version_num')::int AS num,
                  current_database() AS database`,
        )
      ).rows[0]!;
      const serverMajor = Math.floor(facts.num / 10_000);
      const dump = findPgTool('pg_dump', {
        pgBin: options.pgBin,
        env,
        minMajor: serverMajor,
        preferMajor: serverMajor,
      });
      if (compression === 'zstd' && dump.major < 16) {
        throw new BackupError(
          'PGW_BACKUP_UNSUPPORTED',
          `--compress zstd needs pg_dump 16 or newer; ${dump.path} is ${dump.version}.`,
          {
            option: '--compress',
            fix: 'Use --compress brotli (the default), or pg_dump 16+ (--pg-bin).',
          },
        );
      }
      const id = newBackupId(facts.database, started);
      const paths = backupPaths(dir, id);
      const pending = keySource.createDataKey(id);
      const created = await raceAbort(pending, signal, 'backup').catch((error: unknown) => {
        // Aborted while the key was being made: zero it when it arrives.
        void pending.then(
          (late) => late.dataKey.fill(0),
          () => undefined,
        );
        throw error;
      });
      dataKey = created.dataKey;
      const { wrap } = created;
      const salt = randomBytes(SALT_LENGTH);
      const header = encodeHeader({
        backupId: id,
        createdAt: started.toISOString(),
        cipher: 'aes-256-gcm',
        kdf: 'hkdf-sha256',
        salt: salt.toString('base64'),
        noncePrefix: randomBytes(NONCE_PREFIX_LENGTH).toString('base64'),
        chunkSize,
        compression,
        ...(isFramed(compression) ? { frameSize } : {}),
        key: wrap,
        database: facts.database,
        server: { version: facts.version },
        pgDump: { version: dump.version },
      });
      const encryptor = new ChunkEncryptor({ header, payloadKey: payloadKey(dataKey, salt) });
      // Workers start now, while the snapshot is exported and pg_dump reads the catalog.
      encoder = payloadEncoder(compression, { workers, frameSize });
      hmacKey = manifestKey(dataKey, salt);
      dataKey.fill(0);
      // Where the pool's connection logged in, not config.host and config.password.
      const target = connectedTarget(client);
      session = libpqEnvironment(pool.config, { target });

      inTransaction = true; // from here a failure rolls back, even of a BEGIN that did not happen
      // One round trip. The pool's session timeouts are for application queries, not for
      // counting a large table; but not waiting for locks: the size estimate and the row counts
      // wait behind an exclusive lock as pg_dump would, and as long as pg_dump may.
      await client.query(
        `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
         SET LOCAL statement_timeout = 0;
         SET LOCAL idle_in_transaction_session_timeout = 0;
         SET LOCAL lock_timeout = ${lockWaitTimeoutMs}`,
      );
      const snapshot = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
      let estimatedTotalBytes: number | undefined = undefined;

      let fd: number;
      try {
        fd = openSync(paths.temp, 'wx', 0o600);
      } catch (error) {
        throw ioError(error, `creating ${paths.temp}`); // not ours to remove (EEXIST) or never created
      }
      temp = paths.temp;
      const out = createWriteStream('', { fd, highWaterMark: STREAM_BUFFER });
      const command = toolCommand(
        dump,
        [
          '--format=custom',
          compression === 'zstd' ? '--compress=zstd:1' : '--compress=0',
          `--snapshot=${snapshot}`,
          ...(lockWaitTimeoutMs > 0 ? [`--lock-wait-timeout=${lockWaitTimeoutMs}`] : []),
          '--no-password',
        ],
        'stdout',
      );
      tool = spawnTool(
        command.path,
        command.args,
        { inherit: env, set: session.env },
        session.stdio(['ignore', 'pipe', 'pipe']),
      );
      const count = new CountTap({ coalesce: !isFramed(compression) });
      const hash = new HashTap();
      // Rows are counted from the COPY data, except where pg_dump compresses it itself.
      const rowCounts = options.rowCounts ?? true;
      const streamCounts = rowCounts && compression !== 'zstd' ? new DumpRowCounts() : undefined;
      if (streamCounts) count.observe = (chunk) => streamCounts.counter.write(chunk);
      const firstBytes = new Promise<void>((resolve) => {
        count.onFirstBytes = resolve;
      });
      const ticker = progressTicker(
        'create',
        'dump',
        options.onProgress,
        () => ({ bytes: count.bytes, estimatedTotalBytes, writtenBytes: hash.bytes }),
        options.progressIntervalMs,
      );
      const piped = pipeline(tool.child.stdout!, count, encoder, encryptor, hash, new SyncTap(fd), out, {
        ...(signal ? { signal } : {}),
      }).then(
        () => undefined,
        (error: unknown) => error,
      );

      // After pg_dump started: pg_table_size takes a lock, and waits (as pg_dump does) behind an exclusive one.
      estimatedTotalBytes = await raceAbort(
        estimateDumpBytes(client).catch((error: unknown) => {
          throw new BackupError(
            'PGW_BACKUP_DUMP_FAILED',
            `Reading the size of the tables to dump failed: ${(error as Error).message}`,
            { ...lockTimeoutHint(isLockTimeout(error), lockWaitTimeoutMs), cause: error },
          );
        }),
        signal,
        'backup',
      );
      let tables: TableCount[] | null = null;
      if (streamCounts) {
        // The table of contents comes before any data: the snapshot is still exported here.
        await raceAbort(Promise.race([streamCounts.tocRead, tool.exited, piped]), signal, 'backup');
        const tocRead =
          streamCounts.counter.tables !== undefined || streamCounts.counter.unsupported !== undefined;
        // Without it pg_dump failed: its error is reported below.
        if (tocRead) await raceAbort(streamCounts.inSnapshot(client), signal, 'backup');
      } else if (rowCounts) {
        tables = await raceAbort(
          countRows(client).catch((error: unknown) => {
            throw new BackupError(
              'PGW_BACKUP_DUMP_FAILED',
              `Counting the rows of the tables to dump failed: ${(error as Error).message}`,
              {
                fix: 'The role needs SELECT on every table pg_dump dumps (or pass rowCounts: false).',
                ...lockTimeoutHint(isLockTimeout(error), lockWaitTimeoutMs),
                cause: error,
              },
            );
          }),
          signal,
          'backup',
        );
      }
      // The exporting transaction must outlive pg_dump's SET TRANSACTION SNAPSHOT;
      // its first output byte comes after that.
      await raceAbort(Promise.race([firstBytes, tool.exited, piped]), signal, 'backup');
      await client.query('COMMIT');
      inTransaction = false;

      const [pipeError, exit] = await raceAbort(Promise.all([piped, tool.exited]), signal, 'backup');
      ticker.stop(pipeError === undefined && exit.code === 0);
      if (signal?.aborted) throw interrupted('backup');
      if (pipeError !== undefined) throw ioError(pipeError, `writing ${paths.temp}`);
      if (exit.code !== 0) {
        const stderr = tool.stderr();
        throw new BackupError(
          'PGW_BACKUP_DUMP_FAILED',
          `pg_dump exited with ${exit.signal ?? `code ${exit.code}`}: ${lastLines(stderr) || exit.error?.message || 'no error output'}.`,
          /could not obtain lock on relation/.test(stderr)
            ? lockTimeoutHint(true, lockWaitTimeoutMs)
            : { fix: 'Read the pg_dump error above; the partial file was removed and no manifest written.' },
        );
      }
      if (streamCounts) tables = streamCounts.result();
      fsyncPath(paths.temp);

      const completed = new Date();
      const manifest = signManifest(
        {
          format: 'pgwarden-backup-manifest',
          version: 1,
          id,
          file: `${id}.pgwb`,
          createdAt: started.toISOString(),
          completedAt: completed.toISOString(),
          database: facts.database,
          host: target.host,
          port: target.port,
          server: { version: facts.version, versionNum: facts.num },
          pgDump: { version: dump.version },
          compression,
          chunkSize,
          chunks: encryptor.chunks,
          sizes: { dump: count.bytes, file: hash.bytes },
          sha256: hash.digest(),
          key: { type: wrap.type, id: keyIdOf(wrap) },
          tables,
          retention: {
            class: retentionClass,
            keepDays,
            expiresAt: new Date(started.getTime() + keepDays * 86_400_000).toISOString(),
          },
        },
        hmacKey,
      );
      hmacKey.fill(0);
      renameSync(paths.temp, paths.file);
      temp = paths.file; // removed below if the manifest cannot be written
      writeManifest(paths.manifest, manifest);
      temp = undefined;
      fsyncPath(dir);
      return {
        id,
        formatVersion: FORMAT_VERSION,
        minNodeToRead: minNodeToRead(compression),
        workers: isFramed(compression) ? workers : 0,
        rowCounts: !rowCounts ? 'off' : (streamCounts?.method ?? 'queries'),
        file: paths.file,
        manifestPath: paths.manifest,
        manifest,
        durationMs: Date.now() - started.getTime(),
      };
    } finally {
      if (inTransaction && !signal?.aborted) await client.query('ROLLBACK').catch(() => undefined);
      // After an abort a count may still be running: drop the connection rather than wait.
      client.release(signal?.aborted || inTransaction ? true : undefined);
    }
  } catch (error) {
    if (signal?.aborted) throw interrupted('backup');
    throw error instanceof PgwardenError ? error : ioError(error, 'creating the backup');
  } finally {
    dataKey?.fill(0);
    hmacKey?.fill(0);
    await tool?.stop();
    encoder?.destroy(); // its workers, when the pipeline never ran
    if (temp) rmSync(temp, { force: true });
    session?.dispose();
    await pool?.close().catch(() => undefined);
    lock.release();
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
