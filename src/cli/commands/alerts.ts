import { accessSync, constants, statSync } from 'node:fs';
import { AlertsError } from '../../alerts/alerts-error.js';
import { runAlertsCheck } from '../../alerts/check.js';
import {
  loadAlertsConfigFile,
  resolveAlertsConfig,
  validateAlertsLayer,
  type AlertsConfigLayer,
} from '../../alerts/config.js';
import { formatAlertsReport } from '../../alerts/format-report.js';
import { unreadable } from '../../alerts/log/read-log.js';
import { RULE_IDS, type RuleId } from '../../alerts/rule-result.js';
import { parseWebhookUrl, sendAlertWebhooks, type WebhookResult } from '../../alerts/webhook.js';
import { resolveConfig } from '../../config/resolve.js';
import { CliUsageError } from '../../errors.js';
import { parseDuration } from '../../monitor/duration.js';
import { redactValue } from '../../redact/redactor.js';
import { connectionTarget } from '../connection-flags.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';

interface AlertsCheckFlags {
  url?: string;
  profile?: string;
  log?: string[];
  logFormat?: string;
  logLinePrefix?: string;
  windowEnd?: string;
  backupDir?: string;
  webhook?: string;
  json?: boolean;
  config?: string;
  label?: string;
  offline?: boolean;
  authFailures?: string;
  authWindow?: string;
  unencrypted?: string;
  unencryptedWindow?: string;
  slowQuery?: string;
  certDays?: string;
  credsDays?: string;
  backupMaxAge?: string;
  disable?: string;
}

/** The environment variable that may hold the webhook URL, so it stays out of `ps` and crontabs. */
export const WEBHOOK_ENV = 'PGWARDEN_ALERTS_WEBHOOK';

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new CliUsageError(`${flag} "${value}" is not a whole number of at least 1.`, {
      option: flag,
      fix: `Pass a count, e.g. ${flag} 5.`,
    });
  }
  return Number(value);
}

function days(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) > 3650) {
    throw new CliUsageError(`${flag} "${value}" is not a number of days.`, {
      option: flag,
      fix: `Pass days, e.g. ${flag} 30.`,
    });
  }
  return Number(value);
}

function duration(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (parseDuration(value) === undefined) {
    throw new CliUsageError(`${flag} "${value}" is not a duration.`, {
      option: flag,
      fix: 'Use a number with a unit: 500ms, 5s, 5m, 26h.',
    });
  }
  return value;
}

function oneOf<T extends string>(
  value: string | undefined,
  flag: string,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CliUsageError(`${flag} "${value}" is not one of ${allowed.join(', ')}.`, {
      option: flag,
      fix: `Use one of ${allowed.join(', ')}.`,
    });
  }
  return value as T;
}

/** The flags as one configuration layer, each checked with an error that names the flag. */
function flagLayer(flags: AlertsCheckFlags): AlertsConfigLayer {
  const disabled = new Set<RuleId>();
  for (const name of (flags.disable ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    disabled.add(oneOf(name, '--disable', RULE_IDS)!);
  }
  const rule = <T extends object>(id: RuleId, values: T): T & { enabled?: false } => {
    const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as T;
    return disabled.has(id) ? { ...defined, enabled: false } : defined;
  };
  const layer: AlertsConfigLayer = {
    ...(flags.label !== undefined ? { label: flags.label } : {}),
    log: Object.fromEntries(
      Object.entries({
        files: flags.log && flags.log.length > 0 ? flags.log : undefined,
        format: oneOf(flags.logFormat, '--log-format', ['stderr', 'csvlog', 'jsonlog', 'auto'] as const),
        linePrefix: flags.logLinePrefix,
        windowEnd: oneOf(flags.windowEnd, '--window-end', ['now', 'newest-line'] as const),
      }).filter(([, v]) => v !== undefined),
    ),
    ...(flags.backupDir !== undefined ? { backupDir: flags.backupDir } : {}),
    rules: {
      'auth-failures': rule('auth-failures', {
        threshold: count(flags.authFailures, '--auth-failures'),
        window: duration(flags.authWindow, '--auth-window'),
      }),
      'unencrypted-connections': rule('unencrypted-connections', {
        threshold: count(flags.unencrypted, '--unencrypted'),
        window: duration(flags.unencryptedWindow, '--unencrypted-window'),
      }),
      'slow-queries': rule('slow-queries', { threshold: duration(flags.slowQuery, '--slow-query') }),
      'server-certificate': rule('server-certificate', { days: days(flags.certDays, '--cert-days') }),
      'credentials-expiry': rule('credentials-expiry', { days: days(flags.credsDays, '--creds-days') }),
      'backup-age': rule('backup-age', { maxAge: duration(flags.backupMaxAge, '--backup-max-age') }),
      'pool-usage': rule('pool-usage', {}),
    },
  };
  return validateAlertsLayer(layer, 'the command line');
}

/** Everything the check will read must be readable before anything runs. */
function checkInputs(files: readonly string[], backupDir: string | undefined): void {
  for (const path of files) {
    try {
      if (!statSync(path).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      accessSync(path, constants.R_OK);
    } catch (error) {
      throw unreadable(path, error);
    }
  }
  if (backupDir !== undefined) {
    let ok = false;
    try {
      ok = statSync(backupDir).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new AlertsError(
        'PGW_ALERTS_INPUT_UNREADABLE',
        `The backup directory ${backupDir} does not exist.`,
        {
          option: '--backup-dir',
          fix: 'Pass the directory `pgwarden backup` writes to.',
        },
      );
    }
  }
}

export async function alertsCheckCommand(flags: AlertsCheckFlags): Promise<number> {
  try {
    const layers = [
      ...(flags.config !== undefined ? [loadAlertsConfigFile(flags.config)] : []),
      flagLayer(flags),
    ];
    const config = resolveAlertsConfig(...layers);
    const webhookUrl = flags.webhook ?? process.env[WEBHOOK_ENV];
    const webhook =
      webhookUrl === undefined || webhookUrl === ''
        ? undefined
        : parseWebhookUrl(webhookUrl, flags.webhook !== undefined ? '--webhook' : WEBHOOK_ENV);
    checkInputs(config.log.files, config.backupDir);
    // A malformed URL is a usage error (exit 2), not a database that is down.
    if (flags.url !== undefined && !flags.offline) resolveConfig({ url: flags.url });
    if (flags.offline && flags.profile !== undefined) {
      throw new CliUsageError('--offline does not connect, so --profile has nothing to do.', {
        option: '--profile',
        fix: 'Drop --profile, or --offline to check the rules that need the database.',
      });
    }

    const report = await runAlertsCheck({
      config,
      connection: flags.offline ? false : await connectionTarget(flags),
    });
    let delivered: WebhookResult | undefined;
    if (webhook && report.fired > 0) {
      delivered = await sendAlertWebhooks(report, webhook, { timeoutMs: config.webhookTimeoutMs });
      for (const d of delivered.deliveries) {
        if (d.error) process.stderr.write(`pgwarden: warning ${d.error.code}: ${d.error.message}\n`);
      }
    }
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(redactValue(delivered ? { ...report, webhook: delivered } : report), null, 2)}\n`
        : formatAlertsReport(report, delivered),
    );
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    if (error instanceof AlertsError) {
      process.stderr.write(`pgwarden: ${error.code}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
