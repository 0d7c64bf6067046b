/**
 * TLS: what the server accepts and the certificate it presents, both
 * observed over the wire by a handshake-only probe (tls-probe.ts), the
 * settings when the role can read them, and live TCP sessions that are not
 * encrypted.
 */
import { analyzeCertificate, type CertificateFacts } from '../certificate.js';
import {
  CERTIFICATE_EXPIRY_SEVERITY,
  certificateExpiry,
  describeCertificateExpiry,
} from '../../tls/certificate-expiry.js';
import { cis, defineArea, fail, pass, pgDocs, skip, type CheckOutcome, type EvalContext } from '../check.js';
import { isOn, settingValue } from '../session.js';
import { probeServerTls, tlsProbeTarget, type TlsProbeReport } from '../tls-probe.js';
import { judgeCiphers, judgeMinProtocol, observedAt, type ObservedTls } from './tls-observed.js';

export interface TlsFacts extends ObservedTls {
  readonly ssl: string | undefined;
  /** Whether the server accepts TLS, from the setting, the session or the probe. */
  readonly offersTls: boolean | undefined;
  readonly certificate: CertificateFacts | undefined;
  /** Why there is no certificate to judge. */
  readonly noCertificate: string | undefined;
  readonly unencryptedSessions:
    readonly { pid: number; usename: string | null; datname: string | null; client: string }[] | undefined;
}

const SESSIONS_SQL = `SELECT a.pid, a.usename, a.datname, host(a.client_addr) AS client
  FROM pg_catalog.pg_stat_ssl s
  JOIN pg_catalog.pg_stat_activity a USING (pid)
  LEFT JOIN pg_catalog.pg_stat_gssapi g USING (pid)
  WHERE NOT s.ssl AND NOT coalesce(g.encrypted, false)
    AND a.client_addr IS NOT NULL AND a.pid <> pg_catalog.pg_backend_pid()
  ORDER BY a.pid`;

/**
 * The pooler the application connects through. Read defensively: the
 * `pooler` option (DB_POOLER) is being added to the resolved config; until
 * then this is undefined and the findings make no pooler claim.
 */
export function poolerOf(config: EvalContext['config']): string | undefined {
  const value = (config as { readonly pooler?: unknown }).pooler;
  return typeof value === 'string' && value !== '' && value !== 'none' ? value : undefined;
}

function readCertificate(
  context: EvalContext,
  probe: TlsProbeReport,
): Pick<TlsFacts, 'certificate' | 'noCertificate' | 'offersTls'> {
  const { config, session, now } = context;
  if (config.host.startsWith('/')) {
    return {
      certificate: undefined,
      noCertificate: 'the application connects over a unix socket, where TLS does not apply',
      offersTls: undefined,
    };
  }
  const name = config.tls.serverName ?? config.host;
  if (session && session.peerCertificates.length > 0) {
    return {
      certificate: analyzeCertificate(session.peerCertificates, 'session', config.tls.rootCert, name, now),
      noCertificate: undefined,
      offersTls: true,
    };
  }
  if (probe.status === 'probed') {
    const accepted = Object.values(probe.versions).some((v) => v.kind === 'accepted');
    if (!accepted)
      return {
        certificate: undefined,
        noCertificate: 'no probe handshake was accepted, so no certificate was served',
        offersTls: undefined,
      };
    return {
      certificate:
        probe.chain.length > 0
          ? analyzeCertificate([...probe.chain], 'probe', config.tls.rootCert, name, now)
          : undefined,
      noCertificate: probe.chain.length === 0 ? 'the server presented no certificate' : undefined,
      offersTls: true,
    };
  }
  if (probe.status === 'no-tls')
    return { certificate: undefined, noCertificate: 'the server does not offer TLS', offersTls: false };
  return {
    certificate: undefined,
    noCertificate: `the certificate could not be read: ${probe.reason ?? probe.status}`,
    offersTls: undefined,
  };
}

/** Cipher classes that must not be enabled, as OpenSSL cipher-string tokens. */
const WEAK_CIPHER_TOKENS = [
  'NULL',
  'eNULL',
  'aNULL',
  'EXPORT',
  'EXP',
  'LOW',
  'MEDIUM',
  'RC4',
  'DES',
  '3DES',
  'MD5',
  'IDEA',
  'SEED',
  'RC2',
];

/** Weak classes an OpenSSL cipher string enables, judged token by token (a `!` excludes for good). */
export function weakCipherClasses(ciphers: string): string[] {
  const tokens = ciphers.split(/[:, ]+/).filter(Boolean);
  const excluded = new Set(tokens.filter((t) => t.startsWith('!')).map((t) => t.slice(1).toUpperCase()));
  const enabled = tokens.filter((t) => !/^[!-]/.test(t)).flatMap((t) => t.replace(/^\+/, '').split('+'));
  const weak = new Set<string>();
  for (const token of enabled) {
    const upper = token.toUpperCase();
    if (upper === 'ALL' || upper === 'COMPLEMENTOFALL' || upper === 'DEFAULT')
      weak.add(`${token} (includes every class)`);
    for (const bad of WEAK_CIPHER_TOKENS) {
      if (upper === bad.toUpperCase() || upper.split('-').includes(bad.toUpperCase())) weak.add(token);
    }
  }
  // HIGH and ALL include anonymous (aNULL) suites unless they are excluded.
  const broad = enabled.some((t) => ['HIGH', 'ALL', 'DEFAULT'].includes(t.toUpperCase()));
  if (broad && !excluded.has('ANULL') && !excluded.has('NULL')) weak.add('aNULL (not excluded)');
  return [...weak].filter((w) => !excluded.has(w.toUpperCase()));
}

/** Appends where the certificate was observed: behind a pooler it is the pooler's. */
function atPooler(
  evaluate: (facts: TlsFacts, context: EvalContext) => CheckOutcome,
): (facts: TlsFacts, context: EvalContext) => CheckOutcome {
  return (facts, context) => {
    const outcome = evaluate(facts, context);
    const where = observedAt(facts);
    return where ? { ...outcome, detail: `${outcome.detail}${where}` } : outcome;
  };
}

const certOutcomeMissing = (facts: TlsFacts) =>
  skip(`No server certificate to judge: ${facts.noCertificate ?? 'unknown reason'}.`);

export const tlsArea = defineArea<TlsFacts>({
  area: 'tls',
  needsConnection: false,
  async gather(context) {
    const { session, config } = context;
    const probe = await (context.tlsProbe ?? probeServerTls(tlsProbeTarget(config)));
    const certificate = readCertificate(context, probe);
    const canSeeSessions = session && (session.privileges.readAllStats || session.privileges.superuser);
    return {
      probe,
      pooler: poolerOf(config),
      ssl: settingValue(session, 'ssl'),
      minProtocol: settingValue(session, 'ssl_min_protocol_version'),
      ciphers: settingValue(session, 'ssl_ciphers'),
      ...certificate,
      // Behind a pooler the server's own ssl setting says nothing about what clients meet.
      offersTls:
        session && !poolerOf(config)
          ? isOn(settingValue(session, 'ssl')) || certificate.offersTls === true
          : certificate.offersTls,
      unencryptedSessions: canSeeSessions ? await session.query(SESSIONS_SQL) : undefined,
    };
  },
  checks: [
    {
      id: 'tls.enabled',
      severity: 'critical',
      title: 'The server accepts TLS',
      rationale:
        'Without TLS, passwords (md5, cleartext) and every query and result cross the network in the clear.',
      remediation:
        'ssl = on  # postgresql.conf, with ssl_cert_file and ssl_key_file; then SELECT pg_reload_conf();',
      cis: [cis('6.8', 'TLS is enabled')],
      references: [pgDocs('ssl-tcp.html')],
      evaluate(facts) {
        const where = observedAt(facts);
        if (facts.ssl !== undefined && !facts.pooler) {
          return isOn(facts.ssl)
            ? pass('ssl = on.')
            : fail('ssl = off: the server accepts no TLS connections.', [
                { type: 'setting', name: 'ssl', value: facts.ssl },
              ]);
        }
        if (facts.offersTls === true)
          return pass(`The server answered the SSLRequest and completed a TLS handshake.${where}`);
        if (facts.offersTls === false)
          return fail(`The server refused the SSLRequest: it accepts no TLS connections.${where}`, [
            { type: 'setting', name: 'ssl', value: 'off' },
          ]);
        return skip(
          `Neither the ssl setting nor a handshake could be read: ${facts.noCertificate ?? 'no connection'}.${where}`,
        );
      },
    },
    {
      id: 'tls.min-protocol',
      severity: 'high',
      title: 'TLS versions below 1.2 are refused',
      rationale:
        'TLS 1.0 and 1.1 are deprecated (RFC 8996) and allow downgrade attacks. Judged by handshakes offering each version alone, so no privilege is needed.',
      remediation: "ssl_min_protocol_version = 'TLSv1.2'  # or TLSv1.3; then SELECT pg_reload_conf();",
      cis: [
        cis('6.8', 'TLS is enabled'),
        // CIS 17 v1.0.0 6.9 asks for TLS 1.3, which this check does not.
        cis('6.9', 'TLSv1.0 and TLSv1.1 Protocols are Disabled', { majors: [14, 15, 16] }),
      ],
      references: [pgDocs('runtime-config-connection.html#GUC-SSL-MIN-PROTOCOL-VERSION')],
      evaluate: judgeMinProtocol,
    },
    {
      id: 'tls.ciphers',
      severity: 'medium',
      title: 'Weak TLS cipher classes are refused',
      rationale:
        'NULL, anonymous, RC4, 3DES, RSA key exchange and CBC suites can be read, impersonated, broken or downgraded to. Judged by TLS 1.2 handshakes offering each class alone, so no privilege is needed.',
      remediation:
        "ssl_ciphers = 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL'  # AEAD suites with forward secrecy; TLS 1.3 suites are not affected by this setting",
      cis: [cis('6.8', 'TLS is enabled'), cis('6.10', 'Weak SSL/TLS Ciphers Are Disabled')],
      references: [pgDocs('runtime-config-connection.html#GUC-SSL-CIPHERS')],
      evaluate: (facts, context) => judgeCiphers(facts, context, weakCipherClasses),
    },
    {
      id: 'tls.server-cert-expiry',
      severity: 'high',
      title: 'The server certificate is valid for at least 30 more days',
      rationale:
        'An expired certificate makes every verifying client refuse to connect; renewal needs lead time.',
      remediation:
        'Renew the server certificate, install it as ssl_cert_file and run SELECT pg_reload_conf();',
      references: [pgDocs('ssl-tcp.html#SSL-SERVER-FILES')],
      evaluate: atPooler((facts, context) => {
        const cert = facts.certificate;
        if (!cert) return certOutcomeMissing(facts);
        const object = { type: 'certificate', name: cert.subject, value: `expires ${cert.validTo}` };
        // The same verdict and words as doctor and alerts (src/tls/certificate-expiry.ts).
        const expiry = certificateExpiry(cert.validTo, context.now, context.thresholds.certificateExpiryDays);
        const said = `The certificate ${cert.subject} ${describeCertificateExpiry(expiry)}`;
        if (expiry.level === 'valid') return pass(`${said}; read from the ${cert.source}.`);
        return fail(`${said}.`, [object], { severity: CERTIFICATE_EXPIRY_SEVERITY[expiry.level] });
      }),
    },
    {
      id: 'tls.server-cert-untrusted',
      severity: 'high',
      title: 'The server certificate chains to the configured CA',
      rationale:
        'A self-signed certificate or one from another CA cannot be verified, so clients either skip verification or fail.',
      remediation:
        "Issue the server certificate from the CA the application trusts (DB_SSL_CA / sslrootcert), or point sslrootcert at the server's real CA.",
      references: [pgDocs('libpq-ssl.html#LIBQ-SSL-CERTIFICATES')],
      evaluate: atPooler((facts) => {
        const cert = facts.certificate;
        if (!cert) return certOutcomeMissing(facts);
        if (cert.trust.trusted)
          return pass(`${cert.subject}: ${cert.trust.reason} (checked against ${cert.trust.against}).`);
        return fail(`${cert.subject}: ${cert.trust.reason} (checked against ${cert.trust.against}).`, [
          { type: 'certificate', name: cert.subject, value: `issuer ${cert.issuer}` },
        ]);
      }),
    },
    {
      id: 'tls.server-cert-weak',
      severity: 'high',
      title: 'The server certificate uses a strong key and signature',
      rationale: 'RSA keys below 2048 bits can be factored and SHA-1 signatures forged.',
      remediation:
        'Reissue the certificate with an RSA 2048+ or ECDSA P-256 key, signed with SHA-256 or better.',
      references: [pgDocs('ssl-tcp.html')],
      evaluate: atPooler((facts) => {
        const cert = facts.certificate;
        if (!cert) return certOutcomeMissing(facts);
        if (cert.weaknesses.length === 0)
          return pass(`${cert.keyDescription}, signed with ${cert.signatureAlgorithm}.`);
        return fail(`${cert.subject}: ${cert.weaknesses.join('; ')}.`, [
          {
            type: 'certificate',
            name: cert.subject,
            value: `${cert.keyDescription}, ${cert.signatureAlgorithm}`,
          },
        ]);
      }),
    },
    {
      id: 'tls.server-cert-hostname',
      severity: 'high',
      title: 'The server certificate names the host the application uses',
      rationale:
        'With a name mismatch the application cannot use sslmode=verify-full, so it cannot detect an impostor with a certificate from the same CA.',
      remediation:
        'Reissue the certificate with the host name (or IP) the application connects to in its subjectAltName, or connect by a name it carries (sslServerName).',
      references: [pgDocs('libpq-ssl.html#LIBPQ-SSL-HOST-NAME-MATCHING')],
      evaluate: atPooler((facts) => {
        const cert = facts.certificate;
        if (!cert) return certOutcomeMissing(facts);
        if (!cert.hostname) return skip('The application connects over a unix socket.');
        if (cert.hostname.matches)
          return pass(`${cert.subject} covers "${cert.hostname.name}" (${cert.subjectAltName ?? 'no SAN'}).`);
        return fail(
          `${cert.subject} does not cover "${cert.hostname.name}" (${cert.subjectAltName ?? 'no subjectAltName'}).`,
          [{ type: 'certificate', name: cert.subject, value: cert.subjectAltName ?? '' }],
        );
      }),
    },
    {
      id: 'tls.sessions-unencrypted',
      severity: 'high',
      title: 'No live TCP session is unencrypted',
      rationale:
        'A client that connects without TLS exposes its queries and results, whatever the server allows in principle.',
      remediation:
        'Use hostssl instead of host rules in pg_hba.conf (and hostnossl ... reject), then fix the clients that connected in plaintext.',
      references: [pgDocs('monitoring-stats.html#MONITORING-PG-STAT-SSL-VIEW')],
      requires: ['readAllStats'],
      evaluate(facts, context) {
        if (!context.session) return skip('No connection.');
        const sessions = facts.unencryptedSessions ?? [];
        if (sessions.length === 0) return pass('Every other TCP session is encrypted (pg_stat_ssl).');
        return fail(
          `${sessions.length} TCP session(s) without TLS: ${sessions.map((s) => `${s.usename ?? '?'}@${s.datname ?? '?'} from ${s.client}`).join(', ')}.`,
          sessions.map((s) => ({
            type: 'session',
            name: `pid:${s.pid}`,
            value: `${s.usename ?? '?'}@${s.datname ?? '?'} from ${s.client}`,
          })),
        );
      },
    },
  ],
});
