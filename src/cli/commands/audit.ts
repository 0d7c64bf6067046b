import { existsSync, writeFileSync } from 'node:fs';
import { AuditError } from '../../audit/audit-error.js';
import { loadBaseline } from '../../audit/baseline.js';
import { formatReport, parseReportFormat } from '../../audit/report/format.js';
import { blockingFindings } from '../../audit/report-model.js';
import { runAudit } from '../../audit/runner.js';
import { parseSeverity } from '../../audit/severity.js';
import { ignoreFlags, loadSuppressions, SUPPRESSIONS_FILE } from '../../audit/suppressions.js';
import { connectionTarget } from '../connection-flags.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';

export interface AuditFlags {
  url?: string;
  profile?: string;
  env?: string;
  policy?: string;
  format?: string;
  output?: string;
  failOn?: string;
  suppressions?: string;
  ignore?: string[];
  ignoreReason?: string;
  baseline?: string;
  color?: boolean;
}

const INPUT_ERRORS = new Set(['PGW_AUDIT_SUPPRESSIONS_INVALID', 'PGW_AUDIT_BASELINE_INVALID']);

export async function auditCommand(flags: AuditFlags): Promise<number> {
  try {
    return await run(flags);
  } catch (error) {
    // Bad suppressions or baseline are usage errors: nothing was audited.
    if (error instanceof AuditError && INPUT_ERRORS.has(error.code)) {
      process.stderr.write(`pgwarden: ${error.code}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

async function run(flags: AuditFlags): Promise<number> {
  const connection = await connectionTarget(flags);
  const format = parseReportFormat(flags.format ?? 'text');
  const failOn = parseSeverity(flags.failOn ?? 'high', '--fail-on');
  const suppressionsPath = flags.suppressions ?? SUPPRESSIONS_FILE;
  const suppressions = [
    ...loadSuppressions(suppressionsPath, flags.suppressions !== undefined),
    ...ignoreFlags(flags.ignore ?? [], flags.ignoreReason),
  ];
  const baseline = flags.baseline === undefined ? undefined : loadBaseline(flags.baseline);

  const progress = process.stderr.isTTY === true;
  const report = await runAudit({
    ...connection,
    failOn,
    suppressions,
    ...(baseline ? { baseline } : {}),
    ...(progress
      ? {
          onProgress: ({ area, index, total }) =>
            process.stderr.write(`\r\u001b[K[${index + 1}/${total}] auditing ${area}…`),
        }
      : {}),
  });
  if (progress) process.stderr.write('\r\u001b[K');

  const color =
    format === 'text' &&
    flags.output === undefined &&
    flags.color !== false &&
    process.stdout.isTTY === true &&
    !process.env.NO_COLOR;
  const text = formatReport(report, format, { color });
  if (flags.output !== undefined) {
    try {
      writeFileSync(flags.output, text, { mode: 0o600 });
    } catch (error) {
      throw new AuditError('PGW_AUDIT_OUTPUT_FAILED', `Cannot write the report to ${flags.output}.`, {
        option: '--output',
        fix: 'Check that the directory exists and is writable.',
        cause: error,
      });
    }
    const s = report.summary;
    process.stdout.write(
      `pgwarden audit: ${format} report written to ${flags.output} (${s.pass} passed, ${s.fail} failed, ${s.skip} skipped, ${s.error} errors)\n`,
    );
  } else {
    process.stdout.write(text);
  }
  if (
    suppressionsPath === SUPPRESSIONS_FILE &&
    flags.suppressions === undefined &&
    existsSync(SUPPRESSIONS_FILE) &&
    format !== 'text'
  ) {
    process.stderr.write(`pgwarden audit: applied suppressions from ./${SUPPRESSIONS_FILE}\n`);
  }
  if (!report.connection.ok && !report.connection.skipped) return EXIT_FAILED;
  return blockingFindings(report, failOn).length > 0 ? EXIT_FAILED : EXIT_OK;
}
