import { runDoctor, type DoctorReport } from '../../doctor/doctor.js';
import { redactValue } from '../../redact/redactor.js';
import { CERTIFICATE_EXPIRY_SEVERITY, describeCertificateExpiry } from '../../tls/certificate-expiry.js';
import { connectionTarget } from '../connection-flags.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { terminalSafe } from '../../text/terminal-text.js';

interface DoctorFlags {
  url?: string;
  profile?: string;
  env?: string;
  policy?: string;
  json?: boolean;
}

export async function doctorCommand(flags: DoctorFlags): Promise<number> {
  const report = await runDoctor(await connectionTarget(flags));
  process.stdout.write(
    flags.json ? `${JSON.stringify(redactValue(report), null, 2)}\n` : formatDoctor(report),
  );
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

const mark = (ok: boolean): string => (ok ? '✓' : '✗');

export function formatDoctor(raw: DoctorReport): string {
  // The role name, session settings and certificate subject come from the server.
  const report = terminalSafe(raw);
  const lines: string[] = [];
  if (report.error) {
    lines.push(`✗ configuration: [${report.error.code}] ${report.error.message}`);
    return `${lines.join('\n')}\n`;
  }
  const c = report.config as Record<string, unknown>;
  lines.push(
    `pgwarden doctor — environment ${report.environment}, policy ${report.policy}`,
    '',
    'Configuration',
  );
  for (const key of [
    'host',
    'port',
    'database',
    'user',
    'passwordSource',
    'sslMode',
    'effectiveSslMode',
    'sslRootCert',
    'sslCert',
    'sslMinVersion',
    'channelBinding',
  ]) {
    lines.push(`  ${key.padEnd(18)} ${String(c[key])}`);
  }
  for (const w of report.warnings) lines.push(`  ! [${w.code}] ${w.message}`);
  if (report.credentialSource) {
    const { backend, cache, ...settings } = report.credentialSource as Record<string, unknown>;
    lines.push('', 'Credentials', `  backend            ${String(backend)}`);
    for (const [key, value] of Object.entries(settings)) {
      if (key !== 'backend' && value !== undefined) lines.push(`  ${key.padEnd(18)} ${String(value)}`);
    }
    if (cache && typeof cache === 'object') {
      const c = cache as Record<string, unknown>;
      lines.push(
        `  cache              ${c.fetches} fetch(es), ${c.hits} hit(s), ${c.staleServed} stale${c.lastErrorCode ? `, last error ${String(c.lastErrorCode)}` : ''}`,
      );
    }
  }
  lines.push('', 'Policy');
  if (report.violations.length === 0) lines.push('  ✓ no violations');
  for (const v of report.violations) lines.push(`  ✗ [${v.code}] ${v.message}`, `      fix: ${v.fix}`);
  const conn = report.connection;
  lines.push('', 'Connection');
  if (!conn) lines.push('  - not attempted');
  else if (conn.skipped) lines.push(`  - skipped: ${conn.skipped}`);
  else if (!conn.ok && conn.error) lines.push(`  ✗ [${conn.error.code}] ${conn.error.message}`);
  else {
    lines.push(`  ✓ connected to PostgreSQL ${conn.serverVersion ?? '?'}`);
    if (conn.tls) {
      lines.push(`  ${mark(true)} TLS ${conn.tls.protocol} ${conn.tls.cipher}`);
      if (conn.tls.certificate) {
        const cert = conn.tls.certificate;
        const { expiry } = cert;
        // Marked as audit marks tls.server-cert-expiry: ✗ [high] within the threshold, ✗ [critical] expired.
        const mark = expiry.level === 'valid' ? '✓' : `✗ [${CERTIFICATE_EXPIRY_SEVERITY[expiry.level]}]`;
        lines.push(
          `    server certificate: ${cert.subject}`,
          `    issued by:          ${cert.issuer}`,
          `  ${mark} certificate ${describeCertificateExpiry(expiry)}`,
        );
      }
    } else lines.push(`  ${mark(false)} not encrypted`);
    lines.push(`  authentication: ${conn.authMechanism}`);
    if (conn.role) {
      const attrs = (['superuser', 'createRole', 'createDb', 'bypassRls', 'replication'] as const).filter(
        (k) => conn.role![k],
      );
      lines.push(`  role ${conn.role.name}: ${attrs.length ? attrs.join(', ') : 'no elevated attributes'}`);
    }
    for (const [key, value] of Object.entries(conn.session ?? {})) lines.push(`  ${key} = ${value}`);
  }
  lines.push('', report.ok ? '✓ compliant' : '✗ not compliant');
  return `${lines.join('\n')}\n`;
}
