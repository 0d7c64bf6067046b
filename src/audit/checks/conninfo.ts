/**
 * A libpq connection string (`key=value ...` or a `postgres://` URI) reduced
 * to the keys the replication check needs. The password is dropped here so it
 * can never reach a finding.
 */

export interface ConninfoSummary {
  readonly host?: string;
  readonly port?: string;
  readonly user?: string;
  readonly sslmode?: string;
  readonly sslrootcert?: string;
}

const KEPT = new Set(['host', 'hostaddr', 'port', 'user', 'sslmode', 'sslrootcert']);

export function summarizeConninfo(conninfo: string): ConninfoSummary {
  const out: Record<string, string> = {};
  const text = conninfo.trim();
  if (/^postgres(ql)?:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      if (url.hostname) out.host = decodeURIComponent(url.hostname);
      if (url.port) out.port = url.port;
      if (url.username) out.user = decodeURIComponent(url.username);
      for (const [key, value] of url.searchParams) if (KEPT.has(key)) out[key] = value;
    } catch {
      // An unparsable URI keeps no keys; the check then reports sslmode as unset.
    }
    return out;
  }
  const pattern = /\s*([a-z_]+)\s*=\s*('((?:[^'\\]|\\.)*)'|\S+)/gi;
  for (const match of text.matchAll(pattern)) {
    const key = match[1]!.toLowerCase();
    if (!KEPT.has(key)) continue;
    out[key === 'hostaddr' && out.host ? 'hostaddr' : key] =
      match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : match[2]!;
  }
  return out;
}
