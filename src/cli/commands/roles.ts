/**
 * `pgwarden roles plan|apply --file roles.yaml`: a thin shell over src/roles/.
 */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { StoreKind } from '../../creds/environment.js';
import { CliUsageError, PgwardenError } from '../../errors.js';
import { applyRoles } from '../../roles/apply.js';
import { planRoles, type RolesPlan } from '../../roles/plan.js';
import { parseRolesFile, type RolesFile } from '../../roles/roles-file.js';
import { terminalLine, terminalSafe } from '../../text/terminal-text.js';
import { teach } from '../teach.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { openAdminPool, type AdminFlags } from './admin-pool.js';
import { openStore, type CommandIo } from './creds.js';

interface RolesFlags extends AdminFlags {
  file: string;
  json?: boolean;
  check?: boolean;
  store?: StoreKind;
  expiresDays?: string;
}

const processIo = (): CommandIo => ({
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdin: process.stdin,
});

/** Runs `pgwarden roles <args…>`. A malformed file is a usage error (exit 2). */
export async function rolesCommand(args: string[], io: CommandIo = processIo()): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('pgwarden roles')
    .description('Least-privilege roles from a YAML file')
    .exitOverride()
    .showHelpAfterError();
  const common = (command: Command): Command =>
    command
      .requiredOption('-f, --file <path>', 'the roles file (YAML)')
      .option('--url <url>', 'admin connection URL (else DATABASE_URL, DB_*, PG* variables)')
      .option('--profile <name>', 'a stored connection to connect as (creds add NAME); default DB_PROFILE')
      .addOption(new Option('--admin-env <name>', 'deprecated: --profile').hideHelp())
      .option('--json', 'print JSON');
  common(program.command('plan'))
    .description('Print the SQL that would make the database match the file')
    .option('--check', 'exit 1 when the database differs from the file (drift detection)')
    .action(async (flags: RolesFlags) => {
      exitCode = await run(flags, 'plan', io);
    });
  common(program.command('apply'))
    .description('Apply the plan in one transaction')
    .addOption(
      new Option('--store <store>', "where a new login role's generated first password is kept")
        .choices(['keychain', 'file'])
        .default('keychain'),
    )
    .option(
      '--expires-days <days>',
      'days until a generated first password expires (VALID UNTIL too; 0: never)',
      '90',
    )
    .action(async (flags: RolesFlags) => {
      exitCode = await run(flags, 'apply', io);
    });
  try {
    await teach(program).parseAsync(args, { from: 'user' });
  } catch (error) {
    if (
      error instanceof PgwardenError &&
      (error.code === 'PGW_ROLES_FILE_INVALID' || error.code === 'PGW_ROLES_FORBIDDEN_ATTRIBUTE')
    ) {
      io.err(`pgwarden: ${error.code}: ${terminalLine(error.message)}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  return exitCode;
}

async function loadFile(path: string): Promise<RolesFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliUsageError(
      `--file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      {
        option: '--file',
        fix: 'Pass the path of an existing roles file.',
      },
    );
  }
  return parseRolesFile(text, path);
}

async function run(flags: RolesFlags, mode: 'plan' | 'apply', io: CommandIo): Promise<number> {
  const file = await loadFile(flags.file);
  const pool = await openAdminPool(flags, file.database ? { database: file.database } : {}, () =>
    openStore(io),
  );
  try {
    if (mode === 'plan') {
      const store = openStore(io);
      const plan = await planRoles(pool, file, { hasCredentials: (env) => store.has(env) });
      io.out(flags.json ? `${JSON.stringify(planJson(plan), null, 2)}\n` : formatPlan(plan, flags.file));
      return flags.check && plan.statements.length > 0 ? EXIT_FAILED : EXIT_OK;
    }
    const expiresDays = Number(flags.expiresDays ?? '90');
    if (
      !/^\d+$/.test(flags.expiresDays ?? '90') ||
      !Number.isSafeInteger(expiresDays) ||
      expiresDays > 36_500
    ) {
      throw new CliUsageError(
        `--expires-days "${flags.expiresDays}" is not a number of days from 0 to 36500.`,
        {
          option: '--expires-days',
          fix: 'Pass e.g. --expires-days 90, or 0 for no expiry.',
        },
      );
    }
    const report = await applyRoles(pool, file, {
      store: () => openStore(io),
      storeKind: flags.store ?? 'keychain',
      expiresDays,
    });
    if (flags.json) {
      io.out(
        `${JSON.stringify({ ...planJson(report), applied: report.applied.length, storedCredentials: report.storedCredentials }, null, 2)}\n`,
      );
    } else if (report.applied.length === 0) {
      io.out(`✓ no changes: database "${terminalLine(report.database)}" already matches ${flags.file}\n`);
    } else {
      io.out(
        `${report.applied.map((s) => `${terminalLine(s)};`).join('\n')}\n✓ applied ${report.applied.length} statement(s) in one transaction to database "${terminalLine(report.database)}"\n`,
      );
      for (const env of report.storedCredentials)
        io.out(
          `  generated password stored as creds environment "${terminalLine(env)}" (${flags.store === 'file' ? 'encrypted file' : 'OS keychain'})\n`,
        );
    }
    for (const w of report.warnings) io.err(`! ${terminalLine(w)}\n`);
    return EXIT_OK;
  } finally {
    await pool.close();
  }
}

function planJson(plan: RolesPlan): Record<string, unknown> {
  return {
    database: plan.database,
    connectedAs: plan.connectedAs,
    changes: plan.statements.length,
    statements: plan.statements.map((s) => ({ sql: s.sql, reason: s.reason })),
    warnings: plan.warnings,
  };
}

/**
 * The plan as a SQL script for `psql -f`. Reasons, warnings and names come
 * partly from the catalog: escaped to one line each (terminalLine), so a
 * newline or carriage return in a name cannot end a `--` comment and turn the
 * rest into a statement. The statements themselves are printable already.
 */
function formatPlan(raw: RolesPlan, path: string): string {
  const plan = terminalSafe(raw);
  if (plan.statements.length === 0) {
    return `✓ no changes: database "${plan.database}" matches ${path}\n${plan.warnings.map((w) => `! ${w}\n`).join('')}`;
  }
  const lines = [`-- pgwarden roles plan: database "${plan.database}", connected as "${plan.connectedAs}"`];
  for (const s of plan.statements) lines.push(`-- ${s.reason}`, `${s.sql};`);
  for (const w of plan.warnings) lines.push(`-- ! ${w}`);
  lines.push(
    `-- ${plan.statements.length} statement(s); pgwarden roles apply --file ${path} runs them in one transaction`,
  );
  return `${lines.join('\n')}\n`;
}
