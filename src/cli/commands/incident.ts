/**
 * `pgwarden incident revoke|sessions`: a thin shell over src/incident/.
 */
import { Command, Option } from 'commander';
import { CredentialStore } from '../../creds/store.js';
import { IncidentError } from '../../incident/incident-error.js';
import { parseDurationSeconds } from '../../incident/duration.js';
import { revokeRole, type RevokeReport } from '../../incident/revoke.js';
import { listSessions, type SessionsReport } from '../../incident/sessions.js';
import { teach } from '../teach.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { openAdminPool, type AdminFlags } from './admin-pool.js';
import type { CommandIo } from './creds.js';
import { promptLine } from './secret-input.js';
import { terminalSafe } from '../../text/terminal-text.js';

interface RevokeFlags extends AdminFlags {
  rotate?: boolean;
  credsEnv?: string;
  yes?: boolean;
  json?: boolean;
}
interface SessionsFlags extends AdminFlags {
  since?: string;
  user?: string;
  json?: boolean;
}

const processIo = (): CommandIo => ({
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdin: process.stdin,
});

export async function incidentCommand(args: string[], io: CommandIo = processIo()): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('pgwarden incident')
    .description('Incident response')
    .exitOverride()
    .showHelpAfterError();
  const connection = (command: Command): Command =>
    command
      .option('--url <url>', 'admin connection URL (else DATABASE_URL, DB_*, PG* variables)')
      .option('--profile <name>', 'a stored connection to connect as (creds add NAME); default DB_PROFILE')
      .addOption(new Option('--admin-env <name>', 'deprecated: --profile').hideHelp())
      .option('--json', 'print JSON');
  connection(program.command('revoke <role>'))
    .description(
      'NOLOGIN + VALID UNTIL now, revoke CONNECT everywhere, terminate its sessions, report what it still holds',
    )
    .option('--rotate', 'also replace its password with a random one (sent as a SCRAM verifier)')
    .option('--creds-env <env>', 'with --rotate: store the new password in this creds environment')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (role: string, flags: RevokeFlags) => {
      exitCode = await revoke(role, flags, io);
    });
  connection(program.command('sessions'))
    .description(
      'Current sessions (pg_stat_activity + pg_stat_ssl): user, client, application, TLS, start, state',
    )
    .option('--since <duration>', 'only sessions started within this time, e.g. 24h')
    .option('--user <role>', 'only sessions of this role')
    .action(async (flags: SessionsFlags) => {
      exitCode = await sessions(flags, io);
    });
  await teach(program).parseAsync(args, { from: 'user' });
  return exitCode;
}

async function revoke(role: string, flags: RevokeFlags, io: CommandIo): Promise<number> {
  if (flags.credsEnv && !flags.rotate) {
    throw new IncidentError('PGW_CLI_USAGE', '--creds-env only makes sense with --rotate.', {
      option: '--creds-env',
      fix: 'Add --rotate, or drop --creds-env.',
    });
  }
  if (!flags.yes) {
    if (!io.stdin.isTTY) {
      throw new IncidentError('PGW_INCIDENT_REFUSED', `Revoking "${role}" needs confirmation.`, {
        option: '--yes',
        fix: 'Pass --yes, or run on a terminal and confirm.',
      });
    }
    const answer = await promptLine(
      `Lock out "${role}" and terminate its sessions? Type the role name to confirm: `,
      io.stdin,
    );
    if (answer !== role) {
      throw new IncidentError('PGW_INCIDENT_REFUSED', `Not confirmed; "${role}" was not touched.`, {
        option: '--yes',
      });
    }
  }
  const pool = await openAdminPool(flags);
  try {
    const report = await revokeRole(pool, role, {
      rotate: flags.rotate ?? false,
      ...(flags.credsEnv ? { credsEnvironment: flags.credsEnv, store: new CredentialStore() } : {}),
    });
    io.out(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatRevoke(report));
    return report.sessionsRemaining.length === 0 ? EXIT_OK : EXIT_FAILED;
  } finally {
    await pool.close();
  }
}

async function sessions(flags: SessionsFlags, io: CommandIo): Promise<number> {
  const sinceSeconds = flags.since === undefined ? undefined : parseDurationSeconds(flags.since);
  const pool = await openAdminPool(flags);
  try {
    const report = await listSessions(pool, {
      ...(sinceSeconds !== undefined ? { sinceSeconds } : {}),
      ...(flags.user !== undefined ? { user: flags.user } : {}),
    });
    io.out(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatSessions(report));
    return EXIT_OK;
  } finally {
    await pool.close();
  }
}

// Both reports hold names chosen by whoever can connect (roles, databases, applications):
// control characters are escaped before they reach a terminal.
function formatRevoke(report: RevokeReport): string {
  const r = terminalSafe(report);
  const held = r.stillHeld;
  const list = (items: readonly string[]): string => (items.length ? items.join('; ') : 'none');
  const lines = [
    `✓ ${r.role}: NOLOGIN, VALID UNTIL ${r.validUntil}${r.passwordRotated ? ', password replaced' : ''}`,
    `  CONNECT revoked on: ${list(r.connectRevokedOn)}`,
    `  sessions terminated: ${r.sessionsTerminated}`,
    ...r.sessionsRemaining.map((s) => `  ✗ session ${s.pid} still open: ${s.reason}`),
    r.storedIn ? `  new password stored in creds environment "${r.storedIn}"` : undefined,
    'Still held (revoke or review these):',
    `  member of: ${list(held.memberOf)}`,
    `  database privileges: ${list(held.databases)}`,
    `  schema privileges: ${list(held.schemas)}`,
    `  table privileges: ${list(held.relations)}`,
    `  owns: ${list(held.owns)}`,
    ...r.warnings.map((w) => `! ${w}`),
  ];
  return `${lines.filter((l) => l !== undefined).join('\n')}\n`;
}

function formatSessions(report: SessionsReport): string {
  const r = terminalSafe(report);
  const header = ['PID', 'USER', 'DATABASE', 'CLIENT', 'APPLICATION', 'TLS', 'STARTED', 'STATE'];
  const rows = r.sessions.map((s) => [
    `${s.pid}${s.self ? '*' : ''}`,
    s.user ?? '?',
    s.database ?? '?',
    s.clientAddress ?? 'hidden',
    s.application ?? '',
    s.tls === null ? '?' : s.tls ? `${s.tlsVersion ?? 'yes'}` : 'NO',
    s.startedAt ?? '?',
    s.state ?? '?',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line), `${r.sessions.length} session(s); * = this command`];
  if (!r.fullVisibility)
    out.push('! details of other roles are hidden: connect as a member of pg_read_all_stats');
  return `${out.join('\n')}\n`;
}
