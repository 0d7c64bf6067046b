/**
 * Parses `postgres://` / `postgresql://` URLs with libpq's rules: percent-decoded
 * user and password, `[::1]` hosts, an empty host with `?host=/socket/dir`,
 * and the query parameters libpq and node-postgres accept.
 */
import { ConfigError } from '../errors.js';
import { closestName } from './suggest.js';
import { emptyLayer, secondsToMs, setValue, type ConfigLayer } from './layer.js';
import type { OptionKey } from './schema.js';

const PARAMS: Record<string, OptionKey> = {
  host: 'host',
  port: 'port',
  dbname: 'database',
  user: 'user',
  password: 'password',
  sslmode: 'sslMode',
  sslrootcert: 'sslRootCert',
  sslcert: 'sslCert',
  sslkey: 'sslKey',
  sslpassword: 'sslKeyPassphrase',
  ssl_min_protocol_version: 'sslMinVersion',
  sslnegotiation: 'sslNegotiation',
  channel_binding: 'channelBinding',
  application_name: 'applicationName',
  connect_timeout: 'connectionTimeoutMs',
  target_session_attrs: 'targetSessionAttrs',
};

/** Parameters libpq knows that pgwarden accepts without acting on them. */
const IGNORED_PARAMS = new Set([
  'fallback_application_name',
  'options',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'client_encoding',
  'load_balance_hosts',
  'sslcompression',
  'sslsni',
  'sslcrl',
  'sslcrldir',
  'ssl_max_protocol_version',
  'gssencmode',
  'krbsrvname',
  'require_auth',
  'ssl',
  'uselibpqcompat',
]);

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);

/**
 * Reads a URL into a config layer. `label` names the source in messages
 * (`DATABASE_URL` or `url`). The URL itself never appears in an error, since
 * it may hold a password.
 */
export function parseDatabaseUrl(url: string, label: string): ConfigLayer {
  const layer = emptyLayer(label);
  const invalid = (why: string): ConfigError =>
    new ConfigError('PGW_CONFIG_URL_INVALID', `${label} is not a valid PostgreSQL URL: ${why}.`, {
      option: label,
      fix: 'Use postgresql://user:password@host:5432/database?sslmode=verify-full (percent-encode special characters in the password).',
    });

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim());
  if (!scheme) throw invalid('it does not start with postgresql://');
  if (!['postgres', 'postgresql'].includes(scheme[1]!.toLowerCase())) {
    throw invalid(`the scheme "${scheme[1]}" is not postgres or postgresql`);
  }
  // libpq multi-host form: postgresql://u:p@h1:5432,h2:5433/db. WHATWG URL
  // cannot parse it, so the host list is cut out and parsed here.
  let text = url.trim();
  const multi = /^([a-z]+:\/\/(?:[^@/?#]*@)?)([^/?#]*,[^/?#]*)(.*)$/i.exec(text);
  let hostList: { hosts: string[]; ports: string[] } | undefined;
  if (multi) {
    const entries = multi[2]!.split(',');
    const hosts: string[] = [];
    const ports: string[] = [];
    for (const entry of entries) {
      const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(entry);
      if (!m || m[1] === '') throw invalid('a host in the host list is malformed');
      hosts.push(m[1]!.replace(/^\[|\]$/g, ''));
      ports.push(m[2] ?? '');
    }
    hostList = { hosts, ports };
    text = `${multi[1]}${hosts[0]!.includes(':') ? `[${hosts[0]}]` : hosts[0]}${multi[3]}`;
  }

  let parsed: URL;
  try {
    // postgres: is not a WHATWG "special" scheme, so no default port is
    // stripped and an empty host (unix socket via ?host=) stays empty.
    parsed = new URL(text);
  } catch {
    throw invalid('the host, port or percent-encoding is malformed');
  }

  const decode = (value: string, part: string): string => {
    try {
      return decodeURIComponent(value);
    } catch {
      throw invalid(`the ${part} has a malformed percent-encoding`);
    }
  };

  if (parsed.hostname !== '') {
    const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    setValue(layer, 'host', decode(host, 'host'), `${label} host`);
  }
  if (parsed.port !== '') setValue(layer, 'port', parsed.port, `${label} port`);
  if (hostList) {
    setValue(layer, 'host', hostList.hosts.join(','), `${label} host`);
    if (hostList.ports.some((p) => p !== ''))
      setValue(layer, 'port', hostList.ports.join(','), `${label} port`);
  }
  if (parsed.username) setValue(layer, 'user', decode(parsed.username, 'user name'), `${label} user`);
  if (parsed.password) setValue(layer, 'password', decode(parsed.password, 'password'), `${label} password`);
  const path = parsed.pathname.replace(/^\//, '');
  if (path) setValue(layer, 'database', decode(path, 'database name'), `${label} database`);

  for (const [name, value] of parsed.searchParams) {
    const key = PARAMS[name];
    if (key) {
      const converted = key === 'connectionTimeoutMs' ? secondsToMs(value) : value;
      setValue(layer, key, converted, `${label} ?${name}`);
    } else if (name === 'ssl') {
      // node-postgres style ?ssl=true: TLS with verification, as pg does.
      if (TRUE_WORDS.has(value.toLowerCase()) && layer.values.sslMode === undefined) {
        setValue(layer, 'sslMode', 'verify-full', `${label} ?ssl`);
      }
    } else if (!IGNORED_PARAMS.has(name)) {
      const guess = closestName(name, [...Object.keys(PARAMS), ...IGNORED_PARAMS]);
      layer.warnings.push({
        code: 'PGW_CONFIG_UNKNOWN_KEY',
        option: `${label} ?${name}`,
        message: `${label} has an unknown parameter "${name}"${guess ? `; did you mean "${guess}"?` : '.'}`,
      });
    }
  }
  return layer;
}
