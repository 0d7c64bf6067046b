/**
 * `pgwarden backup create|list|verify|restore|cleanup|keygen`: a thin shell
 * over src/backup/. main.ts hands this module the arguments after `backup`
 * so that its flags load only when the command is used.
 *
 * Output contract for schedulers: with --json, stdout carries exactly one
 * JSON line per run (the result or the error) and progress goes to stderr as
 * JSON lines; without it, a progress bar is drawn on stderr when it is a TTY.
 * Exit codes: 0 success, 1 failure (including a failed verification or an
 * interruption), 2 usage or configuration error.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type {
  BackupKeyOptions,
  BackupProgress,
  Compression,
  CleanupResult,
  CreateBackupResult,
  RestoreResult,
  VerifyResult,
} from '../../backup/index.js';
import type { BackupList } from '../../backup/list.js';
import { describeCompression } from '../../backup/frames/codecs.js';
import { formatBytes, formatProgress } from './backup-progress.js';
import type { ConfigOptions } from '../../config/schema.js';
import { CliUsageError, PgwardenError } from '../../errors.js';
import { connectionTarget, type TargetOptions } from '../connection-flags.js';
import { terminalText } from '../../text/terminal-text.js';
import { redact } from '../../redact/redactor.js';
import { teach } from '../teach.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';

interface KeyFlags {
  keyFile?: string;
  passphraseFile?: string;
  kmsKeyId?: string;
  kmsRegion?: string;
  vaultTransitKey?: string;
  vaultTransitMount?: string;
}

interface CommonFlags extends KeyFlags {
  url?: string;
  profile?: string;
  workers?: number;
  dir?: string;
  pgBin?: string;
  json?: boolean;
  progress?: boolean;
}

/** Codes that mean "the command line or configuration is wrong", exit 2. */
function isUsageError(code: string): boolean {
  return (
    code === 'PGW_CLI_USAGE' ||
    code.startsWith('PGW_CONFIG') ||
    code === 'PGW_BACKUP_KEY_REQUIRED' ||
    code === 'PGW_BACKUP_KEY_INVALID' ||
    code === 'PGW_BACKUP_KEY_PERMISSIONS'
  );
}

function integer(name: string, min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`);
    }
    return value;
  };
}

function keyOptions(flags: KeyFlags): BackupKeyOptions {
  return {
    ...(flags.keyFile ? { keyFile: flags.keyFile } : {}),
    ...(flags.passphraseFile ? { passphraseFile: flags.passphraseFile } : {}),
    ...(flags.kmsKeyId ? { kmsKeyId: flags.kmsKeyId } : {}),
    ...(flags.kmsRegion ? { kms: { region: flags.kmsRegion } } : {}),
    ...(flags.vaultTransitKey ? { vaultTransitKey: flags.vaultTransitKey } : {}),
    ...(flags.vaultTransitMount ? { vault: { mount: flags.vaultTransitMount } } : {}),
  };
}

function withKeyFlags(command: Command): Command {
  return command
    .option('--key-file <file>', 'key file: 32 random bytes, base64, mode 0600 (see keygen)')
    .option('--passphrase-file <file>', 'file holding a passphrase (scrypt), mode 0600')
    .option('--kms-key-id <id>', 'AWS KMS key id, ARN or alias/name (credentials from the AWS environment)')
    .option('--kms-region <region>', 'AWS region of the KMS key (default AWS_REGION)')
    .option(
      '--vault-transit-key <name>',
      'Vault transit key (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT)',
    )
    .option('--vault-transit-mount <path>', 'mount path of the transit engine (default transit)');
}

/** A progress bar on a TTY, JSON lines with --json, nothing otherwise. */
function progressPrinter(flags: CommonFlags): ((p: BackupProgress) => void) | undefined {
  if (flags.json) {
    return (p) => process.stderr.write(`${JSON.stringify({ event: 'progress', ...p })}\n`);
  }
  if (flags.progress === false || process.stderr.isTTY !== true) return undefined;
  return (p) => process.stderr.write(`\r\x1b[K${formatProgress(p)}${p.done ? '\n' : ''}`);
}

/** Aborts on SIGINT/SIGTERM while `run` executes; the operation cleans up and rejects. */
async function interruptible<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function out(text: string): void {
  process.stdout.write(redact(text));
}

/** Text for people: database names and tool messages come from elsewhere, so control characters are escaped. */
function textOut(text: string): void {
  out(terminalText(text));
}

function emitJson(value: unknown): void {
  out(`${JSON.stringify(value)}\n`);
}

/** The server to dump from or restore into: a stored profile, else --url, else the environment. */
async function connection(
  flags: CommonFlags,
  options: TargetOptions = {},
): Promise<{ connection: ConfigOptions }> {
  // Backups take pg_dump's environment from the process; the profile's fields are explicit options.
  const { env: _env, ...target } = await connectionTarget(flags, options);
  return { connection: target };
}

const PROFILE_OPTION = [
  '--profile <name>',
  'a stored connection (pgwarden creds add NAME); default DB_PROFILE',
] as const;

function formatCreate(result: CreateBackupResult): string {
  const m = result.manifest;
  const rows = (m.tables ?? []).reduce((sum, t) => sum + t.rows, 0);
  return [
    `✓ backup ${m.id}`,
    `  database  ${m.database} (PostgreSQL ${m.server.version}, pg_dump ${m.pgDump.version})`,
    `  size      ${formatBytes(m.sizes.dump)} dump → ${formatBytes(m.sizes.file)} (${m.compression}, ${m.chunks} chunks, AES-256-GCM)`,
    `  codec     ${describeCompression(m.compression)}${result.workers > 0 ? ` in ${result.workers} worker thread(s)` : ''}, format version ${result.formatVersion}; readable with Node ${result.minNodeToRead} or newer`,
    `  key       ${m.key.id}`,
    m.tables
      ? `  tables    ${m.tables.length} tables, ${rows} rows (in the dump's snapshot)`
      : '  tables    not counted (--no-row-counts)',
    `  file      ${result.file}`,
    `  expires   ${m.retention.expiresAt} (${m.retention.class})`,
    `  took      ${(result.durationMs / 1000).toFixed(1)} s`,
    '',
  ].join('\n');
}

function createJson(result: CreateBackupResult): Record<string, unknown> {
  const m = result.manifest;
  return {
    ok: true,
    command: 'create',
    id: m.id,
    database: m.database,
    file: result.file,
    manifest: result.manifestPath,
    dumpBytes: m.sizes.dump,
    fileBytes: m.sizes.file,
    chunks: m.chunks,
    sha256: m.sha256,
    compression: m.compression,
    formatVersion: result.formatVersion,
    minNodeToRead: result.minNodeToRead,
    workers: result.workers,
    keyId: m.key.id,
    tables: m.tables?.length ?? null,
    rows: m.tables ? m.tables.reduce((sum, t) => sum + t.rows, 0) : null,
    expiresAt: m.retention.expiresAt,
    durationMs: result.durationMs,
  };
}

function formatList(list: BackupList): string {
  const rows = list.backups.map((b) => [
    b.id,
    b.database,
    b.createdAt.replace(/:\d\d\.\d+Z$/, 'Z').replace('T', ' '),
    formatBytes(b.sizeBytes),
    b.verified
      ? `L${b.verified.level} ${b.verified.ok ? 'ok' : 'FAILED'} ${b.verified.at.slice(0, 10)}${b.verified.authenticated ? '' : ' (unauth.)'}`
      : 'never',
    b.expiresAt.slice(0, 10),
    b.status === 'ok' ? '' : b.status,
  ]);
  const header = ['ID', 'DATABASE', 'CREATED', 'SIZE', 'VERIFIED', 'EXPIRES', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const lines = list.backups.length === 0 ? [`no backups in ${list.dir}`] : [line(header), ...rows.map(line)];
  for (const p of list.problems) lines.push(`! ${p.name}: ${p.kind} (${p.detail})`);
  return `${lines.join('\n')}\n`;
}

function listJson(list: BackupList): Record<string, unknown> {
  return {
    ok: true,
    command: 'list',
    dir: list.dir,
    backups: list.backups.map(({ manifest: _manifest, ...entry }) => entry),
    problems: list.problems,
  };
}

function formatVerify(result: VerifyResult): string {
  const lines = [`${result.ok ? '✓' : '✗'} verify level ${result.level}: backup ${result.id}`];
  const marks = { passed: '✓', failed: '✗', skipped: '-' } as const;
  for (const check of result.checks) {
    lines.push(
      `  ${marks[check.status]} ${check.name}${check.status === 'skipped' ? ' (skipped)' : ''}: ${check.detail}`,
    );
  }
  if (result.error) lines.push(`  [${result.error.code}] ${result.error.message}`);
  lines.push(`  result recorded in the manifest: ${result.recorded}`, '');
  return lines.join('\n');
}

function formatRestore(result: RestoreResult): string {
  return [
    `✓ restored backup ${result.id} into database ${result.database}`,
    `  ${result.jobs > 1 ? `${result.jobs} parallel jobs (decrypted to a temporary file first)` : 'streamed'}${result.singleTransaction ? ', one transaction' : ''}, ${formatBytes(result.bytes)} read, ${formatBytes(result.dumpBytes)} of dump to ${result.pgRestore}, in ${(result.durationMs / 1000).toFixed(1)} s`,
    '',
  ].join('\n');
}

function formatCleanup(result: CleanupResult): string {
  const lines = [
    result.dryRun
      ? `cleanup of ${result.dir} (dry run: nothing deleted; pass --confirm to delete)`
      : `cleanup of ${result.dir}`,
  ];
  for (const d of result.decisions) {
    const verb = d.action === 'keep' ? 'keep  ' : result.dryRun ? 'would delete' : 'deleted';
    lines.push(`  ${verb} ${d.id}  (${d.reasons.join('; ')})`);
  }
  for (const name of result.staleTempFiles) {
    lines.push(
      `  ${result.dryRun ? 'temporary file (in progress or left by a killed run)' : 'removed leftover'} ${name}`,
    );
  }
  for (const p of result.untouched) lines.push(`  ! ${p.name}: ${p.kind}, not touched`);
  const count = result.decisions.filter((d) => d.action === 'delete').length;
  lines.push(
    `${result.dryRun ? 'would free' : 'freed'} ${formatBytes(result.freedBytes)} in ${count} backup(s)`,
    '',
  );
  return lines.join('\n');
}

function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command('pgwarden backup')
    .description('Encrypted, compressed, verified logical backups (docs/backup.md)')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  withKeyFlags(
    program
      .command('create')
      .description('Dump a database through compression and encryption into DIR, with a manifest')
      .option('--url <url>', 'connection URL (else DATABASE_URL, DB_*, PG* variables)')
      .option(...PROFILE_OPTION)
      .requiredOption('--dir <dir>', 'backup directory (created 0700)'),
  )
    .addOption(
      new Option(
        '--compress <method>',
        'compression before encryption (default zstd-frames where Node has zstd, else brotli; zstd = pg_dump 16+ compresses)',
      ).choices(['zstd-frames', 'brotli', 'gzip', 'none', 'zstd']),
    )
    .option(
      '--workers <n>',
      'worker threads compressing frames (default: one less than the cores, 1 to 4)',
      integer('--workers', 1, 64),
    )
    .option('--retention-class <name>', 'retention class recorded in the manifest', 'daily')
    .option('--keep-days <n>', 'days until this backup expires', integer('--keep-days', 0, 36_500), 30)
    .option('--no-row-counts', 'do not count rows per table (level 3 verification then compares nothing)')
    .option(
      '--lock-wait-timeout <ms>',
      "how long pg_dump may wait for a table's lock before the backup fails; 0 waits forever",
      integer('--lock-wait-timeout', 0, 86_400_000),
      60_000,
    )
    .option(
      '--pg-bin <dir>',
      'directory holding pg_dump (default PG_BIN, then the server major under /usr/lib/postgresql)',
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'one JSON line on stdout; progress as JSON lines on stderr')
    .action(
      async (
        flags: CommonFlags & {
          compress?: string;
          retentionClass: string;
          keepDays: number;
          rowCounts: boolean;
          lockWaitTimeout: number;
        },
      ) => {
        const { createBackup } = await import('../../backup/create.js');
        const onProgress = progressPrinter(flags);
        const target = await connection(flags);
        const result = await interruptible((signal) =>
          createBackup({
            ...target,
            dir: flags.dir!,
            keys: keyOptions(flags),
            ...(flags.compress ? { compression: flags.compress as Compression } : {}),
            ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
            retentionClass: flags.retentionClass,
            keepDays: flags.keepDays,
            rowCounts: flags.rowCounts,
            lockWaitTimeoutMs: flags.lockWaitTimeout,
            ...(flags.pgBin ? { pgBin: flags.pgBin } : {}),
            signal,
            ...(onProgress ? { onProgress } : {}),
          }),
        );
        if (flags.json) emitJson(createJson(result));
        else textOut(formatCreate(result));
        setCode(EXIT_OK);
      },
    );

  program
    .command('list')
    .description('List the backups of DIR: id, database, created, size, verified, expires')
    .requiredOption('--dir <dir>', 'backup directory')
    .option('--json', 'one JSON line')
    .action(async (flags: CommonFlags) => {
      const { listBackups } = await import('../../backup/list.js');
      const list = listBackups(flags.dir!);
      if (flags.json) emitJson(listJson(list));
      else textOut(formatList(list));
      setCode(EXIT_OK);
    });

  withKeyFlags(
    program
      .command('verify')
      .description(
        'Verify a backup: 1 file hash, 2 decrypt and authenticate + pg_restore --list, 3 scratch restore and row counts',
      )
      .argument(
        '<backup>',
        'backup id or "latest" (the newest complete backup; both with --dir), or path of the .pgwb file',
      )
      .option('--dir <dir>', 'backup directory (for an id or latest)')
      .requiredOption('--level <n>', 'verification level: 1, 2 or 3', integer('--level', 1, 3))
      .option('--url <url>', 'level 3: server where a scratch database may be created (CREATEDB)')
      .option('--profile <name>', 'level 3: that server as a stored connection; default DB_PROFILE'),
  )
    .option('--pg-bin <dir>', 'directory holding pg_restore')
    .option(
      '--workers <n>',
      'worker threads decompressing frames (default: one less than the cores, 1 to 4)',
      integer('--workers', 1, 64),
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'one JSON line on stdout')
    .action(async (target: string, flags: CommonFlags & { level: 1 | 2 | 3 }) => {
      const { verifyBackup } = await import('../../backup/verify.js');
      const onProgress = progressPrinter(flags);
      // Only level 3 connects: levels 1 and 2 must not ask for a store passphrase.
      const server = flags.level === 3 ? await connection(flags) : { connection: {} };
      const result = await interruptible((signal) =>
        verifyBackup({
          ...server,
          target,
          ...(flags.dir ? { dir: flags.dir } : {}),
          level: flags.level,
          keys: keyOptions(flags),
          ...(flags.pgBin ? { pgBin: flags.pgBin } : {}),
          ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
          signal,
          ...(onProgress ? { onProgress } : {}),
        }),
      );
      if (flags.json) emitJson({ command: 'verify', ...result });
      else textOut(formatVerify(result));
      setCode(result.ok ? EXIT_OK : EXIT_FAILED);
    });

  withKeyFlags(
    program
      .command('restore')
      .description(
        'Restore a backup into a database (one transaction; refuses a non-empty target without --clean)',
      )
      .argument(
        '<backup>',
        'backup id or "latest" (the newest complete backup; both with --dir), or path of the .pgwb file',
      )
      .option('--dir <dir>', 'backup directory (for an id or latest)')
      .option('--url <url>', 'the target database (this or --profile is required)')
      .option('--profile <name>', 'the target database as a stored connection (never DB_PROFILE)'),
  )
    .option('--clean', 'drop the dumped objects in the target first (--clean --if-exists)')
    .option(
      '-j, --jobs <n>',
      'parallel pg_restore jobs (decrypts to a temporary file first; no single transaction)',
      integer('--jobs', 1, 64),
      1,
    )
    .option('--no-single-transaction', 'do not wrap the restore in one transaction')
    .option('--no-owner', 'do not restore object ownership')
    .option('--no-privileges', 'do not restore GRANT/REVOKE')
    .option('--temp-dir <dir>', 'where -j decrypts the dump (a private 0700 directory is made inside)')
    .option('--pg-bin <dir>', 'directory holding pg_restore')
    .option(
      '--workers <n>',
      'worker threads decompressing frames (default: one less than the cores, 1 to 4)',
      integer('--workers', 1, 64),
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'one JSON line on stdout')
    .action(
      async (
        target: string,
        flags: CommonFlags & {
          clean?: boolean;
          jobs: number;
          singleTransaction: boolean;
          owner: boolean;
          privileges: boolean;
          tempDir?: string;
        },
      ) => {
        const { restoreBackup } = await import('../../backup/restore.js');
        if (flags.url === undefined && flags.profile === undefined) {
          throw new CliUsageError('backup restore needs its target: --url or --profile.', {
            option: '--url',
            fix: 'Name the database to restore into with --url URL or --profile NAME.',
          });
        }
        const onProgress = progressPrinter(flags);
        // A restore overwrites: its target is named on the command line, never taken from DB_PROFILE.
        const server = await connection(flags, { profileFromEnv: false });
        const result = await interruptible((signal) =>
          restoreBackup({
            ...server,
            target,
            ...(flags.dir ? { dir: flags.dir } : {}),
            keys: keyOptions(flags),
            clean: flags.clean === true,
            jobs: flags.jobs,
            singleTransaction: flags.singleTransaction,
            noOwner: flags.owner === false,
            noPrivileges: flags.privileges === false,
            ...(flags.tempDir ? { tempDir: flags.tempDir } : {}),
            ...(flags.pgBin ? { pgBin: flags.pgBin } : {}),
            ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
            signal,
            ...(onProgress ? { onProgress } : {}),
          }),
        );
        if (flags.json) {
          const { manifest: _manifest, ...rest } = result;
          emitJson({ ok: true, command: 'restore', ...rest });
        } else textOut(formatRestore(result));
        setCode(EXIT_OK);
      },
    );

  program
    .command('cleanup')
    .description('Apply retention: dry run by default, --confirm deletes; never the newest verified backups')
    .requiredOption('--dir <dir>', 'backup directory')
    .option(
      '--keep-days <n>',
      'delete backups older than N days (default: each backup’s recorded expiry)',
      integer('--keep-days', 0, 36_500),
    )
    .option(
      '--keep-last <n>',
      'always keep the newest N per database and class',
      integer('--keep-last', 0, 100_000),
      1,
    )
    .option(
      '--min-verified <n>',
      'always keep the newest N verified per database and class',
      integer('--min-verified', 0, 100_000),
      1,
    )
    .option('--retention-class <name>', 'only this retention class')
    .option('--confirm', 'delete for real')
    .option('--json', 'one JSON line')
    .action(
      async (
        flags: CommonFlags & {
          keepDays?: number;
          keepLast: number;
          minVerified: number;
          retentionClass?: string;
          confirm?: boolean;
        },
      ) => {
        const { cleanupBackups } = await import('../../backup/cleanup.js');
        const result = cleanupBackups({
          dir: flags.dir!,
          ...(flags.keepDays !== undefined ? { keepDays: flags.keepDays } : {}),
          keepLast: flags.keepLast,
          minVerified: flags.minVerified,
          ...(flags.retentionClass ? { retentionClass: flags.retentionClass } : {}),
          confirm: flags.confirm === true,
        });
        if (flags.json) emitJson({ ok: true, command: 'cleanup', ...result });
        else textOut(formatCleanup(result));
        setCode(EXIT_OK);
      },
    );

  program
    .command('keygen')
    .description('Write a new key file (32 random bytes, base64, mode 0600); never overwrites')
    .requiredOption('--out <file>', 'path of the new key file')
    .option('--json', 'one JSON line')
    .action(async (flags: { out: string; json?: boolean }) => {
      const { generateKeyFile } = await import('../../backup/keys/key-file.js');
      const id = generateKeyFile(flags.out);
      if (flags.json) emitJson({ ok: true, command: 'keygen', file: flags.out, keyId: id });
      else
        out(
          `✓ key file ${flags.out} written (mode 0600), key id ${id}\n  Keep a copy somewhere safe: without it the backups cannot be read.\n`,
        );
      setCode(EXIT_OK);
    });

  return program;
}

export async function backupCommand(args: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((value) => {
    code = value;
  });
  const json = args.includes('--json');
  const sub = args.find((arg) => !arg.startsWith('-')) ?? 'backup';
  try {
    await teach(program).parseAsync(['node', 'pgwarden-backup', ...args]);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end here too, with exit code 0; commander printed the message.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const coded = error instanceof PgwardenError ? error : undefined;
    const exit = coded && isUsageError(coded.pgwardenCode) ? EXIT_USAGE : EXIT_FAILED;
    if (json) {
      emitJson({
        ok: false,
        command: sub,
        error: coded
          ? coded.toJSON()
          : { code: 'UNEXPECTED', message: redact(String((error as Error)?.message ?? error)) },
      });
    } else if (coded) {
      process.stderr.write(redact(`pgwarden backup ${sub}: ${coded.code}: ${terminalText(coded.message)}\n`));
    } else {
      process.stderr.write(
        `pgwarden backup ${sub}: unexpected error: ${redact(String((error as Error)?.stack ?? error))}\n`,
      );
    }
    return exit;
  }
}
