/**
 * The server's TLS as any client sees it, with no privilege and no
 * credential: one handshake per protocol version (TLS 1.3, 1.2, 1.1, 1.0,
 * each offered alone), then one TLS 1.2 handshake per weak cipher class this
 * runtime can offer (tls-offers.ts), and the certificate chain as served.
 *
 * Bounded: at most `maxProbeConnections()` connections (4 versions + up to 6
 * classes; 8 with Node 20's OpenSSL 3.0, which has no 3DES or RC4), each
 * closed before a StartupMessage. The first (TLS 1.3) runs alone, so a server
 * that refuses TLS or cannot be reached costs one connection; the rest run
 * at most PROBE_CONCURRENCY at a time, and a connection that fails (timeout,
 * reset) stops new ones from starting, so an unresponsive server costs about
 * one timeout, not ten.
 */
import type { ResolvedConfig } from '../config/schema.js';
import { probeHandshake, type HandshakeResult, type HandshakeTarget } from './tls-handshake.js';
import {
  CIPHER_CLASSES,
  PROBED_VERSIONS,
  VERSION_CIPHERS,
  canOffer,
  runtimeOpenssl,
  type CipherClass,
  type ProbedVersion,
} from './tls-offers.js';

/** What one offer showed. `unknown`: it failed or was not tried, so it proves nothing. */
export type ProbeVerdict =
  | { readonly kind: 'accepted'; readonly protocol: string; readonly cipher: string }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'untestable'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface TlsProbeReport {
  /**
   * `probed`: the server answered TLS (see versions and classes); `no-tls`:
   * it answered the SSLRequest with N; `skipped`: not reachable over TCP;
   * `failed`: the first connection failed.
   */
  readonly status: 'probed' | 'no-tls' | 'skipped' | 'failed';
  /** Why it was skipped or failed. */
  readonly reason?: string;
  readonly versions: Readonly<Record<ProbedVersion, ProbeVerdict>>;
  readonly classes: readonly { readonly cipherClass: CipherClass; readonly verdict: ProbeVerdict }[];
  /** DER, leaf first, from the first accepted handshake (newest version first). */
  readonly chain: readonly Buffer[];
  /** TCP connections opened. */
  readonly connections: number;
  /** Their local ports, which the server logs as `connection received: host=… port=…`. */
  readonly localPorts: readonly number[];
  /** The runtime whose OpenSSL decided what could be offered. */
  readonly runtime: string;
}

export type TlsProbeOptions = HandshakeTarget;

/** What the probe targets for a resolved config: the first host, its SNI name and negotiation. */
export function tlsProbeTarget(config: ResolvedConfig): TlsProbeOptions {
  return {
    host: config.host,
    port: config.port,
    serverName: config.tls.serverName,
    negotiation: config.tls.negotiation,
    timeoutMs: config.pool.connectionTimeoutMs,
  };
}

function verdictOf(result: HandshakeResult): ProbeVerdict {
  switch (result.outcome) {
    case 'accepted':
      return { kind: 'accepted', protocol: result.protocol, cipher: result.cipher };
    case 'refused':
      return { kind: 'refused', reason: result.reason };
    case 'untestable':
      return { kind: 'untestable', reason: result.reason };
    case 'failed':
      return { kind: 'unknown', reason: result.reason };
    case 'no-tls':
      return { kind: 'unknown', reason: 'the server answered the SSLRequest with N' };
  }
}

function unprobed(reason: string): Pick<TlsProbeReport, 'versions' | 'classes'> {
  const verdict: ProbeVerdict = { kind: 'unknown', reason };
  return {
    versions: Object.fromEntries(PROBED_VERSIONS.map((v) => [v, verdict])) as Record<
      ProbedVersion,
      ProbeVerdict
    >,
    classes: CIPHER_CLASSES.map((cipherClass) => ({ cipherClass, verdict })),
  };
}

/** Probe connections open at once after the first (which runs alone: a server without TLS costs one). */
export const PROBE_CONCURRENCY = 4;

type Offer = Parameters<typeof probeHandshake>[1];

/** Probes the server. Never throws; a probe that cannot run says why in the report. */
export async function probeServerTls(target: TlsProbeOptions): Promise<TlsProbeReport> {
  const runtime = runtimeOpenssl();
  if (target.host.startsWith('/')) {
    const reason = `the server is reached over a unix socket (${target.host}), where TLS does not apply; the probe needs TCP`;
    return {
      status: 'skipped',
      reason,
      ...unprobed(reason),
      chain: [],
      connections: 0,
      localPorts: [],
      runtime,
    };
  }
  const localPorts: number[] = [];
  let connections = 0;
  let stopped: string | undefined;
  const attempt = async (offer: Offer): Promise<HandshakeResult> => {
    connections++;
    const { result, localPort } = await probeHandshake(target, offer);
    if (localPort !== undefined) localPorts.push(localPort);
    if (result.outcome === 'failed')
      stopped ??= `not tried: an earlier probe connection failed (${result.reason})`;
    return result;
  };
  const versionOffer = (version: ProbedVersion): Offer => ({
    minVersion: version,
    maxVersion: version,
    ciphers: VERSION_CIPHERS,
  });

  // The newest version first and alone: it tells whether there is TLS at all.
  const [newest, ...older] = PROBED_VERSIONS;
  const first = await attempt(versionOffer(newest));
  if (first.outcome === 'no-tls') {
    const reason = 'the server answered the SSLRequest with N: it offers no TLS';
    return { status: 'no-tls', reason, ...unprobed(reason), chain: [], connections, localPorts, runtime };
  }
  if (first.outcome === 'failed') {
    return {
      status: 'failed',
      reason: first.reason,
      ...unprobed(`not tried: ${first.reason}`),
      chain: [],
      connections,
      localPorts,
      runtime,
    };
  }

  // Then every older version and every class this runtime can offer, a few
  // at a time. Every class is tried whatever the version handshakes showed:
  // a server that refuses the DEFAULT offer at TLS 1.2 may still accept, say,
  // only anonymous suites. After a failed connection nothing new starts.
  const jobs: { key: ProbedVersion | CipherClass; offer: Offer }[] = [
    ...older.map((version) => ({ key: version, offer: versionOffer(version) })),
    ...CIPHER_CLASSES.filter((c) => canOffer(c.ciphers)).map((c) => ({
      key: c,
      offer: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: c.ciphers } as Offer,
    })),
  ];
  const results = new Map<ProbedVersion | CipherClass, HandshakeResult>([[newest, first]]);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !stopped) {
      const job = jobs[next++]!;
      results.set(job.key, await attempt(job.offer));
    }
  };
  await Promise.all(Array.from({ length: PROBE_CONCURRENCY }, worker));

  const verdict = (key: ProbedVersion | CipherClass): ProbeVerdict => {
    const result = results.get(key);
    return result ? verdictOf(result) : { kind: 'unknown', reason: stopped ?? 'not tried' };
  };
  const versions = Object.fromEntries(PROBED_VERSIONS.map((v) => [v, verdict(v)])) as Record<
    ProbedVersion,
    ProbeVerdict
  >;
  const classes = CIPHER_CLASSES.map((cipherClass) => ({
    cipherClass,
    verdict: canOffer(cipherClass.ciphers)
      ? verdict(cipherClass)
      : ({
          kind: 'untestable',
          reason: `${runtime} has no such suites, so it cannot offer them`,
        } as const),
  }));
  // The chain as served on the newest version accepted.
  const chainFrom = PROBED_VERSIONS.map((v) => results.get(v)).find((r) => r?.outcome === 'accepted');
  const chain = chainFrom?.outcome === 'accepted' ? chainFrom.chain : [];
  return { status: 'probed', versions, classes, chain, connections, localPorts, runtime };
}
