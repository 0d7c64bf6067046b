/**
 * The log messages the security rules count, recognised by their exact
 * PostgreSQL wording (always English: lc_messages is C on servers that are
 * meant to be monitored, and the harness enforces it).
 *
 * - `FATAL:  password authentication failed for user "app"` (and the same
 *   for scram, md5, cert, ldap, pam… methods): a failed authentication.
 * - `LOG:  connection received: host=10.0.0.5 port=51234` (log_connections):
 *   where the backend with that pid comes from; `[local]` is a unix socket.
 * - `LOG:  connection authorized: user=app database=app … SSL enabled (…)`
 *   (log_connections): a session; without `SSL enabled` or `GSS (… encrypted=yes`
 *   it is unencrypted.
 * - `FATAL:  no pg_hba.conf entry for host "…", user "…", database "…", no encryption`
 *   and `pg_hba.conf rejects connection for host …, no encryption`: an
 *   attempt without TLS that the server refused.
 * - `LOG:  could not accept SSL connection: unsupported protocol` (or `no
 *   shared cipher`, `EOF detected`…), and a TCP `connection received` with no
 *   login outcome after it: a connection that ended before any login. That is
 *   what a TLS probe leaves (pgwarden audit's: SSLRequest, one handshake,
 *   close; PostgreSQL 15 logs nothing more for a clean close), and also
 *   health checks and port scans. No rule counts these; they are reported
 *   as `pre-startup` so the rules can say what they left out.
 */
import type { LogEntry } from './log-entry.js';

export type SecurityEvent =
  | {
      readonly kind: 'auth-failed';
      readonly at: number | undefined;
      readonly user: string;
      /** `password`, `certificate`, `LDAP`, … as the server names it. */
      readonly method: string;
      readonly host: string | undefined;
    }
  | {
      readonly kind: 'connection-authorized';
      readonly at: number | undefined;
      readonly user: string;
      readonly database: string | undefined;
      readonly encrypted: boolean;
      readonly replication: boolean;
      readonly host: string | undefined;
    }
  | {
      /** A TCP connection that ended before any login (see above). */
      readonly kind: 'pre-startup';
      readonly at: number | undefined;
      readonly host: string | undefined;
      /** Why the server refused the TLS handshake (`unsupported protocol`…); undefined when the client just closed. */
      readonly tlsRefused: string | undefined;
    }
  | {
      readonly kind: 'hba-rejected';
      readonly at: number | undefined;
      readonly user: string;
      readonly database: string | undefined;
      readonly encrypted: boolean;
      readonly host: string;
    };

export interface SecurityEvents {
  readonly events: readonly SecurityEvent[];
  /** `connection received` lines seen: log_connections was on for at least part of the file. */
  readonly connectionLines: number;
  /** Authorized sessions whose origin (socket or TCP) could not be told: no %p/%h in the prefix. */
  readonly unknownOrigin: number;
}

const AUTH_FAILED = /^(.+?) authentication failed for user "(.*)"$/;
const RECEIVED = /^connection received: host=(\S+)/;
const AUTHORIZED = /^(replication )?connection authorized: user=(\S+)(?: database=(\S+))?/;
// PostgreSQL 12+ says "no encryption" / "SSL encryption" / "GSS encryption"; 9.x to 11 said "SSL off" / "SSL on".
const HBA =
  /^(?:no pg_hba\.conf entry for|pg_hba\.conf rejects) (?:replication connection from |connection for |replication connection for )?host "([^"]*)", user "([^"]*)"(?:, database "([^"]*)")?, (no encryption|SSL off|SSL encryption|SSL on|GSS encryption)/;
// The SSL part is appended after application_name, at the end of the message.
const SSL_ENABLED = / SSL enabled \(protocol=[^,]*, cipher=[^,]*, bits=\d+\)(?: GSS \(.*\))?$/;
const GSS_ENCRYPTED = / GSS \(authenticated=\w+, encrypted=yes/;
const TLS_REFUSED = /^could not accept SSL connection: (.*)$/;
const AUTHENTICATED = /^connection authenticated:/;

/** Finds the security events in parsed entries, in order, with each session's origin resolved by pid. */
export function securityEvents(entries: readonly LogEntry[]): SecurityEvents {
  const originByPid = new Map<number, string>();
  const events: SecurityEvent[] = [];
  let connectionLines = 0;
  let unknownOrigin = 0;
  // TCP connections received whose backend has shown no login outcome yet.
  const pending = new Map<number, { at: number | undefined; host: string }>();
  const endedEarly = (at: number | undefined, host: string | undefined, tlsRefused?: string): void => {
    events.push({ kind: 'pre-startup', at, host, tlsRefused });
  };
  for (const entry of entries) {
    const at = entry.time?.ms;
    const { message } = entry;
    const pid = entry.pid;
    if (
      pid !== undefined &&
      pending.has(pid) &&
      (['FATAL', 'ERROR', 'PANIC'].includes(entry.severity) ||
        AUTHORIZED.test(message) ||
        AUTHENTICATED.test(message))
    ) {
      pending.delete(pid);
    }
    if (entry.severity === 'LOG') {
      const received = RECEIVED.exec(message);
      if (received) {
        connectionLines++;
        if (pid !== undefined) {
          // A reused pid: the earlier connection ended without a login line.
          const earlier = pending.get(pid);
          if (earlier) endedEarly(earlier.at, earlier.host);
          pending.delete(pid);
          originByPid.set(pid, received[1]!);
          if (!isLocal(received[1])) pending.set(pid, { at, host: received[1]! });
        }
        continue;
      }
      const refused = TLS_REFUSED.exec(message);
      if (refused) {
        const host = entry.remoteHost ?? (pid === undefined ? undefined : originByPid.get(pid));
        if (pid !== undefined) pending.delete(pid);
        endedEarly(at, host, refused[1]!);
        continue;
      }
      const authorized = AUTHORIZED.exec(message);
      if (authorized) {
        const host = entry.remoteHost ?? (entry.pid === undefined ? undefined : originByPid.get(entry.pid));
        if (host === undefined) unknownOrigin++;
        events.push({
          kind: 'connection-authorized',
          at,
          user: authorized[2]!,
          database: authorized[3],
          encrypted: SSL_ENABLED.test(message) || GSS_ENCRYPTED.test(message),
          replication: authorized[1] !== undefined,
          host,
        });
      }
      continue;
    }
    if (entry.severity !== 'FATAL') continue;
    const failed = AUTH_FAILED.exec(message);
    if (failed) {
      const host = entry.remoteHost ?? (entry.pid === undefined ? undefined : originByPid.get(entry.pid));
      events.push({ kind: 'auth-failed', at, user: failed[2]!, method: failed[1]!, host });
      continue;
    }
    const hba = HBA.exec(message);
    if (hba) {
      events.push({
        kind: 'hba-rejected',
        at,
        host: hba[1]!,
        user: hba[2]!,
        database: hba[3],
        encrypted: hba[4] !== 'no encryption' && hba[4] !== 'SSL off',
      });
    }
  }
  for (const connection of pending.values()) endedEarly(connection.at, connection.host);
  return { events, connectionLines, unknownOrigin };
}

/** True for a unix-socket origin, where TLS does not apply. */
export function isLocal(host: string | undefined): boolean {
  return host === '[local]';
}
