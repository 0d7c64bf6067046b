/**
 * `pgwarden backup restore`: decrypts and decompresses a backup straight
 * into `pg_restore`, by default in one transaction that stops at the first
 * error, so a failed restore leaves nothing behind. A target that already
 * holds objects is refused unless `clean` is set. With `jobs > 1` the dump is
 * first decrypted to a private temporary file, because pg_restore cannot
 * run in parallel from a pipe (and cannot combine --jobs with
 * --single-transaction).
 */
import { existsSync, createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { PgwardenError } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import { createPool, type WardenPool } from '../pool/pool.js';
import { BackupError, corrupt, ioError } from './backup-error.js';
import type { BackupPaths } from './backup-dir.js';
import { locateBackup } from './locate.js';
import { lastLines, spawnTool, type ToolProcess } from './child.js';
import { ChunkDecryptor } from './format/chunk-decryptor.js';
import { STREAM_BUFFER } from './format/constants.js';
import { CountTap, HashTap } from './io/hash-tap.js';
import { keyResolver, type BackupKeyOptions } from './keys/select.js';
import { connectedTarget, type ConnectionTarget } from './connected-target.js';
import { libpqEnvironment, type LibpqSession } from './libpq-env.js';
import { SecretFiles } from './secret-files.js';
import { readManifest, type BackupManifest } from './manifest.js';
import { checkInteger, interrupted, raceAbort, type ConnectionInput } from './options.js';
import { assertCodecAvailable } from './frames/codecs.js';
import { payloadDecoder } from './payload.js';
import { findPgTool, toolCommand } from './pg-tools.js';
import { progressTicker, type ProgressListener } from './progress.js';
import {
  alreadyOpened,
  checkManifestAgainstHeader,
  keyOpener,
  readHeaderFromFile,
  reclassifyKeyError,
  type OpenedDataKey,
  type OpenedKeys,
} from './reader.js';
import { ToolSink } from './tool-sink.js';

export interface RestoreBackupOptions extends ConnectionInput {
  /** A backup id or `latest` (the newest complete backup; both with `dir`), or the path of its `.pgwb` file or manifest. */
  target: string;
  /** Backup directory, for ids. */
  dir?: string;
  /** Key file or passphrase, when the backup uses one; KMS and Vault are read from the header and environment. */
  keys?: BackupKeyOptions;
  /** Drop the objects of the dump before recreating them (`--clean --if-exists`). Default false: a non-empty target is refused. */
  clean?: boolean;
  /** Parallel pg_restore jobs. Default 1 (streamed). Above 1 the dump is decrypted to a temporary file first. */
  jobs?: number;
  /** One transaction, all or nothing. Default true; impossible (and ignored) with `jobs > 1`. */
  singleTransaction?: boolean;
  /** `--no-owner`: objects belong to the restoring role. Default false. */
  noOwner?: boolean;
  /** `--no-privileges`: skip GRANT/REVOKE. Default false. */
  noPrivileges?: boolean;
  /** Directory holding pg_restore. Default: PG_BIN, the Debian directories, PATH. */
  pgBin?: string;
  /** Where `jobs > 1` writes the decrypted dump (a private 0700 directory inside it). Default the OS temp directory. */
  tempDir?: string;
  /** Refuse a backup without its manifest. Default false (the chunks are authenticated on their own). */
  requireManifest?: boolean;
  /** Worker threads decompressing frames (format version 2). Default: one less than the cores, 1 to 4. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  progressIntervalMs?: number;
}

export interface RestoreResult {
  readonly id: string;
  readonly database: string;
  readonly jobs: number;
  readonly singleTransaction: boolean;
  /** Bytes of the backup file read. */
  readonly bytes: number;
  /** Chunks authenticated and decrypted. */
  readonly chunks: number;
  /** Bytes of pg_dump's archive handed to pg_restore (after decompression). */
  readonly dumpBytes: number;
  /** The pg_restore that ran, e.g. `pg_restore 15.8`. */
  readonly pgRestore: string;
  readonly durationMs: number;
  readonly manifest: BackupManifest | undefined;
}

/** Counts objects a restore could collide with: relations, functions, types, schemas, extensions. */
export const USER_OBJECTS_SQL = `
SELECT
  (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)')
+ (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
+ (SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typtype IN ('e', 'd', 'r', 'm'))
+ (SELECT count(*) FROM pg_catalog.pg_namespace
     WHERE nspname NOT IN ('public', 'pg_catalog', 'information_schema') AND nspname !~ '^pg_')
+ (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql') AS objects`;

/** `dbname='…'` as a conninfo string: pg_restore's -d takes conninfo when it contains "=". */
function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function majorOf(version: string): number {
  return Number(/^(\d+)/.exec(version)?.[1] ?? 0);
}

export function restoreBackup(options: RestoreBackupOptions): Promise<RestoreResult> {
  return restoreAuthenticated(options, undefined);
}

/**
 * What verify --level 3 has already established before its restore: the
 * header read, the data key opened and the manifest authenticated with it.
 * The restore uses these, not a second reading of the files, which could
 * give a new and unauthenticated manifest.
 */
export interface AuthenticatedBackup {
  readonly key: OpenedDataKey;
  readonly manifest: BackupManifest;
}

/** `restoreBackup` of a backup already authenticated (verify --level 3); not part of the public API. */
export async function restoreAuthenticated(
  options: RestoreBackupOptions,
  authenticated: AuthenticatedBackup | undefined,
): Promise<RestoreResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const jobs = checkInteger(options.jobs ?? 1, '--jobs', 1, 64);
  const workers =
    options.workers === undefined ? undefined : checkInteger(options.workers, '--workers', 1, 64);
  const singleTransaction = jobs === 1 && (options.singleTransaction ?? true);
  const { signal } = options;
  const paths = locateBackup(options.target, options.dir);
  const manifest = authenticated?.manifest ?? loadManifest(paths, options.requireManifest ?? false);
  // Verify read and checked the header with the key; the stream is held to those same bytes.
  const header = authenticated?.key.header ?? readHeaderFromFile(paths.file);
  if (manifest) checkManifestAgainstHeader(manifest, header, paths);
  // A codec this runtime lacks is refused before the target is touched.
  assertCodecAvailable(header.header.compression, 'read');
  const resolver = keyResolver({ ...options.keys, env });
  // Fail on a missing key file before touching the target.
  resolver(header.header.key);

  let pool: WardenPool | undefined;
  let session: LibpqSession | undefined;
  let tool: ToolProcess | undefined;
  let dumpFile: SecretFiles | undefined;
  let decoder: Transform | undefined;
  let ticker: { stop(done: boolean): void } | undefined;
  const opened: OpenedKeys = { manifestKey: undefined };
  try {
    pool = await raceAbort(
      createPool({ ...options.connection, env, purpose: 'admin', checkRole: false, min: 0, max: 1 }),
      signal,
      'restore',
    );
    // One client, so pg_restore can connect where, and as whom, it logged in.
    const client = await pool.connect();
    let facts: { num: number; database: string; objects: string };
    let target: ConnectionTarget;
    try {
      facts = (
        await client.query<{ num: number; database: string; objects: string }>(
          `SELECT current_setting('server_version_num')::int AS num, current_database() AS database, (${USER_OBJECTS_SQL}) AS objects`,
        )
      ).rows[0]!;
      target = connectedTarget(client);
    } catch (error) {
      throw classifyQueryError(error); // as pool.query would have
    } finally {
      client.release();
    }
    if (!options.clean && Number(facts.objects) > 0) {
      throw new BackupError(
        'PGW_BACKUP_TARGET_NOT_EMPTY',
        `The target database "${facts.database}" already holds ${facts.objects} object(s); restoring into it would mix two databases.`,
        {
          option: '--clean',
          fix: 'Restore into a new, empty database, or pass --clean to drop the dumped objects first.',
        },
      );
    }
    const dumpMajor = majorOf(header.header.pgDump.version);
    const serverMajor = Math.floor(facts.num / 10_000);
    const restoreTool = findPgTool('pg_restore', {
      pgBin: options.pgBin,
      env,
      minMajor: dumpMajor,
      preferMajor: Math.max(serverMajor, dumpMajor),
    });
    session = libpqEnvironment(pool.config, { target });
    const database = facts.database;
    await pool.close();
    pool = undefined;

    const args = [
      '--format=custom',
      '--exit-on-error',
      '--no-password',
      `--dbname=${dbnameConninfo(database)}`,
      ...(singleTransaction ? ['--single-transaction'] : []),
      ...(jobs > 1 ? [`--jobs=${jobs}`] : []),
      ...(options.clean ? ['--clean', '--if-exists'] : []),
      ...(options.noOwner ? ['--no-owner'] : []),
      ...(options.noPrivileges ? ['--no-privileges'] : []),
    ];
    const hash = new HashTap();
    const decryptor = new ChunkDecryptor({
      openKey: authenticated
        ? alreadyOpened(authenticated.key)
        : keyOpener(resolver, header, manifest, paths, opened),
    });
    // Only counts: the decoder's frames or the decryptor's chunks go on as they are.
    const dump = new CountTap({ coalesce: false });
    const checkHash = () => {
      if (manifest && (hash.digest() !== manifest.sha256 || hash.bytes !== manifest.sizes.file)) {
        throw corrupt(`The backup file no longer matches the SHA-256 in its manifest.`);
      }
    };
    let inputDone = false;
    ticker = progressTicker(
      'restore',
      'restore',
      options.onProgress,
      () =>
        inputDone
          ? { phase: 'post-data', bytes: hash.bytes }
          : { bytes: hash.bytes, totalBytes: manifest?.sizes.file ?? fileSize(paths.file) },
      options.progressIntervalMs,
    );
    const source = createReadStream(paths.file, { highWaterMark: STREAM_BUFFER });
    decoder = payloadDecoder(header, { workers });
    const decrypt = [source, hash, decryptor, decoder, dump] as const;
    try {
      if (jobs === 1) {
        const command = toolCommand(restoreTool, args, 'stdin');
        tool = spawnTool(
          command.path,
          command.args,
          { inherit: env, set: session.env },
          session.stdio(['pipe', 'ignore', 'pipe']),
        );
        await raceAbort(
          pipeline(
            ...decrypt,
            new ToolSink(tool, {
              beforeEnd: () => {
                checkHash();
                // pg_restore now creates indexes and constraints: no more bytes to count.
                inputDone = true;
              },
            }),
            signal ? { signal } : {},
          ),
          signal,
          'restore',
        );
      } else {
        // The decrypted dump is a secret file like the passfile: unlinked at once on Linux, so a
        // killed restore leaves no plaintext behind; its slot follows the passfile's.
        const base = ['ignore', 'ignore', 'pipe'] as const;
        dumpFile = new SecretFiles({
          purpose: 'restore',
          firstFd: session.stdio(base).length,
          ...(options.tempDir ? { tmpDir: options.tempDir } : {}),
        });
        const plain = dumpFile.create('dump.custom');
        dumpFile.seal();
        await raceAbort(
          pipeline(
            ...decrypt,
            createWriteStream('', { fd: plain.fd, autoClose: false, highWaterMark: STREAM_BUFFER }),
            signal ? { signal } : {},
          ),
          signal,
          'restore',
        );
        checkHash();
        inputDone = true;
        tool = spawnTool(
          restoreTool.path,
          [...args, plain.path],
          { inherit: env, set: session.env },
          dumpFile.stdio(session.stdio(base)),
        );
      }
    } catch (error) {
      // pg_restore's own message explains an early stop better than EPIPE.
      if (tool && !(error instanceof PgwardenError) && !signal?.aborted) {
        const exit = await tool.exited;
        if (exit.code !== 0) throw restoreFailed(tool, exit, singleTransaction);
      }
      throw error;
    }
    const exit = await raceAbort(tool.exited, signal, 'restore');
    ticker.stop(exit.code === 0);
    if (exit.code !== 0) throw restoreFailed(tool, exit, singleTransaction);
    return {
      id: header.header.backupId,
      database,
      jobs,
      singleTransaction,
      bytes: hash.bytes,
      chunks: decryptor.chunks,
      dumpBytes: dump.bytes,
      pgRestore: `${basename(restoreTool.path)} ${restoreTool.version}`,
      durationMs: Date.now() - started,
      manifest,
    };
  } catch (error) {
    if (signal?.aborted) throw interrupted('restore');
    const reclassified = await reclassifyKeyError(error, paths, manifest);
    throw reclassified instanceof PgwardenError
      ? reclassified
      : ioError(reclassified, 'restoring the backup');
  } finally {
    ticker?.stop(false);
    decoder?.destroy(); // its workers, when the pipeline never ran
    await tool?.stop();
    dumpFile?.dispose();
    session?.dispose();
    opened.manifestKey?.fill(0);
    await pool?.close().catch(() => undefined);
  }
}

function restoreFailed(
  tool: ToolProcess,
  exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error },
  singleTransaction: boolean,
): BackupError {
  return new BackupError(
    'PGW_BACKUP_RESTORE_FAILED',
    `pg_restore exited with ${exit.signal ?? `code ${exit.code}`}: ${lastLines(tool.stderr()) || exit.error?.message || 'no error output'}.${singleTransaction ? ' The transaction was rolled back: nothing was restored.' : ' Objects restored before the error remain.'}`,
    { fix: 'Read the pg_restore error; missing roles can be skipped with --no-owner / --no-privileges.' },
  );
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

function loadManifest(paths: BackupPaths, required: boolean): BackupManifest | undefined {
  if (!existsSync(paths.manifest)) {
    if (!required) return undefined;
    throw new BackupError('PGW_BACKUP_NOT_FOUND', `The manifest ${paths.manifest} does not exist.`, {
      fix: 'Restore without requireManifest, or find the manifest.',
    });
  }
  return readManifest(paths.manifest);
}
