/** `pgwarden/alerts`: the guidelines' alert thresholds checked against logs, the server and backups. */
export { runAlertsCheck } from './check.js';
export type { AlertsCheckOptions, AlertsReport } from './check.js';
export {
  DEFAULT_ALERTS_CONFIG,
  loadAlertsConfigFile,
  resolveAlertsConfig,
  validateAlertsLayer,
} from './config.js';
export type { AlertsConfig, AlertsConfigLayer } from './config.js';
export { RULE_IDS } from './rule-result.js';
export type { RuleId, RuleResult, RuleStatus, Severity as AlertSeverity } from './rule-result.js';
export { parseWebhookUrl, sendAlertWebhooks, alertDocument } from './webhook.js';
export type { AlertDocument, WebhookDelivery, WebhookResult, WebhookTarget } from './webhook.js';
export { AlertsError } from './alerts-error.js';
