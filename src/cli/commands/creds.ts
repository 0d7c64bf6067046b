/**
 * `pgwarden creds …`: a thin shell over src/creds/. Parses flags, reads
 * secrets from a hidden prompt or stdin (never argv), calls the library and
 * formats the result. Read commands take --json.
 */
import { Command, Option } from 'commander';
import { CredsError } from '../../creds/creds-error.js';
import type { CredentialEnvironment, StoreKind } from '../../creds/environment.js';
import { checkExpiry } from '../../creds/expiry.js';
import { assertExportFormat, exportEnvironment, writePassfile } from '../../creds/export.js';
import { generatePassword, parseClasses, type GenerateOptions } from '../../creds/generate.js';
import { environmentPoolOptions } from '../../creds/connect.js';
import { loadProfile } from '../../creds/profile.js';
import { rotateCredentials } from '../../creds/rotate.js';
import { CredentialStore } from '../../creds/store.js';
import { testCredentials } from '../../creds/test-credentials.js';
import { CliUsageError } from '../../errors.js';
import type { Secret } from '../../redact/secret.js';
import { redactValue } from '../../redact/redactor.js';
import { profileName } from '../connection-flags.js';
import { teach } from '../teach.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { explicitFields, resolvedFields, type FieldFlags } from './creds-fields.js';
import {
  environmentJson,
  expiryJson,
  testJson,
  rotationJson,
  formatCheck,
  formatTest,
  formatRotation,
  storeName,
  describeAddress,
  describeTarget,
  expiryText,
  isoDay,
  daysText,
  table,
} from './creds-format.js';
import {
  canPrompt,
  promptHidden,
  promptLine,
  promptNewSecret,
  readStdinSecret,
  refusePasswordArgument,
} from './secret-input.js';

/** Where the command writes and reads; tests pass their own. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Standard input, for --password-stdin and prompts. */
  stdin: NodeJS.ReadStream;
}

const processIo = (): CommandIo => ({
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdin: process.stdin,
});

/**
 * Runs `pgwarden creds <args…>`; returns the exit code. An invalid value
 * (PGW_CREDS_INVALID) is a usage error: exit 2, like a malformed flag.
 */
export async function credsCommand(args: string[], io: CommandIo = processIo()): Promise<number> {
  try {
    return await runCreds(args, io);
  } catch (error) {
    if (error instanceof CredsError && error.code === 'PGW_CREDS_INVALID') {
      io.err(`pgwarden: ${error.code}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

async function runCreds(args: string[], io: CommandIo): Promise<number> {
  stdinUsed = false;
  let exitCode = EXIT_OK;
  const set = (code: number): void => {
    exitCode = code;
  };
  const program = new Command('pgwarden creds')
    .description('Store database credentials in the OS keychain, check their expiry, rotate them')
    .exitOverride()
    .showHelpAfterError();

  const fieldOptions = (command: Command): Command =>
    command
      .option('--url <url>', 'postgresql:// URL without a password (host, port, database, user, sslmode)')
      .option('--host <host>', 'server host')
      .option('--port <port>', 'server port')
      .option('--database <name>', 'database name')
      .option('--user <role>', 'login role')
      .option('--sslmode <mode>', 'disable, allow, prefer, require, verify-ca, verify-full')
      .option('--sslrootcert <path>', 'CA bundle path, or "system"')
      .option('--password [value]', 'prompt for the password on the terminal (a value here is refused)')
      .option('--password-stdin', 'read the password from standard input')
      .option('--expires-days <days>', 'days until the password should be rotated (0: never)');

  fieldOptions(program.command('add <env>'))
    .description('Add an environment; the password goes to the OS keychain (or --store file)')
    .option('--production', 'mark as production (changes need confirmation)')
    .addOption(
      new Option('--store <store>', 'where the password is kept')
        .choices(['keychain', 'file'])
        .default('keychain'),
    )
    .action(async (name: string, flags: AddFlags) => set(await add(name, flags, io)));

  fieldOptions(program.command('update <env>'))
    .description('Change fields and/or the password of an environment')
    .option('--production', 'mark as production')
    .option('--no-production', 'unmark as production')
    .option('-y, --yes', 'do not ask for confirmation on a production environment')
    .action(async (name: string, flags: UpdateFlags) => set(await update(name, flags, io)));

  program
    .command('list')
    .description('List the stored environments')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => set(await list(flags, io)));

  program
    .command('show <env>')
    .description('Show an environment (the password only with --password)')
    .option('--password', 'also print the password')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { password?: boolean; json?: boolean }) =>
      set(await show(name, flags, io)),
    );

  program
    .command('test <env>')
    .description('Connect with the stored credentials and report')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => set(await test(name, flags, io)));

  program
    .command('remove <env>')
    .description('Remove an environment and its password')
    .option('-y, --yes', 'do not ask for confirmation on a production environment')
    .action(async (name: string, flags: { yes?: boolean }) => set(await remove(name, flags, io)));

  program
    .command('check')
    .description('Group environments into expired, expiring soon and healthy; exit 1 when any expired')
    .option('--days <days>', 'expiring means within this many days', '14')
    .option('--json', 'print JSON')
    .action(async (flags: { days: string; json?: boolean }) => set(await check(flags, io)));

  program
    .command('rotate <env>')
    .description('Set a new password on the server (as a SCRAM verifier), verify it, then store it')
    .addOption(
      new Option('--strategy <strategy>', 'single, or alternating (<user> / <user>_clone)').choices([
        'single',
        'alternating',
      ]),
    )
    .option('--group <role>', 'alternating: the NOLOGIN role holding the grants')
    .option(
      '--url <url>',
      'admin connection (CREATEROLE) that runs ALTER ROLE; default: the stored credentials',
    )
    .option('--profile <name>', 'a stored profile to use as the admin connection (CREATEROLE)')
    .addOption(new Option('--admin-env <name>', 'deprecated: --profile').hideHelp())
    .option('--no-valid-until', 'do not set VALID UNTIL (a role without CREATEROLE rotating itself)')
    .option('--length <n>', 'length of the new password', '32')
    .option('-y, --yes', 'do not ask for confirmation on a production environment')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: RotateFlags) => set(await rotate(name, flags, io)));

  program
    .command('generate')
    .description('Print a random password (CSPRNG)')
    .option('--length <n>', 'length', '32')
    .option('--classes <list>', 'character classes: lower,upper,digits,symbols', 'lower,upper,digits,symbols')
    .option('--no-ambiguous', 'leave out look-alike characters (Il1O0o|)')
    .option('--json', 'print JSON')
    .action(async (flags: { length: string; classes: string; ambiguous: boolean; json?: boolean }) =>
      set(generate(flags, io)),
    );

  program
    .command('export <env>')
    .description(
      'Print an environment as a URI, shell exports (env: eval "$(…)"), a .env file (dotenv) or JSON',
    )
    .option('--format <format>', 'uri, env, dotenv or json', 'uri')
    .option(
      '--passfile <path>',
      'env/dotenv: write the password to this 0600 libpq passfile and export PGPASSFILE',
    )
    .option('--password', 'include the password itself (PGPASSWORD for env/dotenv)')
    .action(async (name: string, flags: ExportFlags) => set(await exportCommand(name, flags, io)));

  await teach(program).parseAsync(args, { from: 'user' });
  return exitCode;
}

interface AddFlags extends FieldFlags {
  password?: string | boolean;
  passwordStdin?: boolean;
  expiresDays?: string;
  store: StoreKind;
}
interface UpdateFlags extends AddFlags {
  yes?: boolean;
}
interface RotateFlags {
  strategy?: 'single' | 'alternating';
  group?: string;
  url?: string;
  profile?: string;
  adminEnv?: string;
  validUntil: boolean;
  length: string;
  yes?: boolean;
  json?: boolean;
}

/** Set once --password-stdin consumed standard input: a passphrase cannot be prompted for then. */
let stdinUsed = false;

/** The credential store, prompting for its passphrase on a terminal when the environment gives none; roles apply uses it too. */
export function openStore(io: CommandIo): CredentialStore {
  return new CredentialStore({
    promptPassphrase: async ({ creating }) => {
      if (stdinUsed || !canPrompt(io.stdin)) {
        throw new CredsError('PGW_CREDS_STORE_LOCKED', 'The encrypted store needs its passphrase.', {
          option: 'PGWARDEN_STORE_PASSPHRASE_FILE',
          fix: 'Run on a terminal to be prompted, or set PGWARDEN_STORE_PASSPHRASE_FILE to a 0600 file holding it (or PGWARDEN_STORE_PASSPHRASE).',
        });
      }
      return creating
        ? promptNewSecret('passphrase for the encrypted store', io.stdin)
        : promptHidden('Passphrase of the encrypted store: ', io.stdin);
    },
  });
}

function intFlag(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new CliUsageError(`${flag} "${value}" is not a whole number.`, {
      option: flag,
      fix: `Pass e.g. ${flag} 90.`,
    });
  }
  return n;
}

/** The password from --password-stdin or a prompt; undefined when neither is asked for (`update`). */
async function passwordInput(flags: AddFlags, required: boolean, io: CommandIo): Promise<Secret | undefined> {
  refusePasswordArgument(flags.password);
  if (flags.passwordStdin) {
    stdinUsed = true;
    return readStdinSecret('a password', io.stdin);
  }
  if (flags.password === true || required) {
    if (!canPrompt(io.stdin)) {
      throw new CliUsageError('A password is needed but standard input is not a terminal.', {
        option: '--password-stdin',
        fix: 'Pipe it with --password-stdin.',
      });
    }
    return promptHidden('Password: ', io.stdin);
  }
  return undefined;
}

async function confirmProduction(
  environment: CredentialEnvironment,
  yes: boolean | undefined,
  action: string,
  io: CommandIo,
): Promise<void> {
  if (!environment.production || yes) return;
  if (!io.stdin.isTTY) {
    throw new CredsError(
      'PGW_CREDS_CONFIRMATION_REQUIRED',
      `"${environment.name}" is a production environment; ${action} needs confirmation.`,
      {
        option: '--yes',
        fix: 'Pass --yes (scripts), or run on a terminal and confirm.',
      },
    );
  }
  const answer = await promptLine(
    `"${environment.name}" is a production environment. Type its name to ${action}: `,
    io.stdin,
  );
  if (answer !== environment.name) {
    throw new CredsError(
      'PGW_CREDS_CONFIRMATION_REQUIRED',
      `Not confirmed; "${environment.name}" was not changed.`,
      {
        option: '--yes',
        fix: 'Type the environment name exactly, or pass --yes.',
      },
    );
  }
}

async function add(name: string, flags: AddFlags, io: CommandIo): Promise<number> {
  refusePasswordArgument(flags.password);
  const store = openStore(io);
  const fields = resolvedFields(flags);
  const expiresDays =
    flags.expiresDays === undefined ? undefined : intFlag(flags.expiresDays, '--expires-days');
  // Fail before asking for a password that would be thrown away.
  await store.assertCanAdd(name);
  const password = (await passwordInput(flags, true, io)) as Secret;
  const environment = await store.add(name, fields, {
    password,
    store: flags.store,
    ...(expiresDays !== undefined ? { expiresDays } : {}),
  });
  io.out(
    `✓ added ${name}: ${describeTarget(environment)}, password in the ${storeName(environment.store)}${expiryText(environment)}\n`,
  );
  return EXIT_OK;
}

async function update(name: string, flags: UpdateFlags, io: CommandIo): Promise<number> {
  refusePasswordArgument(flags.password);
  const store = openStore(io);
  const current = await store.get(name);
  const fields = explicitFields(flags);
  const expiresDays =
    flags.expiresDays === undefined ? undefined : intFlag(flags.expiresDays, '--expires-days');
  await confirmProduction(current, flags.yes, 'change it', io);
  const password = await passwordInput(flags, false, io);
  const environment = await store.update(name, fields, {
    ...(password ? { password } : {}),
    ...(expiresDays !== undefined ? { expiresDays } : {}),
  });
  io.out(
    `✓ updated ${name}: ${describeTarget(environment)}${password ? ', new password stored' : ''}${expiryText(environment)}\n`,
  );
  return EXIT_OK;
}

async function list(flags: { json?: boolean }, io: CommandIo): Promise<number> {
  const environments = await openStore(io).list();
  if (flags.json) {
    io.out(`${JSON.stringify(environments.map(environmentJson), null, 2)}\n`);
    return EXIT_OK;
  }
  if (environments.length === 0) {
    io.out('No environments stored. Add one with: pgwarden creds add <env>\n');
    return EXIT_OK;
  }
  const rows = environments.map((e) => [
    e.name,
    e.user ?? '-',
    describeAddress(e),
    e.sslMode ?? 'default',
    e.store,
    e.expiresAt ? `${isoDay(e.expiresAt)} (${daysText(e.expiresAt)})` : 'never',
    e.production ? 'production' : '',
  ]);
  io.out(table(['NAME', 'USER', 'SERVER', 'SSLMODE', 'STORE', 'EXPIRES', ''], rows));
  return EXIT_OK;
}

async function show(
  name: string,
  flags: { password?: boolean; json?: boolean },
  io: CommandIo,
): Promise<number> {
  const store = openStore(io);
  const environment = await store.get(name);
  const password = flags.password ? await store.password(name) : undefined;
  if (flags.json) {
    const out: Record<string, unknown> = environmentJson(environment);
    // Printed on request only, and deliberately not through redaction.
    if (password) out.password = password.reveal();
    io.out(`${JSON.stringify(out, null, 2)}\n`);
    return EXIT_OK;
  }
  const lines = [
    `${name}${environment.production ? ' (production)' : ''}`,
    ...Object.entries({
      host: environment.host,
      port: environment.port,
      database: environment.database,
      user: environment.user,
      sslmode: environment.sslMode ?? 'default (prefer; verify-full in production)',
      sslrootcert: environment.sslRootCert,
      store: storeName(environment.store),
      strategy:
        environment.strategy === 'alternating'
          ? `alternating (${environment.baseUser ?? environment.user} / ${environment.baseUser ?? environment.user}_clone, group ${environment.groupRole ?? '?'})`
          : 'single',
      updated: environment.updatedAt?.toISOString(),
      expires: environment.expiresAt
        ? `${environment.expiresAt.toISOString()} (${daysText(environment.expiresAt)})`
        : 'never',
      password: password ? password.reveal() : '(hidden; --password prints it)',
    })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `  ${k.padEnd(12)} ${String(v)}`),
  ];
  io.out(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

async function test(name: string, flags: { json?: boolean }, io: CommandIo): Promise<number> {
  const report = await testCredentials(openStore(io), name);
  io.out(flags.json ? `${JSON.stringify(redactValue(testJson(report)), null, 2)}\n` : formatTest(report));
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

async function remove(name: string, flags: { yes?: boolean }, io: CommandIo): Promise<number> {
  const store = openStore(io);
  const environment = await store.get(name);
  await confirmProduction(environment, flags.yes, 'remove it', io);
  const { passwordDeleted } = await store.remove(name);
  io.out(
    `✓ removed ${name}${passwordDeleted ? ` and its password from the ${storeName(environment.store)}` : ' (no stored password was found)'}\n`,
  );
  return EXIT_OK;
}

async function check(flags: { days: string; json?: boolean }, io: CommandIo): Promise<number> {
  const store = openStore(io);
  const report = checkExpiry(await store.list(), {
    now: store.now(),
    warnDays: intFlag(flags.days, '--days'),
  });
  io.out(flags.json ? `${JSON.stringify(expiryJson(report), null, 2)}\n` : formatCheck(report));
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

async function rotate(name: string, flags: RotateFlags, io: CommandIo): Promise<number> {
  const store = openStore(io);
  const environment = await store.get(name);
  // The admin connection: --profile (or --url); default the rotated profile itself, never DB_PROFILE.
  const adminProfile = profileName(flags, { profileFromEnv: false, warn: io.err });
  await confirmProduction(environment, flags.yes, 'rotate it', io);
  let admin;
  if (adminProfile !== undefined) {
    const { profile, password } = await loadProfile(adminProfile, store);
    admin = environmentPoolOptions(profile, password);
  } else if (flags.url !== undefined) admin = { url: flags.url };
  const report = await rotateCredentials(store, name, {
    ...(flags.strategy ? { strategy: flags.strategy } : {}),
    ...(flags.group ? { groupRole: flags.group } : {}),
    ...(admin ? { admin } : {}),
    setValidUntil: flags.validUntil,
    generate: { length: intFlag(flags.length, '--length') },
  });
  io.out(flags.json ? `${JSON.stringify(rotationJson(report), null, 2)}\n` : formatRotation(report));
  return EXIT_OK;
}

function generate(
  flags: { length: string; classes: string; ambiguous: boolean; json?: boolean },
  io: CommandIo,
): number {
  const options: GenerateOptions = {
    length: intFlag(flags.length, '--length'),
    classes: parseClasses(flags.classes),
    noAmbiguous: !flags.ambiguous,
  };
  const password = generatePassword(options);
  io.out(
    flags.json
      ? `${JSON.stringify({ password: password.reveal(), length: password.length })}\n`
      : `${password.reveal()}\n`,
  );
  return EXIT_OK;
}

interface ExportFlags {
  format: string;
  password?: boolean;
  passfile?: string;
}

async function exportCommand(name: string, flags: ExportFlags, io: CommandIo): Promise<number> {
  assertExportFormat(flags.format);
  if (flags.passfile !== undefined && flags.password) {
    throw new CliUsageError('--passfile and --password both hand over the password.', {
      option: '--passfile',
      fix: 'Keep --passfile (the password stays out of the environment) or --password, not both.',
    });
  }
  if (flags.passfile !== undefined && flags.format !== 'env' && flags.format !== 'dotenv') {
    throw new CliUsageError(`--passfile goes with --format env or dotenv, not ${flags.format}.`, {
      option: '--passfile',
      fix: 'Add --format env (or dotenv), or use --password.',
    });
  }
  const store = openStore(io);
  const environment = await store.get(name);
  const wanted = flags.password || flags.passfile !== undefined;
  const password = wanted ? await store.password(name) : undefined;
  const passfile =
    flags.passfile !== undefined && password
      ? writePassfile(flags.passfile, environment, password)
      : undefined;
  io.out(exportEnvironment(environment, flags.format, passfile ? { passfile } : { password }));
  if (!password) {
    io.err(
      `(password not included; add ${flags.format === 'env' || flags.format === 'dotenv' ? '--passfile FILE (a 0600 passfile, kept out of the environment) or ' : ''}--password to include it)\n`,
    );
  }
  return EXIT_OK;
}

// ---- formatting -------------------------------------------------------------
