/**
 * `pgwarden audit` as a library call. Resolves the application's config as
 * the pool does, connects through a WardenPool (the same secure path) from the
 * application's own role, detects what that role can read, then lets each
 * area gather its facts in one round trip inside a read-only transaction and
 * its checks judge them. Nothing is created or changed on the server.
 */
import { createRequire } from 'node:module';
import type pg from 'pg';
import type { ResolvedConfig } from '../config/schema.js';
import { PgwardenError, PolicyError } from '../errors.js';
import { classifyQueryError } from '../pool/classify-error.js';
import {
  poolFromResolution,
  resolveWithSecrets,
  type CreatePoolOptions,
  type WardenPool,
} from '../pool/pool.js';
import { createLogger } from '../logger.js';
import { clientStream } from '../pool/warden-client.js';
import { redact } from '../redact/redactor.js';
import { tlsSessionInfo } from '../tls/session-info.js';
import { applyBaseline, type Baseline } from './baseline.js';
import { areaCoverage, skippedGrants } from './coverage.js';
import { cisEditionFor, type CisEdition } from './cis-sections.js';
import { checkReferences } from './references.js';
import { AUDIT_AREAS } from './catalog.js';
import {
  DEFAULT_THRESHOLDS,
  type AuditThresholds,
  type CheckDefinition,
  type CheckOutcome,
  type EvalContext,
} from './check.js';
import type { Area, Finding } from './finding.js';
import {
  describeCapability,
  hasCapability,
  PRIVILEGES_SELECT,
  privilegesFromRow,
  type PrivilegeRow,
} from './privileges.js';
import { REPORT_SCHEMA_VERSION, summarize, type AuditReport } from './report-model.js';
import { SERVER_VERSIONS, type ServerVersionTable } from './server-versions.js';
import type { AuditSession, Setting } from './session.js';
import type { Severity } from './severity.js';
import { applySuppressions, type Suppression } from './suppressions.js';
import { peerChain } from './tls-peer-chain.js';
import { probeServerTls, tlsProbeTarget } from './tls-probe.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Options of {@link runAudit}: the connection options of createPool, plus these. */
export interface AuditOptions extends CreatePoolOptions {
  /** Failures at or above this severity make the audit fail (exit 1 in the CLI). Default `high`. */
  failOn?: Severity;
  /** Tunables of the activity and expiry checks. Default {@link DEFAULT_THRESHOLDS}. */
  thresholds?: Partial<AuditThresholds>;
  /** Accepted findings (see loadSuppressions). Default none. */
  suppressions?: readonly Suppression[];
  /** A previous report's failures (see loadBaseline): they no longer count. Default none. */
  baseline?: Baseline;
  /** The release table for server.version-supported. Default the one shipped, {@link SERVER_VERSIONS}. */
  versionTable?: ServerVersionTable;
  /** The clock for expiry checks and suppressions. Default now. */
  now?: Date;
  /** Called before each area runs, e.g. for a progress line. */
  onProgress?: (event: { area: Area; index: number; total: number }) => void;
}

const AUDIT_ONLY_KEYS = [
  'failOn',
  'thresholds',
  'suppressions',
  'baseline',
  'versionTable',
  'now',
  'onProgress',
] as const;

const FIRST_ROUND_TRIP = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT ${PRIVILEGES_SELECT},
  current_database() AS database,
  current_setting('server_version') AS server_version,
  current_setting('server_version_num')::int AS server_version_num,
  pg_catalog.pg_is_in_recovery() AS in_recovery,
  pg_catalog.pg_backend_pid() AS pid,
  (SELECT json_object_agg(name, json_build_object('setting', setting, 'unit', unit, 'source', source)) FROM pg_catalog.pg_settings) AS settings`;

interface FirstRow extends PrivilegeRow {
  database: string;
  server_version: string;
  server_version_num: number;
  in_recovery: boolean;
  pid: number;
  settings: Record<string, Setting>;
}

type ConnectionState =
  | { kind: 'connected'; session: AuditSession; client: pg.PoolClient; roundTrips: () => number }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; error: PgwardenError };

function poolOptions(options: AuditOptions): CreatePoolOptions {
  const copy: Record<string, unknown> = { ...options };
  for (const key of AUDIT_ONLY_KEYS) delete copy[key];
  return { ...(copy as CreatePoolOptions), purpose: 'admin', checkRole: false, max: 1, min: 0 };
}

async function openSession(pool: WardenPool): Promise<ConnectionState> {
  const client = await pool.checkout({ retry: false });
  let trips = 0;
  const query = async <R>(text: string, params?: readonly unknown[]): Promise<R[]> => {
    trips++;
    const result = await client.query(text, params === undefined ? undefined : [...params]);
    return (Array.isArray(result) ? (result.at(-1) as pg.QueryResult) : result).rows as R[];
  };
  const stream = clientStream(client);
  let first: FirstRow;
  try {
    first = (await query<FirstRow>(FIRST_ROUND_TRIP))[0]!;
  } catch (error) {
    // Released here: a client left checked out would make pool.close() wait forever.
    client.release(true);
    throw error;
  }
  const session: AuditSession = {
    database: first.database,
    user: first.role,
    serverVersion: first.server_version,
    serverVersionNum: first.server_version_num,
    inRecovery: first.in_recovery,
    pid: first.pid,
    privileges: privilegesFromRow(first),
    settings: new Map(Object.entries(first.settings ?? {})),
    tls: tlsSessionInfo(stream),
    authMechanism: (client as unknown as { authMechanism?: string }).authMechanism,
    peerCertificates: peerChain(stream),
    query,
  };
  return { kind: 'connected', session, client, roundTrips: () => trips };
}

function errorSummary(error: unknown): PgwardenError {
  return error instanceof PgwardenError ? error : classifyQueryError(error);
}

function finding(
  check: CheckDefinition<unknown>,
  area: Area,
  outcome: CheckOutcome | { status: 'error'; detail: string },
  edition: CisEdition,
): Finding {
  const base = {
    id: check.id,
    area,
    title: check.title,
    rationale: check.rationale,
    references: checkReferences(check, edition),
  };
  switch (outcome.status) {
    case 'fail':
      return {
        ...base,
        severity: outcome.severity ?? check.severity,
        status: 'fail',
        detail: redact(outcome.detail),
        objects: outcome.objects.map((o) => ({
          ...o,
          name: redact(o.name),
          ...(o.value === undefined ? {} : { value: redact(o.value) }),
        })),
        remediation: outcome.remediation ?? check.remediation,
      };
    case 'skip':
      return {
        ...base,
        severity: check.severity,
        status: 'skip',
        detail: redact(outcome.detail),
        objects: [],
        remediation: check.remediation,
        ...('enable' in outcome && outcome.enable ? { enable: outcome.enable } : {}),
      };
    default:
      return {
        ...base,
        severity: check.severity,
        status: outcome.status,
        detail: redact(outcome.detail),
        objects: [],
        remediation: check.remediation,
      };
  }
}

function evaluateCheck(
  check: CheckDefinition<unknown>,
  needsConnection: boolean,
  facts: unknown,
  context: EvalContext,
  state: ConnectionState,
): CheckOutcome | { status: 'error'; detail: string } {
  const needsSession = check.needsSession ?? ((check.requires?.length ?? 0) > 0 || needsConnection);
  if (needsSession && state.kind !== 'connected') {
    return state.kind === 'skipped'
      ? { status: 'skip', detail: `Not connected: ${state.reason}` }
      : {
          status: 'error',
          detail: `The audit could not connect: [${state.error.code}] ${state.error.message}`,
        };
  }
  const privileges = context.privileges;
  if (privileges && !privileges.superuser) {
    const missing = (check.requires ?? []).filter((c) => !hasCapability(privileges, c));
    if (missing.length > 0) {
      const described = missing.map((c) => describeCapability(c, privileges.role));
      return {
        status: 'skip',
        detail: `Role ${privileges.role} lacks ${described.map((d) => d.need).join(' and ')}.`,
        enable: described.map((d) => d.grant).join('\n'),
      };
    }
  }
  try {
    return check.evaluate(facts, context);
  } catch (error) {
    return { status: 'error', detail: `The check failed: ${errorSummary(error).message}` };
  }
}

/**
 * Runs every check and returns the report; never throws for a failing check
 * or an unreachable server (those are in the report).
 *
 * @throws ConfigError when the configuration itself is invalid (as createPool would).
 */
export async function runAudit(options: AuditOptions = {}): Promise<AuditReport> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const env = options.env ?? process.env;
  // Resolved as the pool resolves it, secrets backend included (it may
  // supply the host, the sslmode, the CA): the client checks judge that. The
  // session below uses these same credentials: one fetch, one Vault lease.
  const connection = poolOptions(options);
  const logger = createLogger(connection.logger);
  const resolution = await resolveWithSecrets(connection, logger);
  const { config } = resolution;

  // The TLS probe sends no credential, so it starts at once and overlaps
  // with the audit's own connection setup; the tls area awaits it.
  const tlsProbe = probeServerTls(tlsProbeTarget(config));
  let state: ConnectionState;
  let pool: WardenPool | undefined;
  try {
    // The gate every command passes: in production a password never crosses an unverified link.
    pool = poolFromResolution(resolution, { purpose: 'admin', checkRole: false });
    state = await openSession(pool);
  } catch (error) {
    state =
      error instanceof PolicyError
        ? {
            kind: 'skipped',
            reason: `not attempted in ${config.environment}: the configuration breaks ${error.violations.map((v) => v.code).join(', ')} (see the client checks)`,
          }
        : { kind: 'failed', error: errorSummary(error) };
  }

  const session = state.kind === 'connected' ? state.session : undefined;
  const context: EvalContext = {
    config,
    env,
    tlsProbe,
    session,
    privileges: session?.privileges,
    thresholds: { ...DEFAULT_THRESHOLDS, ...options.thresholds },
    now,
    versionTable: options.versionTable ?? SERVER_VERSIONS,
  };

  // CIS references name the edition for this server's major version.
  const cis = cisEditionFor(session ? Math.floor(session.serverVersionNum / 10_000) : undefined);
  let findings: Finding[] = [];
  try {
    for (const [index, area] of AUDIT_AREAS.entries()) {
      options.onProgress?.({ area: area.area, index, total: AUDIT_AREAS.length });
      let facts: unknown;
      let gatherError: string | undefined;
      if (!area.needsConnection || state.kind === 'connected') {
        try {
          facts = await area.gather(context);
        } catch (error) {
          gatherError = `Reading the ${area.area} facts failed: [${errorSummary(error).code}] ${errorSummary(error).message}`;
        }
      }
      for (const check of area.checks) {
        const outcome = gatherError
          ? { status: 'error' as const, detail: gatherError }
          : evaluateCheck(check, area.needsConnection, facts, context, state);
        findings.push(finding(check, area.area, outcome, cis.edition));
      }
    }
  } finally {
    if (state.kind === 'connected') {
      await state.client.query('ROLLBACK').catch(() => undefined);
      state.client.release();
    }
    await pool?.close();
  }

  const suppressed = applySuppressions(findings, options.suppressions ?? [], now.toISOString().slice(0, 10));
  findings = suppressed.findings;
  if (options.baseline) findings = applyBaseline(findings, options.baseline);

  return {
    tool: { name: 'pgwarden', version, schemaVersion: REPORT_SCHEMA_VERSION },
    generatedAt: now.toISOString(),
    durationMs: Math.round(performance.now() - started),
    target: describeTarget(config, session),
    cis: { edition: cis.edition.name, forServer: cis.forServer },
    connection: {
      ok: state.kind === 'connected',
      ...(state.kind === 'skipped' ? { skipped: state.reason } : {}),
      ...(state.kind === 'failed'
        ? { error: { code: state.error.code, message: state.error.message, fix: state.error.fix } }
        : {}),
      tls: session?.tls ? { protocol: session.tls.protocol, cipher: session.tls.cipher } : null,
      authMechanism: session?.authMechanism ?? null,
      roundTrips: state.kind === 'connected' ? state.roundTrips() : 0,
    },
    privileges: session?.privileges ?? null,
    failOn: options.failOn ?? 'high',
    summary: summarize(findings),
    areas: areaCoverage(findings),
    skippedGrants: skippedGrants(findings),
    findings,
    suppressions: { applied: suppressed.applied, expired: suppressed.expired, unused: suppressed.unused },
    baseline: { used: options.baseline !== undefined, known: findings.filter((f) => f.inBaseline).length },
  };
}

function describeTarget(config: ResolvedConfig, session: AuditSession | undefined): AuditReport['target'] {
  return {
    host: config.host,
    port: config.port,
    database: session?.database ?? config.database,
    user: session?.user ?? config.user,
    environment: config.environment,
    sslMode: config.tls.effectiveMode,
    serverVersion: session?.serverVersion ?? null,
  };
}
