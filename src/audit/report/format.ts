/** Picks the formatter for `--format`. */
import { CliUsageError } from '../../errors.js';
import type { AuditReport } from '../report-model.js';
import { formatHtml } from './html.js';
import { formatJson } from './json.js';
import { formatJunit } from './junit.js';
import { formatSarif } from './sarif.js';
import { formatText } from './text.js';

export const REPORT_FORMATS = ['text', 'json', 'sarif', 'junit', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function parseReportFormat(value: string): ReportFormat {
  const lower = value.toLowerCase();
  if ((REPORT_FORMATS as readonly string[]).includes(lower)) return lower as ReportFormat;
  throw new CliUsageError(`--format "${value}" is not a report format.`, {
    option: '--format',
    fix: `Use one of ${REPORT_FORMATS.join(', ')}.`,
  });
}

export function formatReport(
  report: AuditReport,
  format: ReportFormat,
  options: { color?: boolean } = {},
): string {
  switch (format) {
    case 'text':
      return formatText(report, options);
    case 'json':
      return formatJson(report);
    case 'sarif':
      return formatSarif(report);
    case 'junit':
      return formatJunit(report);
    case 'html':
      return formatHtml(report);
  }
}
