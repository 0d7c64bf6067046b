/**
 * `pgwarden alerts check` as a library call: evaluate every rule once and
 * return a report. Nothing prints here and nothing is sent; the CLI formats
 * the report and hands fired alerts to the webhook sender.
 *
 * Order matters a little: the connection comes first, because the server
 * tells how to read its log (log_line_prefix) and whether sessions are
 * logged at all (log_connections).
 */
import { hostname } from 'node:os';
import { resolveWithoutSecrets } from '../pool/pool-credentials.js';
import { PgwardenError } from '../errors.js';
import { takeSnapshot, type MonitorSnapshot } from '../monitor/snapshot.js';
import { classifyQueryError } from '../pool/classify-error.js';
import { createPool, type CreatePoolOptions, type WardenPool } from '../pool/pool.js';
import type { EnvSource } from '../secrets/env-source.js';
import { DEFAULT_ALERTS_CONFIG, type AlertsConfig } from './config.js';
import { readLogEvidence, type LogEvidence, type LogFileSummary } from './log-evidence.js';
import type { RuleResult } from './rule-result.js';
import { authFailuresRule } from './rules/auth-failures.js';
import { backupAgeRule } from './rules/backup-age.js';
import { credentialsExpiryRule } from './rules/credentials-expiry.js';
import { poolUsageRule } from './rules/pool-usage.js';
import { serverCertificateRule, type CertificateInput } from './rules/server-certificate.js';
import { slowQueriesRule } from './rules/slow-queries.js';
import { unencryptedConnectionsRule } from './rules/unencrypted-connections.js';

export interface AlertsCheckOptions {
  /** Thresholds and inputs. Default: the guidelines' thresholds, no log, no backup directory. */
  config?: AlertsConfig;
  /**
   * How to connect for the database rules (slow queries, server certificate),
   * resolved like `createPool` (options, DATABASE_URL, DB_*, PG*). `false`
   * runs offline: those rules are skipped. Default `{}` (the environment).
   */
  connection?: CreatePoolOptions | false;
  /** Use this pool instead of opening one (it is not closed). */
  pool?: WardenPool;
  /** Where PGWARDEN_HOME is read from. Default `process.env`. */
  env?: EnvSource;
}

export interface ErrorSummary {
  readonly code: string;
  readonly message: string;
  readonly option?: string | undefined;
  readonly fix?: string | undefined;
}

export interface AlertsReport {
  /** True when no rule fired and the database could be reached (or was not asked for). */
  readonly ok: boolean;
  /** Names the database in reports and webhooks; never holds credentials. */
  readonly label: string;
  readonly checkedAt: string;
  readonly fired: number;
  readonly skipped: number;
  readonly rules: readonly RuleResult[];
  readonly connection: {
    readonly attempted: boolean;
    readonly ok: boolean;
    readonly error?: ErrorSummary;
    readonly serverVersion?: string | undefined;
  };
  readonly logs: readonly LogFileSummary[];
}

const summarize = (error: PgwardenError): ErrorSummary => ({
  code: error.code,
  message: error.message,
  option: error.option,
  fix: error.fix,
});

const CERT_REFUSED = new Set(['PGW_TLS_CERT_EXPIRED']);

interface ServerFacts {
  logConnections: boolean | undefined;
  logLinePrefix: string | undefined;
  snapshot: MonitorSnapshot | { skip: string };
  certificate: CertificateInput;
  serverVersion: string | undefined;
}

async function serverFacts(pool: WardenPool, config: AlertsConfig): Promise<ServerFacts> {
  const settings = await pool.query<{ log_connections: string; log_line_prefix: string }>(
    "SELECT current_setting('log_connections') AS log_connections, current_setting('log_line_prefix') AS log_line_prefix",
  );
  const row = settings.rows[0];
  const slow = config.rules['slow-queries'];
  let snapshot: MonitorSnapshot | { skip: string } = { skip: 'disabled in the configuration' };
  if (slow.enabled) {
    snapshot = await takeSnapshot(pool, { longQueryMs: slow.thresholdMs, statementsLimit: 0, limit: 10 });
  }
  return {
    logConnections: row ? row.log_connections === 'on' : undefined,
    logLinePrefix: row?.log_line_prefix,
    snapshot,
    certificate: { tls: pool.startup?.tls, sslMode: pool.config.tls.effectiveMode },
    serverVersion: pool.startup?.serverVersion,
  };
}

/** Runs every rule; rules that cannot run are skipped with the reason. Throws only for unreadable inputs. */
export async function runAlertsCheck(options: AlertsCheckOptions = {}): Promise<AlertsReport> {
  const config = options.config ?? DEFAULT_ALERTS_CONFIG;
  const env = options.env ?? process.env;
  const connection = options.connection ?? {};
  let pool = options.pool;
  const ownPool = !pool && connection !== false;
  let connectionError: PgwardenError | undefined;
  let facts: ServerFacts | undefined;

  try {
    if (ownPool) {
      try {
        pool = await createPool({
          ...(connection as CreatePoolOptions),
          // A check reports an insecure setup; it does not refuse to look at it.
          purpose: 'admin',
          checkRole: false,
          min: 0,
          max: 1,
          // A cron job must end: no statement of the check may hang forever.
          statementTimeoutMs: 30_000,
          applicationName: 'pgwarden-alerts',
        });
      } catch (error) {
        connectionError = error instanceof PgwardenError ? error : classifyQueryError(error);
      }
    }
    if (pool) {
      try {
        facts = await serverFacts(pool, config);
      } catch (error) {
        connectionError = error instanceof PgwardenError ? error : classifyQueryError(error);
      }
    }

    const now = Date.now();
    const noDatabase =
      connection === false && !options.pool
        ? 'offline: no database connection was made (--offline)'
        : `the database could not be reached: [${connectionError?.code}] ${connectionError?.message}`;

    let evidence: LogEvidence | { skip: string };
    if (config.log.files.length === 0) {
      evidence = {
        skip: 'no server log given: pass --log FILE (the file SELECT pg_current_logfile(); names, under the data directory)',
      };
    } else {
      evidence = readLogEvidence(config.log.files, {
        format: config.log.format,
        linePrefix: config.log.linePrefix ?? facts?.logLinePrefix,
        maxBytes: config.log.maxBytes,
      });
    }

    const certificate: CertificateInput = facts
      ? facts.certificate
      : connectionError && CERT_REFUSED.has(connectionError.code)
        ? { refusedExpired: { code: connectionError.code, message: connectionError.message } }
        : { skip: noDatabase };

    const rules: RuleResult[] = [
      authFailuresRule(config, evidence, now),
      unencryptedConnectionsRule(config, evidence, { logConnections: facts?.logConnections }, now),
      slowQueriesRule(config, facts ? facts.snapshot : { skip: noDatabase }),
      serverCertificateRule(config, certificate, now),
      credentialsExpiryRule(config, env, now),
      await backupAgeRule(config, now),
      poolUsageRule(config),
    ];
    const fired = rules.filter((r) => r.status === 'fired').length;
    const reachable = !connectionError;
    const label = config.label ?? targetLabel(pool, connection);
    return {
      ok: fired === 0 && reachable,
      label,
      checkedAt: new Date(now).toISOString(),
      fired,
      skipped: rules.filter((r) => r.status === 'skipped').length,
      rules,
      connection: {
        attempted: connection !== false || options.pool !== undefined,
        ok: Boolean(facts),
        ...(connectionError ? { error: summarize(connectionError) } : {}),
        ...(facts?.serverVersion ? { serverVersion: facts.serverVersion } : {}),
      },
      logs: 'files' in evidence ? evidence.files : [],
    };
  } finally {
    if (ownPool && pool) await pool.close();
  }
}

/** `host:port/database` of the target, even when connecting failed; the host name offline. */
function targetLabel(pool: WardenPool | undefined, connection: CreatePoolOptions | false): string {
  let target = pool?.config;
  if (!target && connection !== false) {
    try {
      target = resolveWithoutSecrets(connection).config;
    } catch {
      // The connection error already says what is wrong with the config.
    }
  }
  return target ? `${target.host}:${target.port}/${target.database}` : `${hostname()} (no database)`;
}
