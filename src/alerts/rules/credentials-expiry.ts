/**
 * Days until stored credentials expire, from the non-secret metadata file
 * `$PGWARDEN_HOME/credentials.json` that `pgwarden creds` keeps
 * (`expires_at` per environment; src/secrets/keychain-store-format.ts).
 * Guidelines threshold: 14 days.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvSource } from '../../secrets/env-source.js';
import {
  KEYCHAIN_STORE_FILE,
  KeychainStoreFormatError,
  parseKeychainStore,
  pgwardenHome,
} from '../../secrets/keychain-store-format.js';
import type { AlertsConfig } from '../config.js';
import { RULE_TITLES, skipped, type RuleResult } from '../rule-result.js';
import { DISABLED } from './log-rule.js';

const DAY_MS = 86_400_000;

export function credentialsExpiryRule(config: AlertsConfig, env: EnvSource, now: number): RuleResult {
  const rule = config.rules['credentials-expiry'];
  const base = {
    severity: rule.severity,
    threshold: rule.days,
    unit: 'days' as const,
    window: null,
    source: KEYCHAIN_STORE_FILE,
  };
  if (!rule.enabled) return skipped('credentials-expiry', base, DISABLED);
  const path = join(pgwardenHome(env), KEYCHAIN_STORE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return skipped(
      'credentials-expiry',
      base,
      code === 'ENOENT'
        ? `${path} does not exist: expiry dates are recorded there by \`pgwarden creds\` (set PGWARDEN_HOME to where it keeps them)`
        : `${path} cannot be read (${code ?? 'error'})`,
    );
  }
  let store;
  try {
    store = parseKeychainStore(text);
  } catch (error) {
    const why = error instanceof KeychainStoreFormatError ? error.message : 'it cannot be parsed';
    return skipped('credentials-expiry', base, `${path} is invalid: ${why}`);
  }
  const dated = Object.entries(store.environments)
    .filter(([, meta]) => meta.expires_at !== undefined)
    .map(([environment, meta]) => ({
      environment,
      expiresAt: meta.expires_at!,
      daysLeft: Math.floor(((Date.parse(meta.expires_at!) - now) / DAY_MS) * 10) / 10,
    }))
    .sort((a, b) => a.daysLeft - b.daysLeft);
  const undated = Object.keys(store.environments).filter(
    (name) => store.environments[name]?.expires_at === undefined,
  );
  if (dated.length === 0) {
    return skipped(
      'credentials-expiry',
      base,
      `no environment in ${path} records expires_at (set one with \`pgwarden creds\`)`,
    );
  }
  const soonest = dated[0]!;
  const due = dated.filter((d) => d.daysLeft <= rule.days);
  const fired = due.length > 0;
  return {
    rule: 'credentials-expiry',
    title: RULE_TITLES['credentials-expiry'],
    status: fired ? 'fired' : 'ok',
    ...base,
    ...(soonest.daysLeft < 0 ? { severity: 'critical' as const } : {}),
    observed: soonest.daysLeft,
    summary: fired
      ? `Credentials of ${due.map((d) => `${d.environment} (${d.daysLeft < 0 ? `expired ${Math.abs(d.daysLeft)} day(s) ago` : `${d.daysLeft} day(s) left`})`).join(', ')} expire within ${rule.days} days.`
      : `The soonest credentials to expire (${soonest.environment}) have ${soonest.daysLeft} day(s) left (threshold ${rule.days}).`,
    details: { environments: dated, withoutExpiry: undated },
    ...(undated.length
      ? { notes: [`No expires_at for: ${undated.join(', ')}; those credentials are not checked.`] }
      : {}),
  };
}
