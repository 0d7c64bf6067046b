/**
 * Passwords: how the server hashes them, which roles still have md5 hashes
 * or none, whether a complexity module is loaded, and the application's own
 * password judged by the pool's policy.
 */
import { evaluateConfigPolicy, MIN_PASSWORD_LENGTH } from '../../config/policy.js';
import { cis, defineArea, fail, pass, pgDocs } from '../check.js';
import { settingValue } from '../session.js';
import { ident } from '../sql-text.js';
import { PASSWORD_KINDS_SQL } from './roles.js';

export interface PasswordsFacts {
  readonly encryption: string | undefined;
  readonly preload: string | undefined;
  /** Undefined without pg_authid. */
  readonly kinds: readonly { name: string; kind: 'none' | 'md5' | 'scram' | 'other' }[] | undefined;
  readonly bootstrap: string | undefined;
}

const COMPLEXITY_MODULES = ['passwordcheck', 'credcheck'];

export function preloaded(value: string | undefined, module: string): boolean {
  return (value ?? '').split(',').some((m) => m.trim().replace(/^"|"$/g, '') === module);
}

export const passwordsArea = defineArea<PasswordsFacts>({
  area: 'passwords',
  needsConnection: true,
  async gather({ session }) {
    let kinds: PasswordsFacts['kinds'];
    let bootstrap: string | undefined;
    if (session!.privileges.authid) {
      const row = (
        await session!.query<{ kinds: PasswordsFacts['kinds']; bootstrap: string }>(
          `SELECT ${PASSWORD_KINDS_SQL} AS kinds, (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = 10) AS bootstrap`,
        )
      )[0]!;
      kinds = row.kinds;
      bootstrap = row.bootstrap;
    }
    return {
      encryption: settingValue(session, 'password_encryption'),
      preload: settingValue(session, 'shared_preload_libraries'),
      kinds,
      bootstrap,
    };
  },
  checks: [
    {
      id: 'pw.encryption',
      severity: 'high',
      title: 'New passwords are stored as SCRAM-SHA-256',
      rationale: 'MD5 hashes are password equivalents: whoever reads one can log in with it.',
      remediation: "password_encryption = 'scram-sha-256'  # then reset every md5 password",
      references: [pgDocs('auth-password.html')],
      evaluate(facts) {
        if (facts.encryption === 'scram-sha-256') return pass('password_encryption = scram-sha-256.');
        return fail(`password_encryption = ${facts.encryption ?? '?'}.`, [
          { type: 'setting', name: 'password_encryption', value: facts.encryption ?? '' },
        ]);
      },
    },
    {
      id: 'pw.md5-hashes',
      severity: 'high',
      title: 'No role has an md5 password hash',
      rationale: 'An md5 hash in pg_authid is enough to log in (pass-the-hash); SCRAM verifiers are not.',
      remediation:
        "SET password_encryption = 'scram-sha-256'; then \\password role (or pgwarden creds rotate) for each role listed",
      references: [pgDocs('auth-password.html')],
      requires: ['authid'],
      evaluate(facts) {
        const md5 = (facts.kinds ?? []).filter((k) => k.kind === 'md5');
        if (md5.length === 0)
          return pass(`None of ${facts.kinds?.length ?? 0} login role(s) has an md5 hash.`);
        return fail(
          `md5 password hashes: ${md5.map((k) => k.name).join(', ')}.`,
          md5.map((k) => ({ type: 'role', name: k.name, value: 'md5 hash' })),
        );
      },
    },
    {
      id: 'pw.login-without-password',
      severity: 'low',
      title: 'Login roles have a password (or are meant for certificate or peer logins)',
      rationale:
        'A login role without a password can only get in through trust, peer, ident or certificate rules; with a trust rule it needs nothing at all.',
      remediation:
        'ALTER ROLE name NOLOGIN;  -- or give it a password, or suppress this finding for certificate-only roles',
      references: [pgDocs('auth-methods.html')],
      requires: ['authid'],
      evaluate(facts) {
        const none = (facts.kinds ?? []).filter((k) => k.kind === 'none' && k.name !== facts.bootstrap);
        if (none.length === 0)
          return pass(
            `Every login role but the bootstrap superuser (${facts.bootstrap ?? '?'}) has a password.`,
          );
        return fail(
          `Login roles without a password: ${none.map((k) => k.name).join(', ')}.`,
          none.map((k) => ({ type: 'role', name: k.name, value: 'no password' })),
          {
            remediation: none
              .map((k) => `ALTER ROLE ${ident(k.name)} NOLOGIN;  -- or set a password`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'pw.complexity-module',
      severity: 'low',
      title: 'A password complexity module is loaded',
      rationale:
        'Without passwordcheck or credcheck, ALTER ROLE ... PASSWORD accepts "postgres" (a module cannot judge pre-hashed passwords, so rotate with generated ones).',
      remediation: "shared_preload_libraries = 'passwordcheck'  # or credcheck; needs a restart",
      cis: [cis('5.6', 'Password Complexity')],
      references: [pgDocs('passwordcheck.html')],
      requires: ['readAllSettings'],
      evaluate(facts) {
        const loaded = COMPLEXITY_MODULES.filter((m) => preloaded(facts.preload, m));
        if (loaded.length > 0) return pass(`shared_preload_libraries loads ${loaded.join(', ')}.`);
        return fail(`shared_preload_libraries = '${facts.preload ?? ''}' loads no complexity module.`, [
          { type: 'setting', name: 'shared_preload_libraries', value: facts.preload ?? '' },
        ]);
      },
    },
    {
      id: 'pw.app-weak',
      severity: 'high',
      title: "The application's password meets the policy",
      rationale: `Short, common or user-derived passwords fall to online guessing; the pool's policy wants ${MIN_PASSWORD_LENGTH}+ random characters.`,
      remediation: 'Rotate to a generated password (pgwarden creds rotate) of at least 16 characters.',
      references: ['docs/config.md (policy rule PGW_POLICY_WEAK_PASSWORD)'],
      needsSession: false,
      evaluate(_facts, context) {
        const violation = evaluateConfigPolicy(context.config).find(
          (v) => v.code === 'PGW_POLICY_WEAK_PASSWORD',
        );
        const source = context.config.sources.password ?? 'none';
        if (violation)
          return fail(`${violation.message} (from ${source})`, [
            { type: 'config', name: 'password', value: `from ${source}` },
          ]);
        if (!context.config.password)
          return pass('No password in the configuration (certificate, peer or IAM authentication).');
        return pass(`The password (from ${source}) is long, not common and does not contain the user name.`);
      },
    },
  ],
});
