/**
 * Days until the server certificate expires, read from the TLS session of
 * the check's own connection (what clients actually get, not a file that
 * may not be the one served). Guidelines threshold: 30 days.
 */
import { certificateExpiry, describeCertificateExpiry } from '../../tls/certificate-expiry.js';
import type { TlsSessionInfo } from '../../tls/session-info.js';
import type { AlertsConfig } from '../config.js';
import { RULE_TITLES, skipped, type RuleResult } from '../rule-result.js';
import { DISABLED } from './log-rule.js';

const DAY_MS = 86_400_000;

export type CertificateInput =
  | { readonly tls: TlsSessionInfo | undefined; readonly sslMode: string }
  | { readonly refusedExpired: { code: string; message: string } }
  | { readonly skip: string };

export function serverCertificateRule(
  config: AlertsConfig,
  input: CertificateInput,
  now: number,
): RuleResult {
  const rule = config.rules['server-certificate'];
  const base = {
    severity: rule.severity,
    threshold: rule.days,
    unit: 'days' as const,
    window: null,
    source: 'TLS session',
  };
  if (!rule.enabled) return skipped('server-certificate', base, DISABLED);
  if ('skip' in input) return skipped('server-certificate', base, input.skip);
  if ('refusedExpired' in input) {
    return {
      rule: 'server-certificate',
      title: RULE_TITLES['server-certificate'],
      status: 'fired',
      ...base,
      severity: 'critical',
      observed: null,
      summary: `The server certificate has expired: the TLS handshake refused it (${input.refusedExpired.code}).`,
      details: { error: input.refusedExpired },
    };
  }
  if (!input.tls) {
    return skipped(
      'server-certificate',
      base,
      `the connection is not encrypted (sslmode ${input.sslMode}), so there is no certificate to read; connect with sslmode=require or stricter`,
    );
  }
  const cert = input.tls.certificate;
  if (!cert) return skipped('server-certificate', base, 'the TLS session carries no server certificate');
  const daysLeft = (Date.parse(cert.validTo) - now) / DAY_MS;
  const observed = Math.floor(daysLeft * 10) / 10;
  // The same verdict and words as doctor and audit (src/tls/certificate-expiry.ts).
  const expiry = certificateExpiry(cert.validTo, now, rule.days);
  return {
    rule: 'server-certificate',
    title: RULE_TITLES['server-certificate'],
    status: expiry.level === 'valid' ? 'ok' : 'fired',
    ...base,
    ...(expiry.level === 'expired' ? { severity: 'critical' as const } : {}),
    observed,
    summary: `The server certificate ${describeCertificateExpiry(expiry)}.`,
    details: {
      subject: cert.subject,
      issuer: cert.issuer,
      validTo: cert.validTo,
      protocol: input.tls.protocol,
    },
  };
}
