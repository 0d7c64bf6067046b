/**
 * `--format json`: the report as documented in docs/audit.md. Every string is
 * passed through redaction once more on the way out.
 */
import { redact } from '../../redact/redactor.js';
import type { AuditReport } from '../report-model.js';

function redactStrings(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(redactStrings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v)]));
  }
  return value;
}

export function formatJson(report: AuditReport): string {
  return `${JSON.stringify(redactStrings(report), null, 2)}\n`;
}
