/**
 * How `pgwarden creds` shows its results: JSON objects for --json (never a
 * secret) and aligned text tables for people.
 */
import type { CredentialEnvironment, StoreKind } from '../../creds/environment.js';
import type { ExpiryEntry, ExpiryReport } from '../../creds/expiry.js';
import type { RotationReport } from '../../creds/rotate.js';
import type { CredentialsTestReport } from '../../creds/test-credentials.js';

export function environmentJson(e: CredentialEnvironment): Record<string, unknown> {
  return {
    name: e.name,
    host: e.host,
    port: e.port,
    database: e.database,
    user: e.user,
    sslmode: e.sslMode,
    sslrootcert: e.sslRootCert,
    production: e.production,
    store: e.store,
    strategy: e.strategy,
    ...(e.strategy === 'alternating' ? { baseUser: e.baseUser, groupRole: e.groupRole } : {}),
    updatedAt: e.updatedAt?.toISOString(),
    expiresAt: e.expiresAt?.toISOString() ?? null,
    expiresDays: e.expiresDays,
  };
}

export function entryJson(e: ExpiryEntry): Record<string, unknown> {
  return {
    name: e.name,
    status: e.status,
    expiresAt: e.expiresAt?.toISOString() ?? null,
    daysLeft: e.daysLeft ?? null,
    production: e.production,
  };
}

export function expiryJson(r: ExpiryReport): Record<string, unknown> {
  return {
    ok: r.ok,
    warnDays: r.warnDays,
    expired: r.expired.map(entryJson),
    expiring: r.expiring.map(entryJson),
    healthy: r.healthy.map(entryJson),
    noExpiry: r.noExpiry.map(entryJson),
  };
}

export function testJson(r: CredentialsTestReport): Record<string, unknown> {
  return { ...r, expiry: entryJson(r.expiry) };
}

export function rotationJson(r: RotationReport): Record<string, unknown> {
  return {
    ok: true,
    ...r,
    validUntil: r.validUntil?.toISOString() ?? null,
    expiresAt: r.expiresAt?.toISOString() ?? null,
  };
}

export function formatCheck(r: ExpiryReport): string {
  const lines: string[] = [];
  const section = (
    title: string,
    entries: readonly ExpiryEntry[],
    mark: string,
    text: (e: ExpiryEntry) => string,
  ): void => {
    if (entries.length === 0) return;
    lines.push(
      title,
      ...entries.map((e) => `  ${mark} ${e.name}${e.production ? ' (production)' : ''}: ${text(e)}`),
      '',
    );
  };
  section(
    'Expired:',
    r.expired,
    '✗',
    (e) =>
      `expired ${-(e.daysLeft ?? 0)} day(s) ago (${e.expiresAt?.toISOString()}) — pgwarden creds rotate ${e.name}`,
  );
  section(
    `Expiring within ${r.warnDays} days:`,
    r.expiring,
    '!',
    (e) => `${e.daysLeft} day(s) left (${e.expiresAt?.toISOString()})`,
  );
  section('Healthy:', r.healthy, '✓', (e) => `${e.daysLeft} day(s) left`);
  section('No expiry:', r.noExpiry, '-', () => 'expiry off');
  if (lines.length === 0) lines.push('No environments stored.', '');
  lines.push(r.ok ? '✓ nothing expired' : `✗ ${r.expired.length} environment(s) expired`);
  return `${lines.join('\n')}\n`;
}

export function formatTest(r: CredentialsTestReport): string {
  const lines = [
    `pgwarden creds test ${r.environment}: ${r.user ?? '?'}@${r.host ?? '?'}:${r.port ?? '?'}/${r.database ?? '?'}`,
  ];
  if (r.ok) {
    lines.push(`  ✓ connected to PostgreSQL ${r.serverVersion ?? '?'}`);
    lines.push(r.tls ? `  ✓ TLS ${r.tls.protocol} ${r.tls.cipher}` : '  ✗ not encrypted');
    for (const v of r.violations) lines.push(`  ! [${v.code}] ${v.message}`);
  } else if (r.error) {
    lines.push(`  ✗ [${r.error.code}] ${r.error.message}`);
  }
  if (r.expiry.status === 'expired')
    lines.push(`  ✗ the password expired on ${r.expiry.expiresAt?.toISOString()}`);
  else if (r.expiry.status === 'expiring')
    lines.push(`  ! the password expires in ${r.expiry.daysLeft} day(s)`);
  return `${lines.join('\n')}\n`;
}

export function formatRotation(r: RotationReport): string {
  const lines = [
    `✓ rotated ${r.environment} (${r.strategy}): "${r.rotatedRole}" has a new password, sent as a SCRAM-SHA-256 verifier (${r.scramIterations} iterations)`,
    r.createdRole ? `  created "${r.rotatedRole}" as a member of the group role` : undefined,
    r.validUntil ? `  VALID UNTIL ${r.validUntil.toISOString()}` : '  VALID UNTIL not changed',
    r.user !== r.previousUser
      ? `  the store now uses "${r.user}"; "${r.previousUser}" keeps working until the next rotation`
      : undefined,
    `  next rotation due: ${r.expiresAt ? r.expiresAt.toISOString() : 'never (expiry off)'}`,
  ];
  return `${lines.filter((l) => l !== undefined).join('\n')}\n`;
}

export function storeName(kind: StoreKind): string {
  return kind === 'file' ? 'encrypted file' : 'OS keychain';
}

export function describeAddress(e: CredentialEnvironment): string {
  return `${e.host ?? '?'}:${e.port ?? '?'}/${e.database ?? '?'}`;
}

export function describeTarget(e: CredentialEnvironment): string {
  return `${e.user ?? '?'}@${describeAddress(e)}`;
}

export function expiryText(e: CredentialEnvironment): string {
  return e.expiresAt ? `, expires ${isoDay(e.expiresAt)}` : ', no expiry';
}

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function daysText(date: Date): string {
  const ms = date.getTime() - Date.now();
  return ms <= 0
    ? `expired ${Math.trunc(-ms / 86_400_000)} day(s) ago`
    : `in ${Math.ceil(ms / 86_400_000)} day(s)`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
