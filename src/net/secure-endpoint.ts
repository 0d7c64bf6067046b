/**
 * The one rule for every HTTP endpoint that carries a secret (AWS Secrets
 * Manager, SSM, KMS, Vault, Vault transit, alert webhooks): https, or plain
 * http on loopback only (127.0.0.1, ::1, localhost: local test servers and
 * agents). A password, token or data key sent over plain http to any other
 * host crosses the network in clear, so such an endpoint is refused before
 * any request is made.
 *
 * The rule is judged here; each caller turns a refusal into its own coded
 * error (`PGW_SECRET_CONFIG`, `PGW_BACKUP_KEY_INVALID`,
 * `PGW_ALERTS_CONFIG_INVALID`), so messages keep naming the setting at fault.
 */

/**
 * Host names plain http is accepted on. Only these three: other 127.0.0.0/8
 * addresses are loopback too, but nothing legitimate needs them, and a
 * short, exact list is easier to reason about than a range.
 */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/** True for the host names plain http is allowed on. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/** Why an endpoint is refused. */
export type EndpointProblemKind = 'malformed' | 'scheme' | 'insecure' | 'credentials';

export interface EndpointProblem {
  readonly kind: EndpointProblemKind;
  /** One sentence naming the setting; never the URL's path, query or credentials. */
  readonly message: string;
  /** What to set instead. */
  readonly fix: string;
}

export interface EndpointContext {
  /** The setting that named the endpoint, e.g. `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `VAULT_ADDR`. */
  readonly option: string;
  /** What lives there, for messages: `AWS Secrets Manager`, `Vault`. */
  readonly service: string;
  /** How messages name the endpoint when that is more than the option (an SDK-resolved one). Default: `option`. */
  readonly label?: string;
  /** Refuse `user:password@` in the URL (default true): credentials belong in headers, not URLs. */
  readonly refuseCredentials?: boolean;
}

/** The judgement on one endpoint: the parsed URL, or the reason it is refused. */
export type EndpointVerdict =
  { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly problem: EndpointProblem };

/**
 * Judges an endpoint given as text (a setting) or as the parts a client
 * resolved (`protocol`, `hostname`, `port`). Only the scheme and host are
 * quoted in messages: a path or query may hold a token (webhooks).
 */
export function judgeEndpoint(raw: string | URL, context: EndpointContext): EndpointVerdict {
  const { option, service } = context;
  const label = context.label ?? option;
  let url: URL;
  try {
    url = raw instanceof URL ? raw : new URL(raw.trim());
  } catch {
    return refuse(
      'malformed',
      `${label} is not a URL.`,
      `Set ${option} to the https:// address of ${service}.`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return refuse(
      'scheme',
      `${label} uses ${url.protocol.slice(0, 20)}; ${service} is reached over https.`,
      `Set ${option} to the https:// address of ${service}.`,
    );
  }
  if ((context.refuseCredentials ?? true) && (url.username !== '' || url.password !== '')) {
    return refuse(
      'credentials',
      `${label} must not contain credentials (user:password@).`,
      `Remove the user:password@ part of ${option}.`,
    );
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return refuse(
      'insecure',
      `${label} points ${service} at plain http://${url.host}: the secret would cross the network in clear (plain http is accepted on 127.0.0.1, ::1 and localhost only).`,
      `Use the https:// address of ${service}.`,
    );
  }
  return { ok: true, url };
}

/** Judges the endpoint a client finally resolved, from its parts. */
export function judgeResolvedEndpoint(
  parts: { protocol: string; hostname: string; port?: number | undefined },
  context: EndpointContext,
): EndpointVerdict {
  const protocol = parts.protocol.endsWith(':') ? parts.protocol : `${parts.protocol}:`;
  const host =
    parts.hostname.includes(':') && !parts.hostname.startsWith('[') ? `[${parts.hostname}]` : parts.hostname;
  return judgeEndpoint(`${protocol}//${host}${parts.port ? `:${parts.port}` : ''}/`, {
    ...context,
    refuseCredentials: false,
  });
}

/**
 * Returns the URL or throws the caller's coded error: `fail` builds it from
 * the problem, so each domain keeps its own code.
 */
export function requireSecureEndpoint(
  raw: string | URL,
  context: EndpointContext,
  fail: (problem: EndpointProblem) => Error,
): URL {
  const verdict = judgeEndpoint(raw, context);
  if (!verdict.ok) throw fail(verdict.problem);
  return verdict.url;
}

function refuse(kind: EndpointProblemKind, message: string, fix: string): EndpointVerdict {
  return { ok: false, problem: { kind, message, fix } };
}
