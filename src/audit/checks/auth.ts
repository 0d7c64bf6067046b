/**
 * Authentication and network: pg_hba.conf rules, where the server listens,
 * and how long an unauthenticated client may hold a connection slot.
 */
import { cis, defineArea, fail, pass, pgDocs, skip, type CheckOutcome } from '../check.js';
import type { FindingObject } from '../finding.js';
import { settingValue } from '../session.js';
import { accepts, isHostRule, ruleObject, wideNetwork, type HbaRule } from './hba-rule.js';

export interface AuthFacts {
  /** Undefined when pg_hba_file_rules is not readable. */
  readonly rules: readonly HbaRule[] | undefined;
  readonly listenAddresses: string | undefined;
  /** listen_addresses as the configuration files set it (takes effect at restart); undefined when unreadable. */
  readonly listenInFiles: string | null | undefined;
  readonly authenticationTimeout: string | undefined;
  readonly socketPermissions: string | undefined;
}

const RULES_SQL = `(WITH RECURSIVE supers AS (
    SELECT oid, rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolcanlogin
  ), member_of(role, grp) AS (
    SELECT s.oid, m.roleid FROM supers s JOIN pg_catalog.pg_auth_members m ON m.member = s.oid
    UNION SELECT mo.role, m.roleid FROM member_of mo JOIN pg_catalog.pg_auth_members m ON m.member = mo.grp
  )
  SELECT coalesce(json_agg(json_build_object(
    'line', h.line_number, 'type', h.type, 'databases', h.database, 'users', h.user_name,
    'address', h.address, 'netmask', h.netmask, 'method', h.auth_method, 'options', h.options, 'error', h.error,
    'matchesSuperuser', EXISTS (
      SELECT 1 FROM supers s WHERE 'all' = ANY (h.user_name) OR s.rolname = ANY (h.user_name)
        OR EXISTS (SELECT 1 FROM member_of mo JOIN pg_catalog.pg_roles g ON g.oid = mo.grp
                   WHERE mo.role = s.oid AND '+' || g.rolname = ANY (h.user_name)))
  ) ORDER BY h.line_number), '[]'::json) FROM pg_catalog.pg_hba_file_rules h)`;

const LISTEN_SQL = `(SELECT setting FROM pg_catalog.pg_file_settings
  WHERE name = 'listen_addresses' ORDER BY seqno DESC LIMIT 1)`;

/** Owner-only socket permissions (no group or other bits): only the server's OS account can connect locally. */
export function socketOwnerOnly(permissions: string | undefined): boolean {
  if (permissions === undefined) return false;
  const mode = parseInt(permissions, 8);
  return Number.isFinite(mode) && (mode & 0o077) === 0;
}

function ruleFailures(
  facts: AuthFacts,
  select: (rule: HbaRule) => boolean,
  describe: (objects: FindingObject[]) => string,
  passDetail: string,
): CheckOutcome {
  const offending = (facts.rules ?? []).filter(select);
  if (offending.length === 0) return pass(passDetail);
  const objects = offending.map(ruleObject);
  return fail(describe(objects), objects);
}

const lines = (objects: FindingObject[]): string => objects.map((o) => `${o.name} "${o.value}"`).join('; ');
const HBA = [pgDocs('auth-pg-hba-conf.html')];
/** Rules of any kind (local and host). */
const LOCAL_AND_HOST = [
  cis('5.3', 'login via "local" UNIX Domain Socket'),
  cis('5.4', 'login via "host" TCP/IP'),
];
/** Rules that only TCP connections match. */
const HOST = [cis('5.4', 'login via "host" TCP/IP')];

export const authArea = defineArea<AuthFacts>({
  area: 'auth',
  needsConnection: true,
  async gather({ session }) {
    const parts: string[] = [];
    if (session!.privileges.hbaRules) parts.push(`'rules', ${RULES_SQL}`);
    if (session!.privileges.fileSettings) parts.push(`'listen', ${LISTEN_SQL}`);
    const row =
      parts.length === 0
        ? {}
        : ((
            await session!.query<{ facts: { rules?: HbaRule[]; listen?: string | null } }>(
              `SELECT json_build_object(${parts.join(', ')}) AS facts`,
            )
          )[0]?.facts ?? {});
    return {
      rules: row.rules,
      listenAddresses: settingValue(session, 'listen_addresses'),
      listenInFiles: session!.privileges.fileSettings ? (row.listen ?? null) : undefined,
      authenticationTimeout: settingValue(session, 'authentication_timeout'),
      socketPermissions: settingValue(session, 'unix_socket_permissions'),
    };
  },
  checks: [
    {
      id: 'hba.trust',
      severity: 'critical',
      title: 'No pg_hba.conf rule admits clients without authentication',
      rationale:
        'trust lets anyone who can reach the server log in as any role the rule names, superusers included, with no password.',
      remediation:
        'Replace trust with scram-sha-256 (host rules) or peer (local rules). A local trust rule is accepted only with unix_socket_permissions = 0700.',
      cis: LOCAL_AND_HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate(facts) {
        const ownerOnly = socketOwnerOnly(facts.socketPermissions);
        const note = ownerOnly
          ? ` local trust rules are accepted: unix_socket_permissions = ${facts.socketPermissions} leaves the socket to the server's own OS account.`
          : '';
        return ruleFailures(
          facts,
          (r) => accepts(r) && r.method === 'trust' && (isHostRule(r) || !ownerOnly),
          (o) =>
            `trust rule(s): ${lines(o)}.${ownerOnly ? '' : ` unix_socket_permissions = ${facts.socketPermissions ?? '?'}.`}`,
          `No rule uses trust where others could use it.${note}`,
        );
      },
    },
    {
      id: 'hba.password-cleartext',
      severity: 'high',
      title: 'No rule asks for a cleartext password',
      rationale: 'The password method sends the password unhashed; without TLS anyone on the path reads it.',
      remediation: 'Use scram-sha-256 instead of password.',
      cis: LOCAL_AND_HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) => accepts(r) && r.method === 'password',
          (o) => `Cleartext password rule(s): ${lines(o)}.`,
          'No rule uses the password method.',
        ),
    },
    {
      id: 'hba.md5',
      severity: 'medium',
      title: 'No rule uses md5 authentication',
      rationale:
        'MD5 hashes are replayable password equivalents; scram-sha-256 is the secure method since PostgreSQL 10.',
      remediation:
        "Set password_encryption = 'scram-sha-256', reset the passwords, then change md5 to scram-sha-256 in pg_hba.conf.",
      cis: LOCAL_AND_HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) => accepts(r) && r.method === 'md5',
          (o) => `md5 rule(s): ${lines(o)}.`,
          'No rule uses md5.',
        ),
    },
    {
      id: 'hba.ident-remote',
      severity: 'high',
      title: 'No TCP rule relies on ident',
      rationale:
        "ident over TCP trusts an identd answer from the client's own machine, which the client controls.",
      remediation: 'Use scram-sha-256 or cert for host rules; keep peer for local rules.',
      cis: HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) => accepts(r) && isHostRule(r) && r.method === 'ident',
          (o) => `ident over TCP: ${lines(o)}.`,
          'No host rule uses ident.',
        ),
    },
    {
      id: 'hba.non-ssl-host',
      severity: 'high',
      title: 'TCP rules require TLS (hostssl)',
      rationale:
        'host and hostnossl rules accept unencrypted connections, so clients that fall back to plaintext are let in.',
      remediation:
        'Change host to hostssl, and add "hostnossl all all 0.0.0.0/0 reject" (and ::/0) at the top.',
      cis: HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) => accepts(r) && (r.type === 'host' || r.type === 'hostnossl'),
          (o) => `Rule(s) accepting TCP connections without TLS: ${lines(o)}.`,
          'Every accepting TCP rule is hostssl (or hostgssenc).',
        ),
    },
    {
      id: 'hba.all-all',
      severity: 'low',
      title: 'TCP rules name specific databases and users',
      rationale:
        'A rule for all databases and all users lets any role reach any database, defeating per-application separation.',
      remediation:
        'Name the database and role (or +group) in each host rule, e.g. hostssl appdb app 10.0.0.0/24 scram-sha-256.',
      cis: HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) =>
            accepts(r) &&
            isHostRule(r) &&
            (r.databases ?? []).includes('all') &&
            (r.users ?? []).includes('all'),
          (o) => `Rule(s) for all databases and all users: ${lines(o)}.`,
          'No accepting TCP rule covers all databases and all users.',
        ),
    },
    {
      id: 'hba.wide-network',
      severity: 'medium',
      title: 'TCP rules admit narrow address ranges',
      rationale:
        'A rule for 0.0.0.0/0 or a huge range lets the whole network (or the Internet) try to log in.',
      remediation: 'Limit each host rule to the addresses of the application servers (e.g. 10.0.1.0/24).',
      cis: HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate(facts) {
        const offending = (facts.rules ?? []).filter(
          (r) => accepts(r) && isHostRule(r) && wideNetwork(r) !== undefined,
        );
        if (offending.length === 0)
          return pass('Every accepting TCP rule is limited to /16 (IPv4) or /48 (IPv6) or narrower.');
        return fail(
          `Wide rule(s): ${offending.map((r) => `${ruleObject(r).name} (${wideNetwork(r)})`).join('; ')}.`,
          offending.map(ruleObject),
        );
      },
    },
    {
      id: 'hba.superuser-remote',
      severity: 'high',
      title: 'Superusers cannot log in over TCP',
      rationale:
        'A superuser reachable over the network turns one stolen password into full control of the server and its host.',
      remediation:
        'Name application roles in host rules instead of all, and add "host all postgres 0.0.0.0/0 reject" before them; administer over the local socket.',
      cis: HOST,
      references: HBA,
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) => accepts(r) && isHostRule(r) && r.matchesSuperuser,
          (o) => `TCP rule(s) that admit a login superuser: ${lines(o)}.`,
          'No accepting TCP rule matches a login superuser.',
        ),
    },
    {
      id: 'hba.errors',
      severity: 'medium',
      title: 'pg_hba.conf has no errors',
      rationale:
        'A file with errors is not reloaded: the server keeps old rules, so edits silently do not apply (and a restart fails).',
      remediation: 'Fix the lines pg_hba_file_rules reports, then SELECT pg_reload_conf();',
      references: [pgDocs('view-pg-hba-file-rules.html')],
      requires: ['hbaRules'],
      evaluate: (facts) =>
        ruleFailures(
          facts,
          (r) => r.error !== null,
          () =>
            `pg_hba.conf errors: ${(facts.rules ?? [])
              .filter((r) => r.error !== null)
              .map((r) => `line ${r.line}: ${r.error}`)
              .join('; ')}.`,
          'pg_hba_file_rules reports no errors.',
        ),
    },
    {
      id: 'net.listen-all',
      severity: 'medium',
      title: 'The server listens only on the interfaces it needs',
      rationale:
        "listen_addresses = '*' exposes the server on every interface, including ones facing networks that should not reach it.",
      remediation: "listen_addresses = 'localhost,10.0.1.5'  # the addresses clients use; needs a restart",
      cis: [cis('5.2', 'Bound to an IP Address')],
      references: [pgDocs('runtime-config-connection.html#GUC-LISTEN-ADDRESSES')],
      evaluate(facts) {
        const wildcard = (value: string | null | undefined): boolean =>
          value != null && value.split(',').some((a) => ['*', '0.0.0.0', '::'].includes(a.trim()));
        const objects: FindingObject[] = [];
        if (wildcard(facts.listenAddresses))
          objects.push({ type: 'setting', name: 'listen_addresses', value: facts.listenAddresses! });
        if (wildcard(facts.listenInFiles) && facts.listenInFiles !== facts.listenAddresses) {
          objects.push({
            type: 'setting',
            name: 'listen_addresses',
            value: `${facts.listenInFiles} (configured; takes effect at the next restart)`,
          });
        }
        if (objects.length > 0)
          return fail(
            `The server listens (or will listen) on every interface: ${objects.map((o) => o.value).join('; ')}.`,
            objects,
          );
        if (facts.listenAddresses === undefined) return skip('listen_addresses is not visible.');
        const files =
          facts.listenInFiles === undefined
            ? ' (values pending a restart were not readable: needs pg_file_settings)'
            : '';
        return pass(`listen_addresses = '${facts.listenAddresses}'${files}.`);
      },
    },
    {
      id: 'auth.timeout',
      severity: 'low',
      title: 'Unauthenticated connections are dropped within a minute',
      rationale:
        'A long authentication_timeout lets unauthenticated clients hold connection slots, an easy denial of service.',
      remediation: "authentication_timeout = '30s'",
      references: [pgDocs('runtime-config-connection.html#GUC-AUTHENTICATION-TIMEOUT')],
      evaluate(facts) {
        const seconds = Number(facts.authenticationTimeout);
        if (!Number.isFinite(seconds)) return skip('authentication_timeout is not visible.');
        if (seconds <= 60) return pass(`authentication_timeout = ${seconds}s.`);
        return fail(`authentication_timeout = ${seconds}s.`, [
          { type: 'setting', name: 'authentication_timeout', value: `${seconds}s` },
        ]);
      },
    },
  ],
});
