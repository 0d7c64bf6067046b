#!/usr/bin/env node
/**
 * The `pgwarden` command line. Commands are registered here and loaded lazily,
 * so `pgwarden doctor` does not pay for the backup or audit code. One exit
 * code mapping for all of them: 0 success, 1 a check failed, 2 usage error.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { PgwardenError } from '../errors.js';
import { redact } from '../redact/redactor.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { exitWhenSettled } from './exit-when-settled.js';
import { ignoreClosedOutput } from './closed-output.js';
import { terminalText } from '../text/terminal-text.js';
import { GROUPS, isGroup } from './groups.js';
import { codedUsageError, defaultSubcommandTerm, teach } from './teach.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

function buildProgram(): Command {
  const program = new Command('pgwarden')
    .description('Secure PostgreSQL connectivity and database security operations')
    .version(version)
    .exitOverride()
    .configureHelp({
      // A group's own program lists its options: here it takes a command.
      subcommandTerm: (command) =>
        isGroup(command.name()) || command.commands.length > 0
          ? `${command.name()} <command>`
          : defaultSubcommandTerm(command),
    })
    .addHelpText('after', '\nEach command has its own options and examples: pgwarden <command> --help');

  program
    .command('doctor')
    .description('Resolve the connection config, check it against the policy, connect and report')
    .option('--url <url>', 'connection URL (else DATABASE_URL, DB_*, PG* variables)')
    .option('--profile <name>', 'a stored connection (pgwarden creds add NAME); default DB_PROFILE')
    .option('--env <name>', 'environment to judge against: production, staging, development, test')
    .option('--policy <policy>', 'policy: standard or strict')
    .option('--json', 'print one JSON object')
    .action(async (options) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      process.exitCode = await doctorCommand(options);
    });

  program
    .command('demo')
    .description('Start a throwaway local cluster with TLS and show pgwarden at work')
    .option('--keep', 'leave the clusters running and keep their CA; print how to connect and stop them')
    .action(async (options) => {
      const { demoCommand } = await import('./commands/demo.js');
      process.exitCode = await demoCommand(options);
    });

  // creds, roles and incident parse their own subcommands (src/cli/commands/<name>.ts),
  // so the whole tree loads only when the group is used.
  for (const name of ['creds', 'roles', 'incident'] as const) {
    program
      .command(name)
      .description(GROUPS[name])
      .argument('[args...]')
      .allowUnknownOption()
      .allowExcessArguments()
      .helpOption(false)
      .action(async (_args: string[], _options: unknown, command: Command) => {
        const load = {
          creds: async () => (await import('./commands/creds.js')).credsCommand,
          roles: async () => (await import('./commands/roles.js')).rolesCommand,
          incident: async () => (await import('./commands/incident.js')).incidentCommand,
        }[name];
        process.exitCode = await (await load())(command.args);
      });
  }

  program
    .command('audit')
    .description('Security posture audit of the server and of the connection config, from the app role')
    .option('--url <url>', 'connection URL (else DATABASE_URL, DB_*, PG* variables)')
    .option('--profile <name>', 'a stored connection (pgwarden creds add NAME); default DB_PROFILE')
    .option('--env <name>', 'environment to judge against: production, staging, development, test')
    .option('--policy <policy>', 'policy: standard or strict')
    .option('--format <format>', 'text, json, sarif, junit or html', 'text')
    .option('--output <file>', 'write the report to a file instead of stdout')
    .option(
      '--fail-on <severity>',
      'exit 1 on a failure at or above: critical, high, medium, low, info',
      'high',
    )
    .option('--suppressions <file>', 'suppressions file (default ./.pgwarden-audit.yaml when present)')
    .option(
      '--ignore <id[:object]>',
      'suppress a check (or one object of it); repeatable, needs --ignore-reason',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--ignore-reason <text>', 'why the --ignore entries are accepted')
    .option('--baseline <file>', 'a previous JSON report: only new failures count')
    .option('--no-color', 'no ANSI colours in text output')
    .action(async (options) => {
      const { auditCommand } = await import('./commands/audit.js');
      process.exitCode = await auditCommand(options);
    });

  program
    .command('monitor')
    .description('Live view of connections, long-running and slow queries, and database statistics')
    .option('--url <url>', 'connection URL (else DATABASE_URL, DB_*, PG* variables)')
    .option('--profile <name>', 'a stored connection (pgwarden creds add NAME); default DB_PROFILE')
    .option('--interval <duration>', 'time between refreshes, e.g. 2s or 500ms', '2s')
    .option('--long-query <duration>', 'list active queries running longer than this', '5s')
    .option('--once', 'take one snapshot and exit')
    .option('--json', 'print snapshots as JSON (one object with --once, one line per refresh otherwise)')
    .action(async (options) => {
      const { monitorCommand } = await import('./commands/monitor.js');
      process.exitCode = await monitorCommand(options);
    });

  program
    .command('alerts')
    .description('Security alert rules for cron jobs and monitoring: check')
    .command('check')
    .description('Evaluate every alert rule once; exit 1 when an alert fires')
    .option('--url <url>', 'connection URL (else DATABASE_URL, DB_*, PG* variables)')
    .option('--profile <name>', 'a stored connection (pgwarden creds add NAME); default DB_PROFILE')
    .option('--offline', 'do not connect; rules that need the database are skipped')
    .option(
      '--log <file>',
      'server log file (repeatable)',
      (value: string, list: string[]) => [...list, value],
      [],
    )
    .option('--log-format <format>', 'stderr, csvlog, jsonlog or auto')
    .option('--log-line-prefix <prefix>', "the server's log_line_prefix (default: read from the server)")
    .option('--window-end <end>', 'log windows end now or at the newest-line')
    .option('--backup-dir <dir>', 'directory of pgwarden backups, for the backup-age rule')
    .option('--webhook <url>', 'POST one JSON document per fired alert (or PGWARDEN_ALERTS_WEBHOOK)')
    .option('--config <file>', 'alerts.yaml with thresholds and inputs')
    .option('--label <name>', 'name of the database in reports and webhooks')
    .option('--auth-failures <n>', 'failed authentications that fire (default 5)')
    .option('--auth-window <duration>', 'window for failed authentications (default 5m)')
    .option('--unencrypted <n>', 'connection attempts without TLS that fire (default 1)')
    .option('--unencrypted-window <duration>', 'window for attempts without TLS (default 5m)')
    .option('--slow-query <duration>', 'a query running longer fires (default 5s)')
    .option('--cert-days <days>', 'server certificate expiring within fires (default 30)')
    .option('--creds-days <days>', 'credentials expiring within fires (default 14)')
    .option('--backup-max-age <duration>', 'newest backup older than this fires (default 26h)')
    .option('--disable <rules>', 'comma-separated rule ids to skip')
    .option('--json', 'print one JSON object')
    .action(async (options) => {
      const { alertsCheckCommand } = await import('./commands/alerts.js');
      process.exitCode = await alertsCheckCommand(options);
    });

  program
    .command('backup')
    .description(GROUPS.backup)
    // The subcommands and their flags live in commands/backup.ts, loaded only when used.
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { backupCommand } = await import('./commands/backup.js');
      process.exitCode = await backupCommand(args);
    });

  // Further commands register here, one block each, loading their module lazily.

  return teach(program);
}

export async function main(argv: string[]): Promise<number> {
  // The AWS SDK prints a multi-line notice on every run under Node < 22 (its
  // releases after January 2027 need 22). A CLI's output is read by people and
  // parsed by scripts: the runtime is the operator's choice, and `pgwarden
  // doctor` is the place to say what it supports, not every command's stderr.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  ignoreClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exit code 0 through the same path.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof PgwardenError) {
      const usage = error.pgwardenCode === 'PGW_CLI_USAGE' || error.pgwardenCode.startsWith('PGW_CONFIG');
      const shown =
        error.code === error.pgwardenCode ? error.code : `${error.pgwardenCode} (SQLSTATE ${error.code})`;
      // A message may quote the server (a role name, a server error): escaped like all server text.
      process.stderr.write(
        usage ? codedUsageError(error) : `pgwarden: ${shown}: ${terminalText(error.message)}\n`,
      );
      return usage ? EXIT_USAGE : EXIT_FAILED;
    }
    process.stderr.write(`pgwarden: unexpected error: ${redact(String((error as Error)?.stack ?? error))}\n`);
    return EXIT_FAILED;
  }
}

exitWhenSettled(main(process.argv));
