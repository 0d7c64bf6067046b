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

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

function buildProgram(): Command {
  const program = new Command('pgwarden')
    .description('Secure PostgreSQL connectivity and database security operations')
    .version(version)
    .exitOverride()
    .showHelpAfterError();

  program
    .command('doctor')
    .description('Resolve the connection config, check it against the policy, connect and report')
    .option('--url <url>', 'connection URL (else DATABASE_URL, DB_*, PG* variables)')
    .option('--env <name>', 'environment to judge against: production, staging, development, test')
    .option('--policy <profile>', 'policy profile: standard or strict')
    .option('--json', 'print one JSON object')
    .action(async (options) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      process.exitCode = await doctorCommand(options);
    });

  program
    .command('demo')
    .description('Start a throwaway local cluster with TLS and show pgwarden at work')
    .option('--keep', 'keep the cluster directory for inspection')
    .action(async (options) => {
      const { demoCommand } = await import('./commands/demo.js');
      process.exitCode = await demoCommand(options);
    });

  // Further commands register here, one block each, loading their module lazily.

  return program;
}

export async function main(argv: string[]): Promise<number> {
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
      process.stderr.write(`pgwarden: ${error.code}: ${error.message}\n`);
      return error.code === 'PGW_CLI_USAGE' || error.code.startsWith('PGW_CONFIG') ? EXIT_USAGE : EXIT_FAILED;
    }
    process.stderr.write(`pgwarden: unexpected error: ${redact(String((error as Error)?.stack ?? error))}\n`);
    return EXIT_FAILED;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = EXIT_FAILED;
  },
);
