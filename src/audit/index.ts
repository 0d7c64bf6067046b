/** `pgwarden/audit`: the security audit of a live server and of the connection config. */
export { runAudit } from './runner.js';
export type { AuditOptions } from './runner.js';
export type { AuditReport, AuditSummary } from './report-model.js';
export { blockingFindings } from './report-model.js';
export type { Finding, FindingObject, Area as AuditArea } from './finding.js';
export type { Severity as AuditSeverity, Status as AuditStatus } from './severity.js';
export {
  formatReport as formatAuditReport,
  REPORT_FORMATS as AUDIT_REPORT_FORMATS,
} from './report/format.js';
export type { ReportFormat as AuditReportFormat } from './report/format.js';
export { CHECK_CATALOG as AUDIT_CHECKS } from './catalog.js';
export { DEFAULT_THRESHOLDS as AUDIT_DEFAULT_THRESHOLDS } from './check.js';
export type { AuditThresholds } from './check.js';
export { loadSuppressions, parseSuppressions, ignoreFlags as auditIgnoreFlags } from './suppressions.js';
export type { Suppression as AuditSuppression } from './suppressions.js';
export { loadBaseline, parseBaseline } from './baseline.js';
export { SERVER_VERSIONS } from './server-versions.js';
export type { ServerVersionTable } from './server-versions.js';
export { AuditError } from './audit-error.js';
