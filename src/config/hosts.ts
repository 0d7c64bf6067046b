/**
 * Host lists as libpq reads them: `host=db1,db2 port=5432,5433` pair up by
 * position, a single port applies to every host, an empty entry means the
 * default. Read replicas are `host[:port]` entries.
 */
import { ConfigError } from '../errors.js';
import type { HostPort } from './schema.js';

function portNumber(text: string, origin: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError('PGW_CONFIG_INVALID', `${origin}: "${text}" is not a port number (1–65535).`, {
      option: origin,
      fix: `Give ${origin} a port between 1 and 65535.`,
    });
  }
  return port;
}

export function parseHostList(
  host: string,
  port: number | string | undefined,
  defaultPort: number,
  origins: { host: string; port: string },
): HostPort[] {
  // A unix-socket directory never holds a comma-separated list in practice; keep it whole.
  const hosts = host.startsWith('/') ? [host] : host.split(',').map((h) => h.trim());
  if (hosts.some((h) => h === '')) {
    throw new ConfigError('PGW_CONFIG_INVALID', `${origins.host} has an empty entry in its host list.`, {
      option: origins.host,
      fix: 'List hosts separated by single commas: db1,db2.',
    });
  }
  const ports =
    port === undefined
      ? []
      : String(port)
          .split(',')
          .map((p) => p.trim());
  if (ports.length > 1 && ports.length !== hosts.length) {
    throw new ConfigError(
      'PGW_CONFIG_CONFLICT',
      `${origins.host} lists ${hosts.length} host(s) but ${origins.port} lists ${ports.length} port(s).`,
      { option: origins.port, fix: 'Give one port for all hosts, or exactly one port per host.' },
    );
  }
  return hosts.map((h, i) => {
    const text = ports.length === 1 ? ports[0]! : (ports[i] ?? '');
    return { host: h, port: text === '' ? defaultPort : portNumber(text, origins.port) };
  });
}

export function parseReplicaList(
  value: string | readonly string[],
  defaultPort: number,
  origin: string,
): HostPort[] {
  const entries = (typeof value === 'string' ? value.split(',') : value)
    .map((e) => e.trim())
    .filter((e) => e !== '');
  return entries.map((entry) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m) {
      throw new ConfigError('PGW_CONFIG_INVALID', `${origin}: "${entry}" is not host or host:port.`, {
        option: origin,
        fix: 'List replicas as host[:port], comma-separated.',
      });
    }
    return {
      host: m[1]!.replace(/^\[|\]$/g, ''),
      port: m[2] === undefined ? defaultPort : portNumber(m[2], origin),
    };
  });
}
