/**
 * The one decision whether a link may be opened. The pool calls it before
 * its first connection (config rules) and right after it (role rules), and
 * every command connects through the pool, so no command has its own idea
 * of what is secure enough.
 *
 * A command may relax the rules about the role (an administrator connects
 * as a privileged role; an operator's password may sit in the environment),
 * never the rules about the link: in production and staging a link that is
 * unencrypted, unverified or below TLS 1.2 is refused for every purpose.
 */
import type { ErrorCode, PolicyViolation } from '../errors.js';
import { PolicyError } from '../errors.js';
import { isProductionLike } from './environment.js';
import { evaluateConfigPolicy, evaluateRolePolicy, type RoleFacts } from './policy.js';
import type { ResolvedConfig } from './schema.js';

/**
 * What a connection is for. `application` (the default) enforces every rule
 * in production. `admin` is pgwarden's own tools (doctor, audit, roles,
 * incident, creds, backup, monitor, alerts): the role and password-source
 * rules are reported instead of enforced; the link rules are enforced alike.
 */
export type ConnectionPurpose = 'application' | 'admin';

const LINK_RULES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PGW_POLICY_TLS_DISABLED',
  'PGW_POLICY_CERT_VALIDATION_DISABLED',
  'PGW_POLICY_TLS_NOT_VERIFY_FULL',
  'PGW_POLICY_TLS_MIN_VERSION',
]);

/** True for the rules about the link itself, which no purpose relaxes. */
export function isLinkRule(code: ErrorCode): boolean {
  return LINK_RULES.has(code);
}

function admit(
  violations: PolicyViolation[],
  config: ResolvedConfig,
  purpose: ConnectionPurpose,
): PolicyViolation[] {
  if (isProductionLike(config.environment)) {
    const refused = purpose === 'application' ? violations : violations.filter((v) => isLinkRule(v.code));
    if (refused.length > 0) throw new PolicyError(refused, config.environment);
  }
  return violations;
}

/**
 * The rules judged from the configuration alone, before any byte is sent.
 * Throws a {@link PolicyError} listing what refuses the link; returns every
 * violation found (the caller warns or reports).
 */
export function admitLink(config: ResolvedConfig, purpose: ConnectionPurpose): PolicyViolation[] {
  return admit(evaluateConfigPolicy(config), config, purpose);
}

/** The rules about the role the first connection logged in as. */
export function admitRole(
  config: ResolvedConfig,
  role: RoleFacts,
  purpose: ConnectionPurpose,
): PolicyViolation[] {
  return admit(evaluateRolePolicy(role), config, purpose);
}

/** A session timeout the pooler's server connections do not have. */
export interface SessionSettingGap {
  readonly name: string;
  readonly option: string;
  readonly ms: number;
  readonly actualMs: number;
}

/**
 * Behind a pooler the timeouts come from the role's settings: the rule that
 * what was asked for is what the server enforces. Relaxed for `admin` like
 * the other role rules.
 */
export function admitSessionSettings(
  config: ResolvedConfig,
  role: string,
  gaps: readonly SessionSettingGap[],
  purpose: ConnectionPurpose,
): PolicyViolation[] {
  const quoted = `"${role.replace(/"/g, '""')}"`;
  const violations = gaps.map((gap) => ({
    code: 'PGW_POLICY_SESSION_SETTING_MISMATCH' as const,
    option: gap.option,
    message: `Behind the pooler (${config.pooler}) ${gap.name} is ${gap.actualMs} ms for role ${quoted}, not the ${gap.ms} ms asked by ${gap.option}: startup parameters cannot pass a pooler, so the role's setting decides.`,
    fix: `Set it on the role: ALTER ROLE ${quoted} SET ${gap.name} = ${gap.ms}; (or ${gap.name} in roles.yaml, applied by pgwarden roles apply).`,
  }));
  return admit(violations, config, purpose);
}

/**
 * The violations worth a process warning: all of them for an application;
 * for pgwarden's tools only the link rules (they report the rest themselves).
 */
export function violationsToWarn(
  violations: readonly PolicyViolation[],
  purpose: ConnectionPurpose,
): PolicyViolation[] {
  return purpose === 'application' ? [...violations] : violations.filter((v) => isLinkRule(v.code));
}
