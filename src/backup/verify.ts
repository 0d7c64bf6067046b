/**
 * `pgwarden backup verify`, three levels, each including the ones below:
 * 1. the file's SHA-256 and size against the manifest (no key needed);
 * 2. the data key opened, the manifest's HMAC checked, every chunk
 *    authenticated and decrypted, and `pg_restore --list` reading the dump;
 * 3. a restore into a scratch database, row counts compared with the
 *    manifest's, the scratch database dropped. Level 2's decryption is
 *    this restore's own pass (every chunk authenticated, the sizes checked,
 *    pg_restore reading the whole archive), not a pass before it, and the
 *    key is opened once for both.
 * The result is written back into the manifest, authenticated when the key
 * was available. An unauthenticated result (no key, or a wrong one) never
 * replaces an authenticated record: anyone who can run `verify` could
 * otherwise erase the proof that a backup is good, and `cleanup
 * --min-verified` would then delete it.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PgwardenError } from '../errors.js';
import { createPool } from '../pool/pool.js';
import { quoteIdentifier } from '../sql/sql.js';
import { BackupError, corrupt } from './backup-error.js';
import type { BackupPaths } from './backup-dir.js';
import { locateBackup } from './locate.js';
import { lastLines, spawnTool } from './child.js';
import { ChunkDecryptor } from './format/chunk-decryptor.js';
import { STREAM_BUFFER } from './format/constants.js';
import { CountTap, HashTap } from './io/hash-tap.js';
import type { EncodedHeader } from './format/header.js';
import { keyResolver, type BackupKeyOptions } from './keys/select.js';
import { readManifest, withVerification, writeManifest, type BackupManifest } from './manifest.js';
import { interrupted, raceAbort, type ConnectionInput } from './options.js';
import { findPgTool, toolCommand } from './pg-tools.js';
import { assertCodecAvailable } from './frames/codecs.js';
import { payloadDecoder } from './payload.js';
import { progressTicker, type ProgressListener } from './progress.js';
import {
  alreadyOpened,
  checkFileHash,
  checkManifestAgainstHeader,
  keyOpener,
  readHeaderFromFile,
  reclassifyKeyError,
  type OpenedDataKey,
  type OpenedKeys,
} from './reader.js';
import { restoreAuthenticated, type RestoreResult } from './restore.js';
import { compareCounts, countRows } from './row-counts.js';
import { ToolSink } from './tool-sink.js';

export type VerifyLevel = 1 | 2 | 3;

export interface VerifyBackupOptions extends ConnectionInput {
  /** A backup id or `latest` (the newest complete backup; both with `dir`), or the path of its `.pgwb` file or manifest. */
  target: string;
  dir?: string;
  /** 1, 2 or 3 (see the module comment). */
  level: VerifyLevel;
  /** Key file or passphrase (levels 2 and 3; at level 1 it lets the result be authenticated). */
  keys?: BackupKeyOptions;
  /** Directory holding pg_restore. */
  pgBin?: string;
  /** Write the result into the manifest. Default true. */
  record?: boolean;
  /** Worker threads decompressing frames (format version 2). Default: one less than the cores, 1 to 4. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  progressIntervalMs?: number;
}

export interface VerifyCheck {
  readonly name:
    'file-sha256' | 'manifest-hmac' | 'chunks' | 'pg_restore-list' | 'scratch-restore' | 'row-counts';
  /** `skipped` when the check could not run (the detail says why); it never counts as passed. */
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly detail: string;
}

export interface VerifyResult {
  readonly id: string;
  readonly level: VerifyLevel;
  /** No check failed. */
  readonly ok: boolean;
  readonly checks: readonly VerifyCheck[];
  readonly error?: { readonly code: string; readonly message: string; readonly fix?: string | undefined };
  /**
   * How the result was recorded in the manifest. `kept-authenticated`: not
   * recorded, because it is unauthenticated and the manifest holds an
   * authenticated record, which it may not replace.
   */
  readonly recorded: 'authenticated' | 'unauthenticated' | 'not-recorded' | 'kept-authenticated';
  readonly durationMs: number;
}

export async function verifyBackup(options: VerifyBackupOptions): Promise<VerifyResult> {
  const started = Date.now();
  const level = options.level;
  if (![1, 2, 3].includes(level)) {
    throw new BackupError('PGW_BACKUP_UNSUPPORTED', `Verification level ${String(level)} does not exist.`, {
      option: '--level',
      fix: 'Use --level 1, 2 or 3.',
    });
  }
  const env = options.env ?? process.env;
  const paths = locateBackup(options.target, options.dir);
  // Without a readable manifest there is nothing to verify against, nor to record into.
  const manifest = readManifest(paths.manifest);
  if (level >= 2) {
    // A missing key file or passphrase is a usage error, not a verification result.
    let header: EncodedHeader | undefined;
    try {
      header = readHeaderFromFile(paths.file);
    } catch {
      // a damaged header fails below, as a recorded result
    }
    if (header) keyResolver({ ...options.keys, env })(header.header.key);
    // Nor is a runtime without the backup's codec: the backup is not at fault.
    if (header) assertCodecAvailable(header.header.compression, 'read');
  }
  const checks: VerifyCheck[] = [];
  const opened: OpenedKeys = { manifestKey: undefined };
  const haveKeys = level >= 2 || hasKeyMaterial(options.keys, manifest);
  let failure: PgwardenError | undefined;
  try {
    await step(
      checks,
      'file-sha256',
      `${manifest.sizes.file} bytes, SHA-256 ${manifest.sha256.slice(0, 16)}…`,
      async () => {
        let hashed = 0;
        const ticker = progressTicker(
          'verify',
          'sha256',
          options.onProgress,
          () => ({ bytes: hashed, totalBytes: manifest.sizes.file }),
          options.progressIntervalMs,
        );
        try {
          await raceAbort(
            checkFileHash(paths, manifest, (bytes) => (hashed = bytes)),
            options.signal,
            'verification',
          );
          ticker.stop(true);
        } finally {
          ticker.stop(false);
        }
      },
    );
    const key = haveKeys ? await openKey(options, paths, manifest, checks, opened, env) : undefined;
    try {
      if (level === 2) await decryptAll(options, paths, manifest, checks, key!, env);
      if (level === 3) await level3(options, paths, manifest, checks, key!, env);
    } finally {
      key?.dataKey.fill(0);
    }
  } catch (error) {
    if (options.signal?.aborted) throw interrupted('verification');
    failure =
      error instanceof PgwardenError
        ? error
        : new BackupError('PGW_BACKUP_IO_FAILED', String((error as Error)?.message ?? error));
  }
  const ok = failure === undefined;
  let recorded: VerifyResult['recorded'] = 'not-recorded';
  const manifestTrusted = opened.manifestKey !== undefined;
  // A manifest that failed authentication is not rewritten: it is evidence.
  const manifestRejected = opened.manifestRejected === true;
  // Only a key holder may replace what a key holder recorded.
  const keepsAuthenticated = !manifestTrusted && manifest.verification?.hmac != null;
  if ((options.record ?? true) && !manifestRejected && keepsAuthenticated) recorded = 'kept-authenticated';
  else if ((options.record ?? true) && !manifestRejected) {
    const updated = withVerification(
      manifest,
      {
        level,
        ok,
        at: new Date().toISOString(),
        durationMs: Date.now() - started,
        error: failure ? { code: failure.code, message: failure.message } : null,
      },
      opened.manifestKey,
    );
    writeManifest(paths.manifest, updated);
    recorded = manifestTrusted ? 'authenticated' : 'unauthenticated';
  }
  opened.manifestKey?.fill(0);
  return {
    id: manifest.id,
    level,
    ok,
    checks,
    ...(failure ? { error: { code: failure.code, message: failure.message, fix: failure.fix } } : {}),
    recorded,
    durationMs: Date.now() - started,
  };
}

function hasKeyMaterial(keys: BackupKeyOptions | undefined, manifest: BackupManifest): boolean {
  if (manifest.key.type === 'key-file') return Boolean(keys?.keyFile);
  if (manifest.key.type === 'passphrase') return Boolean(keys?.passphrase ?? keys?.passphraseFile);
  return false;
}

async function step(
  checks: VerifyCheck[],
  name: VerifyCheck['name'],
  detail: string,
  run: () => Promise<string | void>,
): Promise<void> {
  try {
    const found = await run();
    checks.push({ name, status: 'passed', detail: found || detail });
  } catch (error) {
    checks.push({ name, status: 'failed', detail: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

/**
 * The manifest-hmac check: opens the data key (once per verification) and
 * authenticates the manifest with it. At level 1 with key material it only
 * lets the result be recorded authenticated.
 */
async function openKey(
  options: VerifyBackupOptions,
  paths: BackupPaths,
  manifest: BackupManifest,
  checks: VerifyCheck[],
  opened: OpenedKeys,
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>,
): Promise<OpenedDataKey> {
  const header = readHeaderFromFile(paths.file);
  let dataKey: Buffer | undefined;
  await step(checks, 'manifest-hmac', 'manifest authenticated with the backup key', async () => {
    checkManifestAgainstHeader(manifest, header, paths);
    const resolver = keyResolver({ ...options.keys, env });
    try {
      dataKey = await keyOpener(resolver, header, manifest, paths, opened)(header);
    } catch (error) {
      throw await reclassifyKeyError(error, paths, manifest);
    }
  });
  return { header, dataKey: dataKey! };
}

/** The counts of a full decryption against the manifest; the check's detail when they agree. */
function checkDecrypted(
  manifest: BackupManifest,
  counted: { chunks: number; plaintextBytes?: number; dumpBytes: number },
): string {
  if (counted.chunks !== manifest.chunks) {
    throw corrupt(`The file holds ${counted.chunks} chunks; its manifest says ${manifest.chunks}.`);
  }
  if (counted.dumpBytes !== manifest.sizes.dump) {
    throw corrupt(
      `The dump decompresses to ${counted.dumpBytes} bytes; its manifest says ${manifest.sizes.dump}.`,
    );
  }
  const decrypted = counted.plaintextBytes === undefined ? '' : `, ${counted.plaintextBytes} bytes decrypted`;
  return `${counted.chunks} chunks authenticated${decrypted}, ${counted.dumpBytes} bytes of dump`;
}

async function decryptAll(
  options: VerifyBackupOptions,
  paths: BackupPaths,
  manifest: BackupManifest,
  checks: VerifyCheck[],
  key: OpenedDataKey,
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const { header } = key;
  const pgRestore = findPgTool('pg_restore', {
    pgBin: options.pgBin,
    env,
    minMajor: Number(/^(\d+)/.exec(header.header.pgDump.version)?.[1] ?? 0),
  });
  const hash = new HashTap();
  const dump = new CountTap();
  const decryptor = new ChunkDecryptor({ openKey: alreadyOpened(key) });
  const command = toolCommand(pgRestore, ['--list', '--format=custom'], 'stdin');
  const tool = spawnTool(
    command.path,
    command.args,
    // --list connects nowhere: no PG* variable, and English messages for the error text.
    { inherit: env, set: { LC_ALL: 'C' } },
    ['pipe', 'pipe', 'pipe'],
  );
  let entries = 0;
  tool.child.stdout!.setEncoding('utf8');
  tool.child.stdout!.on('data', (text: string) => {
    entries += text.split('\n').filter((line) => /^\d+;/.test(line)).length;
  });
  const ticker = progressTicker(
    'verify',
    'decrypt',
    options.onProgress,
    () => ({ bytes: hash.bytes, totalBytes: manifest.sizes.file }),
    options.progressIntervalMs,
  );
  const decoder = payloadDecoder(header, { workers: options.workers });
  try {
    await step(checks, 'chunks', '', async () => {
      await raceAbort(
        pipeline(
          createReadStream(paths.file, { highWaterMark: STREAM_BUFFER }),
          hash,
          decryptor,
          decoder,
          dump,
          new ToolSink(tool, { onEarlyClose: 'discard' }),
          options.signal ? { signal: options.signal } : {},
        ),
        options.signal,
        'verification',
      );
      if (hash.digest() !== manifest.sha256)
        throw corrupt('The backup file changed while it was being verified.');
      const detail = checkDecrypted(manifest, {
        chunks: decryptor.chunks,
        plaintextBytes: decryptor.plaintextBytes,
        dumpBytes: dump.bytes,
      });
      ticker.stop(true);
      return detail;
    });
    const exit = await tool.exited;
    await step(checks, 'pg_restore-list', '', async () => {
      if (exit.code !== 0) {
        throw new BackupError(
          'PGW_BACKUP_VERIFY_FAILED',
          `pg_restore --list could not read the dump: ${lastLines(tool.stderr()) || `exit ${exit.signal ?? exit.code}`}.`,
          {
            fix: 'The archive decrypts but pg_restore cannot read it; check the pg_restore version (--pg-bin).',
          },
        );
      }
      return `${basename(pgRestore.path)} ${pgRestore.version} listed ${entries} archive entries`;
    });
  } finally {
    ticker.stop(false);
    decoder.destroy();
    await tool.stop();
  }
}

async function level3(
  options: VerifyBackupOptions,
  paths: BackupPaths,
  manifest: BackupManifest,
  checks: VerifyCheck[],
  key: OpenedDataKey,
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const scratch = `pgwarden_verify_${randomBytes(6).toString('hex')}`;
  const admin = await createPool({
    ...options.connection,
    env,
    purpose: 'admin',
    checkRole: false,
    min: 0,
    max: 1,
  });
  let created = false;
  try {
    await admin.query(`CREATE DATABASE ${quoteIdentifier(scratch)} TEMPLATE template0`);
    created = true;
    // One pass: the restore authenticates and decrypts every chunk, checks the file's hash
    // and hands the whole archive to pg_restore, which is what level 2 does on its own.
    let restored: RestoreResult | undefined;
    await step(checks, 'scratch-restore', '', async () => {
      restored = await restoreAuthenticated(
        {
          target: paths.file,
          connection: { ...options.connection, database: scratch },
          env,
          ...(options.keys ? { keys: options.keys } : {}),
          ...(options.pgBin ? { pgBin: options.pgBin } : {}),
          noOwner: true,
          noPrivileges: true,
          ...(options.workers !== undefined ? { workers: options.workers } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress
            ? {
                onProgress: (p) => options.onProgress!({ ...p, operation: 'verify' }),
                progressIntervalMs: options.progressIntervalMs,
              }
            : {}),
        },
        { key, manifest },
      );
      return `${restored.pgRestore} restored ${restored.dumpBytes} bytes of dump into scratch database ${scratch} in ${restored.durationMs} ms`;
    });
    await step(checks, 'chunks', '', async () => checkDecrypted(manifest, restored!));
    const expected = manifest.tables;
    if (expected === null) {
      checks.push({
        name: 'row-counts',
        status: 'skipped',
        detail: 'the backup was made without row counts (--no-row-counts): nothing to compare',
      });
      return;
    }
    await step(checks, 'row-counts', '', async () => {
      const pool = await createPool({
        ...options.connection,
        database: scratch,
        env,
        purpose: 'admin',
        checkRole: false,
        min: 0,
        max: 1,
      });
      try {
        const client = await pool.connect();
        let counted = 0;
        let total = expected.length;
        const ticker = progressTicker(
          'verify',
          'row-counts',
          options.onProgress,
          () => ({ bytes: 0, tables: counted, totalTables: total }),
          options.progressIntervalMs,
        );
        try {
          const actual = await countRows(client, (done, all) => {
            counted = done;
            total = all;
          });
          ticker.stop(true);
          const differences = compareCounts(expected, actual);
          if (differences.length > 0) {
            const shown = differences
              .slice(0, 5)
              .map((d) => `${d.table}: manifest ${d.expected ?? 'absent'}, restored ${d.actual ?? 'absent'}`);
            throw new BackupError(
              'PGW_BACKUP_VERIFY_FAILED',
              `Row counts differ in ${differences.length} table(s): ${shown.join('; ')}.`,
              { fix: 'Do not rely on this backup; make a new one and investigate.' },
            );
          }
        } finally {
          ticker.stop(false);
          client.release();
        }
      } finally {
        await pool.close();
      }
      const rows = expected.reduce((sum, t) => sum + t.rows, 0);
      return `${expected.length} tables, ${rows} rows, all equal to the manifest`;
    });
  } finally {
    if (created) {
      // FORCE (13+) ends sessions a failed restore may have left behind.
      await admin
        .query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)} WITH (FORCE)`)
        .catch(() => admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)}`))
        .catch(() => undefined);
    }
    await admin.close();
  }
}
