/**
 * Thresholds and inputs of `pgwarden alerts check`, from three layers: the
 * defaults (the guidelines' "Security Alerts" section), a YAML file
 * (`--config alerts.yaml`) and command-line flags, later layers winning.
 *
 * ```yaml
 * label: orders-db              # names the database in reports and webhooks
 * log:
 *   files: ['${PGLOG}/postgresql.csv']   # ${NAME}, ${NAME:-default}: from the environment
 *   format: auto                # stderr | csvlog | jsonlog | auto
 *   linePrefix: '%m [%p] '      # stderr only; default: the server's log_line_prefix
 *   windowEnd: now              # or newest-line, for a copied log
 * backupDir: /var/backups/pgwarden
 * webhook:
 *   timeout: 5s
 * rules:
 *   auth-failures: { threshold: 5, window: 5m, severity: critical }
 *   unencrypted-connections: { threshold: 1, window: 5m }
 *   slow-queries: { threshold: 5s }
 *   server-certificate: { days: 30 }
 *   credentials-expiry: { days: 14 }
 *   backup-age: { maxAge: 26h }
 *   pool-usage: { enabled: false }   # any rule can be turned off
 * ```
 *
 * The webhook URL is deliberately not a file setting: it often carries a
 * token, and config files get committed. Pass it with `--webhook` or
 * PGWARDEN_ALERTS_WEBHOOK.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type * as Zod from 'zod';
import { loadZod } from '../config/zod.js';
import { parseDuration } from '../monitor/duration.js';
import { CERTIFICATE_EXPIRY_DAYS } from '../tls/certificate-expiry.js';
import { AlertsError } from './alerts-error.js';
import { expandConfigVariables } from './config-variables.js';
import { LOG_FORMATS, type LogFormat } from './log/log-entry.js';
import { DEFAULT_MAX_LOG_BYTES } from './log/read-log.js';
import { SEVERITIES, type Severity } from './rule-result.js';

// One zod per process: config/zod.ts.
const z = loadZod();

const duration = z.string().refine((text) => parseDuration(text) !== undefined, {
  message: 'expected a duration with a unit, e.g. 5m or 26h',
});
const severity = z.enum(SEVERITIES);
const enabled = z.boolean();

const countRule = z
  .object({ enabled, severity, threshold: z.number().int().min(1), window: duration })
  .partial()
  .strict();

/** The YAML file's shape. Every key is optional; unknown keys are errors (a misspelled threshold must not be ignored). */
export const alertsFileSchema = z
  .object({
    label: z.string().min(1).max(200),
    log: z
      .object({
        files: z.union([z.string().min(1), z.array(z.string().min(1))]),
        format: z.enum([...LOG_FORMATS, 'auto']),
        linePrefix: z.string(),
        windowEnd: z.enum(['now', 'newest-line']),
        maxBytes: z.number().int().min(1024),
      })
      .partial()
      .strict(),
    backupDir: z.string().min(1),
    webhook: z.object({ timeout: duration }).partial().strict(),
    rules: z
      .object({
        'auth-failures': countRule,
        'unencrypted-connections': countRule,
        'slow-queries': z.object({ enabled, severity, threshold: duration }).partial().strict(),
        'server-certificate': z
          .object({ enabled, severity, days: z.number().min(0).max(3650) })
          .partial()
          .strict(),
        'credentials-expiry': z
          .object({ enabled, severity, days: z.number().min(0).max(3650) })
          .partial()
          .strict(),
        'backup-age': z.object({ enabled, severity, maxAge: duration }).partial().strict(),
        'pool-usage': z.object({ enabled }).partial().strict(),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();

/** One layer of configuration: the YAML file, or the flags turned into the same shape. */
export type AlertsConfigLayer = Zod.input<typeof alertsFileSchema>;

interface RuleBase {
  readonly enabled: boolean;
  readonly severity: Severity;
}

/** The resolved configuration every rule reads. */
export interface AlertsConfig {
  readonly label: string | undefined;
  readonly log: {
    readonly files: readonly string[];
    readonly format: LogFormat | 'auto';
    readonly linePrefix: string | undefined;
    readonly windowEnd: 'now' | 'newest-line';
    readonly maxBytes: number;
  };
  readonly backupDir: string | undefined;
  readonly webhookTimeoutMs: number;
  readonly rules: {
    readonly 'auth-failures': RuleBase & { readonly threshold: number; readonly windowMs: number };
    readonly 'unencrypted-connections': RuleBase & { readonly threshold: number; readonly windowMs: number };
    readonly 'slow-queries': RuleBase & { readonly thresholdMs: number };
    readonly 'server-certificate': RuleBase & { readonly days: number };
    readonly 'credentials-expiry': RuleBase & { readonly days: number };
    readonly 'backup-age': RuleBase & { readonly maxAgeMs: number };
    readonly 'pool-usage': { readonly enabled: boolean };
  };
}

/** The guidelines' thresholds ("Security Alerts"), and 26 h for a daily backup with slack. */
export const DEFAULT_ALERTS_CONFIG: AlertsConfig = {
  label: undefined,
  log: {
    files: [],
    format: 'auto',
    linePrefix: undefined,
    windowEnd: 'now',
    maxBytes: DEFAULT_MAX_LOG_BYTES,
  },
  backupDir: undefined,
  webhookTimeoutMs: 5_000,
  rules: {
    'auth-failures': { enabled: true, severity: 'critical', threshold: 5, windowMs: 300_000 },
    'unencrypted-connections': { enabled: true, severity: 'critical', threshold: 1, windowMs: 300_000 },
    'slow-queries': { enabled: true, severity: 'warning', thresholdMs: 5_000 },
    'server-certificate': { enabled: true, severity: 'warning', days: CERTIFICATE_EXPIRY_DAYS },
    'credentials-expiry': { enabled: true, severity: 'warning', days: 14 },
    'backup-age': { enabled: true, severity: 'critical', maxAgeMs: 26 * 3_600_000 },
    'pool-usage': { enabled: true },
  },
};

function invalid(where: string, issues: readonly Zod.core.$ZodIssue[]): AlertsError {
  const list = issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join('.') || '(top level)';
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(', ')}` : '';
      return `${path}: ${issue.message}${keys}`;
    })
    .join('; ');
  return new AlertsError('PGW_ALERTS_CONFIG_INVALID', `${where} is invalid: ${list}.`, {
    option: issues[0] ? issues[0].path.map(String).join('.') || '--config' : '--config',
    fix: 'Correct the setting; docs/alerts.md lists every key with its default.',
  });
}

/** Validates one layer; `where` names it in errors (a file path or "the flags"). */
export function validateAlertsLayer(value: unknown, where: string): AlertsConfigLayer {
  const result = alertsFileSchema.safeParse(value ?? {});
  if (!result.success) throw invalid(where, result.error.issues);
  return result.data;
}

/**
 * Reads and validates a YAML config file. `${NAME}` and `${NAME:-default}`
 * in its string values are taken from `env` (src/alerts/config-variables.ts).
 * Relative paths in it (log files, backupDir) are then taken relative to the
 * file, so a cron job's working directory does not matter.
 */
export function loadAlertsConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): AlertsConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AlertsError(
      'PGW_ALERTS_INPUT_UNREADABLE',
      `The alerts config ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      { option: '--config', fix: 'Pass the path of a readable YAML file.' },
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    // YAML errors quote the position, not the content.
    const position = (error as { linePos?: [{ line: number; col: number }] }).linePos?.[0];
    throw new AlertsError(
      'PGW_ALERTS_CONFIG_INVALID',
      `${path} is not valid YAML${position ? ` (line ${position.line}, column ${position.col})` : ''}.`,
      { option: '--config', fix: 'Fix the YAML syntax; docs/alerts.md has an example.' },
    );
  }
  const layer = validateAlertsLayer(expandConfigVariables(value, env, path), path);
  const base = dirname(resolve(path));
  const files = layer.log?.files;
  return {
    ...layer,
    ...(layer.log
      ? {
          log: {
            ...layer.log,
            ...(files !== undefined
              ? { files: (Array.isArray(files) ? files : [files]).map((f) => resolve(base, f)) }
              : {}),
          },
        }
      : {}),
    ...(layer.backupDir ? { backupDir: resolve(base, layer.backupDir) } : {}),
  };
}

const ms = (text: string | undefined, fallback: number): number =>
  text === undefined ? fallback : (parseDuration(text) ?? fallback);

/** Merges layers over the defaults, later layers winning key by key. */
export function resolveAlertsConfig(...layers: readonly AlertsConfigLayer[]): AlertsConfig {
  const d = DEFAULT_ALERTS_CONFIG;
  let config: AlertsConfig = d;
  for (const layer of layers) {
    const r = layer.rules ?? {};
    const c = config.rules;
    const files = layer.log?.files;
    config = {
      label: layer.label ?? config.label,
      log: {
        files: files === undefined ? config.log.files : Array.isArray(files) ? files : [files],
        format: layer.log?.format ?? config.log.format,
        linePrefix: layer.log?.linePrefix ?? config.log.linePrefix,
        windowEnd: layer.log?.windowEnd ?? config.log.windowEnd,
        maxBytes: layer.log?.maxBytes ?? config.log.maxBytes,
      },
      backupDir: layer.backupDir ?? config.backupDir,
      webhookTimeoutMs: ms(layer.webhook?.timeout, config.webhookTimeoutMs),
      rules: {
        'auth-failures': {
          enabled: r['auth-failures']?.enabled ?? c['auth-failures'].enabled,
          severity: r['auth-failures']?.severity ?? c['auth-failures'].severity,
          threshold: r['auth-failures']?.threshold ?? c['auth-failures'].threshold,
          windowMs: ms(r['auth-failures']?.window, c['auth-failures'].windowMs),
        },
        'unencrypted-connections': {
          enabled: r['unencrypted-connections']?.enabled ?? c['unencrypted-connections'].enabled,
          severity: r['unencrypted-connections']?.severity ?? c['unencrypted-connections'].severity,
          threshold: r['unencrypted-connections']?.threshold ?? c['unencrypted-connections'].threshold,
          windowMs: ms(r['unencrypted-connections']?.window, c['unencrypted-connections'].windowMs),
        },
        'slow-queries': {
          enabled: r['slow-queries']?.enabled ?? c['slow-queries'].enabled,
          severity: r['slow-queries']?.severity ?? c['slow-queries'].severity,
          thresholdMs: ms(r['slow-queries']?.threshold, c['slow-queries'].thresholdMs),
        },
        'server-certificate': {
          enabled: r['server-certificate']?.enabled ?? c['server-certificate'].enabled,
          severity: r['server-certificate']?.severity ?? c['server-certificate'].severity,
          days: r['server-certificate']?.days ?? c['server-certificate'].days,
        },
        'credentials-expiry': {
          enabled: r['credentials-expiry']?.enabled ?? c['credentials-expiry'].enabled,
          severity: r['credentials-expiry']?.severity ?? c['credentials-expiry'].severity,
          days: r['credentials-expiry']?.days ?? c['credentials-expiry'].days,
        },
        'backup-age': {
          enabled: r['backup-age']?.enabled ?? c['backup-age'].enabled,
          severity: r['backup-age']?.severity ?? c['backup-age'].severity,
          maxAgeMs: ms(r['backup-age']?.maxAge, c['backup-age'].maxAgeMs),
        },
        'pool-usage': { enabled: r['pool-usage']?.enabled ?? c['pool-usage'].enabled },
      },
    };
  }
  return config;
}
