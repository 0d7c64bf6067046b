/**
 * The application's effective connection configuration (flags, then the
 * environment, resolved exactly as the pool resolves it) judged by the pool's
 * own policy, plus the audit's own session as evidence of what that
 * configuration achieves on the wire.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isProductionLike } from '../../config/environment.js';
import { evaluateConfigPolicy, passwordSourceKind } from '../../config/policy.js';
import type { PolicyViolation } from '../../errors.js';
import { defineArea, fail, pass, pgDocs, skip } from '../check.js';

export interface ClientFacts {
  readonly violations: readonly PolicyViolation[];
  readonly pgpass: { readonly path: string; readonly mode: number | undefined; readonly origin: string };
}

const CONFIG_DOC = 'docs/config.md';
const SSL_CODES = new Set([
  'PGW_POLICY_TLS_DISABLED',
  'PGW_POLICY_CERT_VALIDATION_DISABLED',
  'PGW_POLICY_TLS_NOT_VERIFY_FULL',
]);

function pgpassFile(env: Readonly<Record<string, string | undefined>>): ClientFacts['pgpass'] {
  const explicit = env.PGPASSFILE;
  const path =
    explicit && explicit !== ''
      ? explicit
      : join(env.HOME && env.HOME !== '' ? env.HOME : homedir(), '.pgpass');
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    mode = undefined;
  }
  return { path, mode, origin: explicit ? 'PGPASSFILE' : '~/.pgpass' };
}

const UNIX_SOCKET = 'The application connects over a unix socket, where TLS does not apply.';

const configObject = (name: string, value: string) => [{ type: 'config', name, value }];

export const clientArea = defineArea<ClientFacts>({
  area: 'client',
  needsConnection: false,
  async gather({ config, env }) {
    return { violations: evaluateConfigPolicy(config), pgpass: pgpassFile(env) };
  },
  checks: [
    {
      id: 'client.sslmode',
      severity: 'high',
      title: 'The application connects with sslmode=verify-full',
      rationale:
        'Anything below verify-full lets a machine in the path impersonate the server and read the password and data.',
      remediation:
        'DATABASE_URL=...?sslmode=verify-full&sslrootcert=/path/ca.pem  (or DB_SSL=true with DB_SSL_CA)',
      references: [CONFIG_DOC, pgDocs('libpq-ssl.html#LIBPQ-SSL-PROTECTION')],
      evaluate(facts, { config }) {
        if (config.host.startsWith('/')) return skip(UNIX_SOCKET);
        const v = facts.violations.find((x) => SSL_CODES.has(x.code));
        if (!v) return pass(`sslmode ${config.tls.effectiveMode} (${config.sources.sslMode ?? 'sslMode'}).`);
        return fail(`${v.message}`, configObject(v.option, config.tls.effectiveMode), { remediation: v.fix });
      },
    },
    {
      id: 'client.tls-min-version',
      severity: 'medium',
      title: 'The application refuses TLS below 1.2',
      rationale: 'A client that accepts TLS 1.0/1.1 can be downgraded by an attacker in the path.',
      remediation: 'PGSSLMINPROTOCOLVERSION=TLSv1.2 (or the sslMinVersion option)',
      references: [CONFIG_DOC],
      evaluate(facts, { config }) {
        if (config.host.startsWith('/')) return skip(UNIX_SOCKET);
        const v = facts.violations.find((x) => x.code === 'PGW_POLICY_TLS_MIN_VERSION');
        if (!v) return pass(`Minimum TLS version ${config.tls.minVersion}.`);
        return fail(v.message, configObject(v.option, config.tls.minVersion), { remediation: v.fix });
      },
    },
    {
      id: 'client.reject-unauthorized',
      severity: 'critical',
      title: 'The application validates the server certificate',
      rationale:
        'With validation off (DB_SSL_REJECT_UNAUTHORIZED=false, sslmode=require/prefer) TLS only defeats passive eavesdroppers.',
      remediation:
        'Remove DB_SSL_REJECT_UNAUTHORIZED=false and set DB_SSL_CA (or sslrootcert) to the server CA.',
      references: [CONFIG_DOC],
      evaluate(facts, { config }) {
        if (config.host.startsWith('/')) return skip(UNIX_SOCKET);
        const mode = config.tls.effectiveMode;
        if (mode === 'verify-ca' || mode === 'verify-full')
          return pass(`Certificates are validated (sslmode ${mode}).`);
        const v = facts.violations.find((x) => x.code === 'PGW_POLICY_CERT_VALIDATION_DISABLED');
        const origin = config.sources.sslMode ?? 'sslMode';
        return fail(
          v?.message ?? `sslmode "${mode}" (${origin}) never validates the server certificate.`,
          configObject(origin, mode),
          {
            ...(mode === 'require' ? {} : { severity: 'high' as const }),
          },
        );
      },
    },
    {
      id: 'client.password-in-url',
      severity: 'medium',
      title: 'The password is not embedded in a connection URL',
      rationale:
        'URLs are logged, shown in process lists, pasted into tickets and error messages; a password inside travels with them.',
      remediation:
        'Remove the password from DATABASE_URL and provide it through a secrets backend (or DB_PASSWORD / PGPASSWORD).',
      references: [CONFIG_DOC],
      evaluate(_facts, { config }) {
        const kind = passwordSourceKind(config);
        if (kind === 'url-in-env' || kind === 'url-option') {
          return fail(
            `The password is part of the connection URL (${config.sources.password}).`,
            configObject(config.sources.password ?? 'url', 'password in URL'),
          );
        }
        return pass(
          kind === 'none'
            ? 'No password is configured.'
            : `The password comes from ${config.sources.password}, not a URL.`,
        );
      },
    },
    {
      id: 'client.password-source',
      severity: 'medium',
      title: 'The password does not come from a .env file or a plaintext variable in production',
      rationale:
        '.env files get committed and copied; plaintext variables leak through /proc, crash dumps and debug endpoints.',
      remediation:
        'Use a secrets backend (SECRETS_BACKEND=vault, aws-secrets-manager, rds-iam, keychain or file).',
      references: [CONFIG_DOC, 'docs/secrets.md'],
      evaluate(facts, { config }) {
        const kind = passwordSourceKind(config);
        const v = facts.violations.find((x) =>
          [
            'PGW_POLICY_PASSWORD_FROM_DOTENV',
            'PGW_POLICY_PASSWORD_PLAINTEXT_ENV',
            'PGW_POLICY_PASSWORD_IN_URL',
          ].includes(x.code),
        );
        if (v) return fail(v.message, configObject(v.option, kind), { remediation: v.fix });
        if (isProductionLike(config.environment) && (kind === 'plaintext-env' || kind === 'url-in-env')) {
          return fail(
            `In ${config.environment} the password is a plaintext environment variable (${config.sources.password}).`,
            configObject(config.sources.password ?? 'password', kind),
          );
        }
        if (kind === 'none') return pass('No password is configured.');
        return pass(`The password comes from ${config.sources.password} (${kind}) in ${config.environment}.`);
      },
    },
    {
      id: 'client.pgpass-permissions',
      severity: 'medium',
      title: 'The password file is private',
      rationale:
        'libpq ignores a .pgpass readable by others; worse, other local users can read the passwords in it.',
      remediation: 'chmod 600 ~/.pgpass',
      references: [pgDocs('libpq-pgpass.html')],
      evaluate(facts) {
        const { path, mode, origin } = facts.pgpass;
        if (mode === undefined) return pass(`No password file at ${path} (${origin}).`);
        const octal = `0${mode.toString(8)}`;
        if ((mode & 0o077) === 0) return pass(`${path} has mode ${octal}.`);
        return fail(
          `${path} (${origin}) has mode ${octal}: readable by group or others.`,
          [{ type: 'file', name: path, value: octal }],
          { remediation: `chmod 600 ${path}` },
        );
      },
    },
    {
      id: 'client.channel-binding',
      severity: 'low',
      title: 'The application requires SCRAM channel binding',
      rationale:
        'channel_binding=require ties authentication to the TLS session, so even a certificate mix-up cannot be used to relay the login.',
      remediation: 'DATABASE_URL=...&channel_binding=require  (PGCHANNELBINDING=require)',
      references: [CONFIG_DOC, pgDocs('libpq-connect.html#LIBPQ-CONNECT-CHANNEL-BINDING')],
      evaluate(_facts, { config, session }) {
        if (config.host.startsWith('/')) return skip(UNIX_SOCKET);
        const used = session
          ? ` The audit session authenticated with ${session.authMechanism ?? 'no password (trust or certificate)'}.`
          : '';
        if (config.tls.channelBinding === 'require') return pass(`channel_binding = require.${used}`);
        return fail(
          `channel_binding = ${config.tls.channelBinding}.${used}`,
          configObject(config.sources.channelBinding ?? 'channelBinding', config.tls.channelBinding),
        );
      },
    },
    {
      id: 'client.session-encrypted',
      severity: 'critical',
      title: "The audit's own session (the application's path) is encrypted",
      rationale:
        'This is what the configuration achieves on the wire: if the audit connected in plaintext, so does the application.',
      remediation: 'Set sslmode=verify-full; make the server require TLS (hostssl rules).',
      references: [CONFIG_DOC],
      needsSession: true,
      evaluate(_facts, { config, session }) {
        if (!session) return skip('The audit did not connect.');
        if (config.host.startsWith('/'))
          return pass('The session runs over a unix socket and never leaves the host.');
        if (session.tls)
          return pass(`The session uses ${session.tls.protocol ?? 'TLS'} with ${session.tls.cipher}.`);
        return fail('The audit connected without TLS, as the application would.', [
          { type: 'session', name: 'audit-session', value: 'unencrypted' },
        ]);
      },
    },
  ],
});
