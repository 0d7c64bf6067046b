/**
 * tls.min-protocol and tls.ciphers judged from what the probe observed
 * (tls-probe.ts). Observation decides; the settings, when the role can read
 * them, are compared with it in the detail, and decide only what could not
 * be observed. Behind a pooler the probe sees the pooler's TLS, and the
 * detail says so.
 */
import { fail, pass, skip, type CheckOutcome, type EvalContext } from '../check.js';
import type { FindingObject } from '../finding.js';
import { describeCapability } from '../privileges.js';
import { severityRank, type Severity } from '../severity.js';
import { versionLabel, type ProbedVersion } from '../tls-offers.js';
import type { ProbeVerdict, TlsProbeReport } from '../tls-probe.js';

/** What the checks read: the probe, the settings if visible, the pooler if configured. */
export interface ObservedTls {
  readonly probe: TlsProbeReport;
  readonly minProtocol: string | undefined;
  readonly ciphers: string | undefined;
  /** `pgbouncer`, … when the application connects through a pooler. */
  readonly pooler: string | undefined;
}

const BELOW_1_2 = ['TLSv1', 'TLSv1.1'] as const satisfies readonly ProbedVersion[];

/** Where the observation comes from, appended to every detail the probe informs. */
export function observedAt(facts: Pick<ObservedTls, 'pooler'>): string {
  return facts.pooler
    ? ` Behind a pooler (${facts.pooler}): this is the pooler's TLS, which the application's connections meet; the server's own TLS settings govern only the pooler's link to it, which the probe cannot see.`
    : '';
}

function grantFor(context: EvalContext): string | undefined {
  return context.privileges
    ? describeCapability('readAllSettings', context.privileges.role).grant
    : undefined;
}

const settingObject = (name: string, value: string): FindingObject => ({ type: 'setting', name, value });

function acceptedWith(verdict: ProbeVerdict): string {
  return verdict.kind === 'accepted' ? verdict.cipher : '';
}

/** Whether ssl_min_protocol_version, as written, keeps TLS below 1.2 out. */
function settingRefusesOld(value: string): boolean {
  return value === 'TLSv1.2' || value === 'TLSv1.3';
}

/** ssl_min_protocol_version alone, for when nothing could be observed. */
function minProtocolBySetting(value: string, why: string): CheckOutcome {
  if (settingRefusesOld(value)) return pass(`ssl_min_protocol_version = ${value} (not observed: ${why}).`);
  return fail(
    `ssl_min_protocol_version = ${value || "'' (any)"}: clients may negotiate TLS below 1.2 (not observed: ${why}).`,
    [settingObject('ssl_min_protocol_version', value)],
  );
}

export function judgeMinProtocol(facts: ObservedTls, context: EvalContext): CheckOutcome {
  const { probe, minProtocol } = facts;
  if (probe.status !== 'probed') {
    const why = probe.reason ?? probe.status;
    if (minProtocol !== undefined) return minProtocolBySetting(minProtocol, why);
    return skip(
      `Not observed (${why}), and ssl_min_protocol_version is hidden from this role.`,
      grantFor(context),
    );
  }
  const accepted = BELOW_1_2.filter((v) => probe.versions[v].kind === 'accepted');
  const unknown = BELOW_1_2.filter((v) => ['unknown', 'untestable'].includes(probe.versions[v].kind));
  const where = observedAt(facts);
  const higher = (['TLSv1.3', 'TLSv1.2'] as const)
    .filter((v) => probe.versions[v].kind === 'accepted')
    .map((v) => `${versionLabel(v)} with ${acceptedWith(probe.versions[v])}`);
  const acceptedHigher = higher.length > 0 ? ` It accepted ${higher.join(' and ')}.` : '';

  if (accepted.length > 0) {
    const evidence = accepted.map(
      (v) => `a ${versionLabel(v)} handshake with ${acceptedWith(probe.versions[v])}`,
    );
    let setting = '';
    if (minProtocol !== undefined && !facts.pooler) {
      setting = settingRefusesOld(minProtocol)
        ? ` ssl_min_protocol_version = ${minProtocol} says otherwise: whatever answers on ${context.config.host}:${context.config.port} is not governed by this server's setting (a proxy in front?).`
        : ` ssl_min_protocol_version = ${minProtocol || "''"} allows it.`;
    }
    return fail(`The server accepted ${evidence.join(' and ')}.${acceptedHigher}${setting}${where}`, [
      ...accepted.map((v) => ({
        type: 'tls-protocol',
        name: v,
        value: `accepted with ${acceptedWith(probe.versions[v])}`,
      })),
      ...(minProtocol !== undefined && !facts.pooler
        ? [settingObject('ssl_min_protocol_version', minProtocol)]
        : []),
    ]);
  }
  if (unknown.length > 0) {
    const reasons = unknown
      .map((v) => {
        const verdict = probe.versions[v];
        return `${versionLabel(v)}: ${'reason' in verdict ? verdict.reason : verdict.kind}`;
      })
      .join('; ');
    if (minProtocol !== undefined && !facts.pooler) return minProtocolBySetting(minProtocol, reasons);
    return skip(
      `Could not tell whether the server accepts TLS below 1.2 (${reasons}).${where}`,
      facts.pooler ? undefined : grantFor(context),
    );
  }
  const refusals = BELOW_1_2.map((v) => {
    const verdict = probe.versions[v];
    return `${versionLabel(v)} (${verdict.kind === 'refused' ? verdict.reason : verdict.kind})`;
  });
  let setting = '';
  if (minProtocol !== undefined && !facts.pooler) {
    setting = settingRefusesOld(minProtocol)
      ? ` ssl_min_protocol_version = ${minProtocol} agrees.`
      : ` ssl_min_protocol_version = ${minProtocol || "''"} would allow them: the server's OpenSSL refuses them (its security level), which a library upgrade or a changed ssl_ciphers can undo; set ssl_min_protocol_version = 'TLSv1.2'.`;
  }
  return pass(`The server refused ${refusals.join(' and ')} handshakes.${acceptedHigher}${setting}${where}`);
}

/** The worst severity among accepted classes. */
function worst(severities: readonly Severity[]): Severity {
  return [...severities].sort((a, b) => severityRank(b) - severityRank(a))[0]!;
}

export function judgeCiphers(
  facts: ObservedTls,
  context: EvalContext,
  bySetting: (value: string) => string[],
): CheckOutcome {
  const { probe, ciphers } = facts;
  const where = observedAt(facts);
  const settingText =
    ciphers !== undefined && !facts.pooler
      ? (() => {
          const weak = bySetting(ciphers);
          return ` ssl_ciphers = '${ciphers}'${weak.length ? ` (by its text: ${weak.join(', ')})` : ''}.`;
        })()
      : '';
  if (probe.status !== 'probed') {
    const why = probe.reason ?? probe.status;
    if (ciphers === undefined)
      return skip(`Not observed (${why}), and ssl_ciphers is hidden from this role.`, grantFor(context));
    const weak = bySetting(ciphers);
    if (weak.length === 0)
      return pass(`ssl_ciphers = '${ciphers}' enables no weak class (not observed: ${why}).`);
    return fail(`ssl_ciphers = '${ciphers}' enables ${weak.join(', ')} (not observed: ${why}).`, [
      settingObject('ssl_ciphers', ciphers),
    ]);
  }
  const accepted = probe.classes.filter((c) => c.verdict.kind === 'accepted');
  const unknown = probe.classes.filter((c) => c.verdict.kind === 'unknown');
  const untestable = probe.classes.filter((c) => c.verdict.kind === 'untestable');
  const notTested =
    untestable.length > 0
      ? ` Not tested: ${untestable.map((c) => c.cipherClass.label).join(', ')} (${probe.runtime} has no such suites, so it cannot offer them).`
      : '';
  if (accepted.length > 0) {
    const evidence = accepted.map(
      (c) =>
        `a TLS 1.2 handshake offering only ${c.cipherClass.label}, with ${acceptedWith(c.verdict)} (${c.cipherClass.why})`,
    );
    return fail(
      `The server accepted ${evidence.join('; ')}.${notTested}${settingText}${where}`,
      [
        ...accepted.map((c) => ({
          type: 'tls-cipher',
          name: c.cipherClass.id,
          value: `accepted ${acceptedWith(c.verdict)}`,
        })),
        ...(ciphers !== undefined && !facts.pooler ? [settingObject('ssl_ciphers', ciphers)] : []),
      ],
      { severity: worst(accepted.map((c) => c.cipherClass.severity)) },
    );
  }
  if (unknown.length > 0) {
    const reasons = unknown
      .map((c) => `${c.cipherClass.label}: ${'reason' in c.verdict ? c.verdict.reason : c.verdict.kind}`)
      .join('; ');
    return skip(`Could not tell whether the server accepts weak suites (${reasons}).${settingText}${where}`);
  }
  const refused = probe.classes.filter((c) => c.verdict.kind === 'refused').map((c) => c.cipherClass.label);
  if (refused.length === 0) return skip(`No weak class could be offered.${notTested}${settingText}${where}`);
  return pass(
    `The server refused TLS 1.2 handshakes offering only ${refused.join(', ')}.${notTested}${settingText}${where}`,
  );
}
