/**
 * Sends one JSON document per fired alert to a webhook (Slack-style
 * incoming hooks, Alertmanager-compatible receivers, a team's own service).
 *
 * The URL is a secret: hooks usually carry their token in the path or query,
 * sometimes as `user:password@`. It is held in a {@link Secret}, shown only
 * as its origin (`https://hooks.example.com`), and its credentials, if any,
 * become a Basic authorization header (fetch refuses URLs with credentials).
 * A failed delivery is a coded warning in the result, never a thrown error:
 * the check's own outcome and exit code stand.
 */
import { createRequire } from 'node:module';
import { Secret } from '../redact/secret.js';
import { redact, redactValue } from '../redact/redactor.js';
import { requireSecureEndpoint } from '../net/secure-endpoint.js';
import { AlertsError } from './alerts-error.js';
import type { AlertsReport } from './check.js';
import type { RuleResult } from './rule-result.js';

/** The body POSTed for one fired alert. Stable: receivers parse it. */
export interface AlertDocument {
  readonly source: 'pgwarden';
  readonly version: 1;
  readonly rule: string;
  readonly title: string;
  readonly severity: string;
  readonly status: 'fired';
  readonly summary: string;
  readonly observed: number | null;
  readonly threshold: number;
  readonly unit: string;
  readonly window: string | null;
  /** The label of the database checked (`host:port/database` by default); never credentials. */
  readonly host: string;
  readonly firedAt: string;
}

export interface WebhookTarget {
  /** The URL without credentials, as a Secret (its path or query may hold a token). */
  readonly url: Secret;
  readonly authorization: Secret | undefined;
  /** Safe to print: scheme, host and port only. */
  readonly display: string;
}

export interface WebhookDelivery {
  readonly rule: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly error?: { readonly code: 'PGW_ALERTS_WEBHOOK_FAILED'; readonly message: string };
}

export interface WebhookResult {
  readonly target: string;
  readonly sent: number;
  readonly failed: number;
  readonly deliveries: readonly WebhookDelivery[];
}

/**
 * Validates a webhook URL: https, or plain http to a loopback receiver only
 * (src/net/secure-endpoint.ts), since the URL itself usually carries the
 * hook's token.
 */
export function parseWebhookUrl(value: string | Secret, option = '--webhook'): WebhookTarget {
  const text = value instanceof Secret ? value.reveal() : value;
  // Track the whole URL as a secret before anything can print it.
  if (!(value instanceof Secret)) new Secret(text);
  // The URL is a secret (a token in its path or query): one rule for every such endpoint,
  // https, or plain http on loopback only. Credentials in it become a header, so they are allowed.
  const url = requireSecureEndpoint(
    text,
    { option, service: 'the webhook receiver', refuseCredentials: false },
    (problem) =>
      new AlertsError('PGW_ALERTS_CONFIG_INVALID', problem.message, {
        option,
        fix:
          problem.kind === 'malformed'
            ? 'Pass an absolute https:// URL (plain http only for a receiver on 127.0.0.1, ::1 or localhost).'
            : 'Use the https:// URL of the webhook receiver.',
      }),
  );
  const hasCredentials = url.username !== '' || url.password !== '';
  let authorization: Secret | undefined;
  if (hasCredentials) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (password) new Secret(password);
    authorization = new Secret(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
    url.username = '';
    url.password = '';
  }
  return { url: new Secret(url.href), authorization, display: url.origin };
}

export function alertDocument(rule: RuleResult, report: AlertsReport): AlertDocument {
  return redactValue({
    source: 'pgwarden',
    version: 1,
    rule: rule.rule,
    title: rule.title,
    severity: rule.severity,
    status: 'fired',
    summary: rule.summary,
    observed: rule.observed,
    threshold: rule.threshold,
    unit: rule.unit,
    window: rule.window,
    host: report.label,
    firedAt: report.checkedAt,
  }) as AlertDocument;
}

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** POSTs each fired alert, one request at a time, and reports every delivery. */
export async function sendAlertWebhooks(
  report: AlertsReport,
  target: WebhookTarget,
  options: { timeoutMs?: number } = {},
): Promise<WebhookResult> {
  const deliveries: WebhookDelivery[] = [];
  for (const rule of report.rules.filter((r) => r.status === 'fired')) {
    const fail = (message: string, status?: number): WebhookDelivery => ({
      rule: rule.rule,
      ok: false,
      ...(status === undefined ? {} : { status }),
      error: { code: 'PGW_ALERTS_WEBHOOK_FAILED', message: redact(`Webhook ${target.display}: ${message}`) },
    });
    try {
      const response = await fetch(target.url.reveal(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `pgwarden/${version}`,
          ...(target.authorization ? { authorization: target.authorization.reveal() } : {}),
        },
        body: JSON.stringify(alertDocument(rule, report)),
        // A redirect would send the alert (and the credentials) somewhere not configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      await response.body?.cancel().catch(() => undefined);
      deliveries.push(
        response.ok
          ? { rule: rule.rule, ok: true, status: response.status }
          : fail(`HTTP ${response.status} for the ${rule.rule} alert.`, response.status),
      );
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer within ${options.timeoutMs ?? 5_000} ms`
          : (e.cause?.code ?? e.name ?? 'network error');
      deliveries.push(fail(`delivery of the ${rule.rule} alert failed (${why}).`));
    }
  }
  return {
    target: target.display,
    sent: deliveries.filter((d) => d.ok).length,
    failed: deliveries.filter((d) => !d.ok).length,
    deliveries,
  };
}
