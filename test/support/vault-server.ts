/**
 * An in-process stand-in for HashiCorp Vault, for tests only: neither Vault
 * nor OpenBao can be installed here. Paths, methods, status codes and JSON
 * shapes follow Vault's HTTP API (`/v1/…`, `{"errors": [...]}` bodies), so
 * the pgwarden Vault client runs unmodified against it.
 *
 * Implemented:
 * - `X-Vault-Token` on every authenticated path; a missing, unknown,
 *   expired or revoked token gets 403 `{"errors":["permission denied"]}`;
 *   tokens carry a TTL, a max TTL and a renewable flag, and an optional
 *   allow-list of path prefixes standing in for policies (a denied path also
 *   answers 403 "permission denied", as Vault does);
 * - `auth/token/lookup-self`, `renew-self` (TTL capped at the max TTL),
 *   `revoke-self`;
 * - AppRole login (`auth/<mount>/login` with role_id/secret_id) and
 *   Kubernetes login (`auth/<mount>/login` with role/jwt, checked against a
 *   configured JWT);
 * - KV v2: read (`?version=`), write, soft delete at `<mount>/data/<path>`,
 *   with `data.data` and `data.metadata.version`;
 * - the database secrets engine: `<mount>/creds/<role>` runs the role's
 *   creation statements on a REAL PostgreSQL through a callback
 *   (`{{name}}`, `{{password}}`, `{{expiration}}` templates, as Vault's
 *   postgres plugin), renewal runs `ALTER ROLE … VALID UNTIL`, and
 *   revocation (explicit, or when the lease expires) terminates the role's
 *   sessions and drops it; TTL and max TTL in seconds so tests run fast;
 *   `sys/leases/renew` grants min(increment, time left to max TTL) with
 *   Vault's capping warning, and refuses non-renewable leases;
 * - `sys/seal-status`, `sys/health`, and a `sealed` switch: every other path
 *   then answers 503 `{"errors":["Vault is sealed"]}`;
 * - `X-Vault-Namespace` recorded per request (see `requests`);
 * - optional TLS (`tls: { key, cert }`).
 *
 * Not implemented: real policies (HCL, capabilities, templating), namespace
 * isolation (the header is only recorded), token accessors/orphans/periodic
 * tokens, response wrapping, KV v1, KV metadata endpoints and check-and-set,
 * static database roles, root credential rotation, leases of other engines,
 * `sys/leases/lookup`, lease revocation on token revocation, HA standby
 * redirects, audit devices, rate limits, replication.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpServer } from './loopback-http.js';

/** Runs SQL as a superuser on the PostgreSQL the database engine manages. */
export type VaultSqlExecutor = (sql: string) => Promise<unknown>;

/** A dynamic role of the database secrets engine. */
export interface VaultDatabaseRole {
  /** Lease TTL in seconds (Vault's default_ttl). */
  ttlSeconds: number;
  /** Lease max TTL in seconds; renewals never go past creation + this. */
  maxTtlSeconds: number;
  /**
   * Run at creation; `{{name}}`, `{{password}}`, `{{expiration}}` are
   * replaced. Default: `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`.
   */
  creationStatements?: readonly string[];
  /** Extra statements after creation, e.g. `GRANT SELECT ON t TO "{{name}}"`. Default: none. */
  grantStatements?: readonly string[];
  /** Default: terminate the role's sessions, `DROP OWNED BY`, `DROP ROLE`. */
  revocationStatements?: readonly string[];
  /** Whether leases may be renewed. Default: true. */
  renewable?: boolean;
}

export interface VaultServerOptions {
  /** Serve HTTPS with this key and certificate. Default: plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** KV v2 mounts. Default: `['secret']`. */
  kvMounts?: readonly string[];
  /** The database secrets engine. Default: not mounted. */
  database?: {
    mount?: string;
    roles: Record<string, VaultDatabaseRole>;
    execute: VaultSqlExecutor;
    /** Generates role passwords. Default: Vault-like 20 random characters. */
    password?: () => string;
  };
  /** AppRole roles by role_id. Default: none. Mount: `approle`. */
  appRoles?: Record<string, { secretId: string } & TokenOptions>;
  /** Kubernetes roles by name with the JWT they accept. Default: none. Mount: `kubernetes`. */
  kubernetesRoles?: Record<string, { jwt: string } & TokenOptions>;
}

/** How a token behaves. */
export interface TokenOptions {
  /** Seconds; 0 = never expires (like a root token). Default: 3600. */
  ttlSeconds?: number;
  /** Seconds from creation that renewals cannot pass. Default: 10 × ttl. */
  maxTtlSeconds?: number;
  /** Default: true (false for a TTL of 0). */
  renewable?: boolean;
  /** Path prefixes (without `/v1/`) the token may use besides auth/token/*-self. Default: every path. */
  allow?: readonly string[];
}

/** One request as the server saw it. */
export interface RecordedVaultRequest {
  method: string;
  /** Without `/v1/` and query. */
  path: string;
  namespace: string | undefined;
  hadToken: boolean;
}

interface TokenState {
  id: string;
  accessor: string;
  createdAt: number;
  /** 0 = never. */
  expiresAt: number;
  maxEnd: number;
  ttlSeconds: number;
  renewable: boolean;
  allow: readonly string[] | undefined;
  revoked: boolean;
}

interface KvEntry {
  versions: Array<{ data: Record<string, unknown> | null; created: string; deleted: string }>;
}

interface LeaseState {
  id: string;
  role: string;
  username: string;
  createdAt: number;
  expiresAt: number;
  maxEnd: number;
  renewable: boolean;
  timer: NodeJS.Timeout | undefined;
  revoked: boolean;
}

class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly string[],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(errors.join('; '));
  }
}

const DENIED = () => new VaultError(403, ['permission denied']);

export class VaultServer {
  /** While true, everything but sys/seal-status and sys/health answers 503 "Vault is sealed". */
  sealed = false;
  readonly requests: RecordedVaultRequest[] = [];
  /** Every lease ever created, by id; `revoked` tells which are gone. */
  readonly leases = new Map<string, LeaseState>();
  readonly #options: VaultServerOptions;
  #http!: LoopbackHttpServer;
  readonly #tokens = new Map<string, TokenState>();
  readonly #kv = new Map<string, KvEntry>();
  #stopping = false;
  /** Revocations in flight, awaited by stop() and revokeAllLeases(). */
  readonly #pending = new Set<Promise<unknown>>();
  #address = '';

  private constructor(options: VaultServerOptions) {
    this.#options = options;
  }

  static async start(options: VaultServerOptions = {}): Promise<VaultServer> {
    const server = new VaultServer(options);
    server.#http = await LoopbackHttpServer.start((req, res) => void server.#handle(req, res), options.tls);
    const { port } = server.#http;
    server.#address = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return server;
  }

  /** The value for VAULT_ADDR. */
  get address(): string {
    return this.#address;
  }

  /** Requests to paths starting with `prefix` (without `/v1/`). */
  count(prefix = ''): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  /** Creates a token (as `vault token create` would) and returns it. */
  createToken(options: TokenOptions = {}): string {
    return this.#issueToken(options).id;
  }

  /** Revokes a token, as `vault token revoke` would. */
  revokeToken(token: string): void {
    const state = this.#tokens.get(token);
    if (state) state.revoked = true;
  }

  /** Writes a KV v2 secret (as `vault kv put`); returns the new version. */
  writeKv(mount: string, path: string, data: Record<string, unknown>): number {
    const key = `${mount}/${path}`;
    const entry = this.#kv.get(key) ?? { versions: [] };
    entry.versions.push({ data: { ...data }, created: new Date().toISOString(), deleted: '' });
    this.#kv.set(key, entry);
    return entry.versions.length;
  }

  /** Leases not revoked yet. */
  activeLeases(): LeaseState[] {
    return [...this.leases.values()].filter((l) => !l.revoked);
  }

  /** Revokes every active lease (drops the roles), for test cleanup. */
  async revokeAllLeases(): Promise<void> {
    await Promise.all(this.activeLeases().map((l) => this.#revokeLease(l)));
    await Promise.allSettled([...this.#pending]);
  }

  /** Closes the listener and open connections; lease timers stop, roles are not dropped. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const lease of this.leases.values()) clearTimeout(lease.timer);
    await Promise.allSettled([...this.#pending]);
    await this.#http.stop();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault');
    const method = req.method ?? 'GET';
    const token = headerValue(req, 'x-vault-token');
    const path = url.pathname.startsWith('/v1/') ? url.pathname.slice(4) : url.pathname;
    this.requests.push({
      method,
      path,
      namespace: headerValue(req, 'x-vault-namespace'),
      hadToken: token !== undefined,
    });
    try {
      const raw = await readBody(req);
      let body: Record<string, unknown> = {};
      if (raw !== '') {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          throw new VaultError(400, ['failed to parse JSON input: invalid character']);
        }
      }
      if (!url.pathname.startsWith('/v1/')) throw new VaultError(404, []);
      const result = await this.#route(method, path, url.searchParams, body, token);
      if (result === undefined) {
        res.writeHead(204).end();
      } else {
        sendJson(res, 200, result);
      }
    } catch (error) {
      const e =
        error instanceof VaultError ? error : new VaultError(500, [`internal error: ${String(error)}`]);
      sendJson(res, e.status, { errors: e.errors, ...e.extra });
    }
  }

  async #route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    tokenId: string | undefined,
  ): Promise<unknown> {
    if (path === 'sys/seal-status') return this.#sealStatus();
    if (path === 'sys/health') {
      if (this.sealed) throw new VaultError(503, [], { ...this.#sealStatus() });
      return { initialized: true, sealed: false, standby: false, version: '1.15.0+pgwarden-test' };
    }
    if (this.sealed) throw new VaultError(503, ['Vault is sealed']);

    const login = /^auth\/([^/]+)\/login$/.exec(path);
    if (login && isWrite(method)) return this.#login(login[1] as string, body);

    const token = this.#liveToken(tokenId);
    if (path === 'auth/token/lookup-self') return this.#lookupSelf(token);
    if (path === 'auth/token/renew-self' && isWrite(method)) return this.#renewSelf(token, body);
    if (path === 'auth/token/revoke-self' && isWrite(method)) {
      token.revoked = true;
      return undefined;
    }
    if (token.allow && !token.allow.some((prefix) => path.startsWith(prefix))) throw DENIED();

    if (path === 'sys/leases/renew' && isWrite(method)) return this.#renewLease(body);
    if (path === 'sys/leases/revoke' && isWrite(method)) {
      const lease = this.leases.get(String(body.lease_id ?? ''));
      if (lease && !lease.revoked) await this.#revokeLease(lease);
      return undefined;
    }

    for (const mount of this.#options.kvMounts ?? ['secret']) {
      if (path.startsWith(`${mount}/data/`)) {
        const secretPath = decodeURIComponent(path.slice(`${mount}/data/`.length));
        return this.#kvRequest(method, `${mount}/${secretPath}`, query, body);
      }
    }
    const db = this.#options.database;
    const dbMount = db?.mount ?? 'database';
    if (db && path.startsWith(`${dbMount}/creds/`) && method === 'GET') {
      return this.#createCredentials(decodeURIComponent(path.slice(`${dbMount}/creds/`.length)));
    }
    throw new VaultError(404, [`no handler for route "${path}". route entry not found.`]);
  }

  #sealStatus() {
    return {
      type: 'shamir',
      initialized: true,
      sealed: this.sealed,
      t: 1,
      n: 1,
      progress: 0,
      version: '1.15.0+pgwarden-test',
    };
  }

  #issueToken(options: TokenOptions): TokenState {
    const now = Date.now();
    const ttl = options.ttlSeconds ?? 3600;
    const state: TokenState = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      createdAt: now,
      expiresAt: ttl === 0 ? 0 : now + ttl * 1000,
      maxEnd: ttl === 0 ? 0 : now + (options.maxTtlSeconds ?? ttl * 10) * 1000,
      ttlSeconds: ttl,
      renewable: options.renewable ?? ttl !== 0,
      allow: options.allow,
      revoked: false,
    };
    this.#tokens.set(state.id, state);
    return state;
  }

  #liveToken(tokenId: string | undefined): TokenState {
    const token = tokenId === undefined ? undefined : this.#tokens.get(tokenId);
    if (!token || token.revoked || (token.expiresAt !== 0 && Date.now() >= token.expiresAt)) throw DENIED();
    return token;
  }

  #authBlock(token: TokenState) {
    return {
      client_token: token.id,
      accessor: token.accessor,
      policies: ['default'],
      token_policies: ['default'],
      metadata: null,
      lease_duration: remainingSeconds(token.expiresAt),
      renewable: token.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
    };
  }

  #login(mount: string, body: Record<string, unknown>): unknown {
    if (mount === 'approle') {
      const role = this.#options.appRoles?.[String(body.role_id ?? '')];
      if (!role || role.secretId !== body.secret_id) throw new VaultError(400, ['invalid role or secret ID']);
      return envelope({ auth: this.#authBlock(this.#issueToken(role)) });
    }
    if (mount === 'kubernetes') {
      const name = String(body.role ?? '');
      const role = this.#options.kubernetesRoles?.[name];
      if (!role) throw new VaultError(400, [`invalid role name "${name}"`]);
      if (role.jwt !== body.jwt) throw new VaultError(403, ['permission denied']);
      return envelope({ auth: this.#authBlock(this.#issueToken(role)) });
    }
    throw new VaultError(404, [`no handler for route "auth/${mount}/login". route entry not found.`]);
  }

  #lookupSelf(token: TokenState): unknown {
    return envelope({
      data: {
        accessor: token.accessor,
        creation_time: Math.floor(token.createdAt / 1000),
        creation_ttl: token.ttlSeconds,
        display_name: 'token',
        expire_time: token.expiresAt === 0 ? null : new Date(token.expiresAt).toISOString(),
        explicit_max_ttl: 0,
        id: token.id,
        policies: ['default'],
        renewable: token.renewable,
        ttl: remainingSeconds(token.expiresAt),
        type: 'service',
      },
    });
  }

  #renewSelf(token: TokenState, body: Record<string, unknown>): unknown {
    if (!token.renewable || token.expiresAt === 0) throw new VaultError(400, ['lease is not renewable']);
    const now = Date.now();
    const asked = parseDuration(body.increment) ?? token.ttlSeconds;
    const granted = Math.max(0, Math.min(asked * 1000, token.maxEnd - now));
    token.expiresAt = now + granted;
    return envelope(
      { auth: this.#authBlock(token) },
      granted < asked * 1000 ? [cappedWarning(asked, token.maxEnd - now)] : null,
    );
  }

  #kvRequest(method: string, key: string, query: URLSearchParams, body: Record<string, unknown>): unknown {
    const entry = this.#kv.get(key);
    if (method === 'GET') {
      if (!entry || entry.versions.length === 0) throw new VaultError(404, []);
      const asked = query.get('version');
      const number = asked === null || asked === '0' ? entry.versions.length : Number(asked);
      const version = entry.versions[number - 1];
      if (!version) throw new VaultError(404, []);
      const metadata = {
        created_time: version.created,
        custom_metadata: null,
        deletion_time: version.deleted,
        destroyed: false,
        version: number,
      };
      // A deleted version answers 404 with the metadata, as Vault does.
      if (version.data === null) throw new VaultError(404, [], { data: { data: null, metadata } });
      return envelope({ data: { data: version.data, metadata } });
    }
    if (method === 'POST' || method === 'PUT') {
      const data = body.data;
      if (data === null || typeof data !== 'object') throw new VaultError(400, ['no data provided']);
      const [mount, ...rest] = key.split('/');
      const version = this.writeKv(mount as string, rest.join('/'), data as Record<string, unknown>);
      return envelope({
        data: { created_time: new Date().toISOString(), deletion_time: '', destroyed: false, version },
      });
    }
    if (method === 'DELETE') {
      const last = entry?.versions.at(-1);
      if (last) {
        last.data = null;
        last.deleted = new Date().toISOString();
      }
      return undefined;
    }
    throw new VaultError(405, ['unsupported operation']);
  }

  async #createCredentials(roleName: string): Promise<unknown> {
    const db = this.#options.database;
    const role = db?.roles[roleName];
    if (!db || !role) throw new VaultError(400, [`unknown role: ${roleName}`]);
    const now = Date.now();
    const username = `v-${roleName}-${randomBytes(6).toString('hex')}-${Math.floor(now / 1000)}`.slice(0, 63);
    const password = db.password
      ? db.password()
      : `A1a-${randomBytes(15).toString('base64url').slice(0, 16)}`;
    const expiresAt = now + role.ttlSeconds * 1000;
    const statements = [
      ...(role.creationStatements ?? [
        `CREATE ROLE "{{name}}" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
      ]),
      ...(role.grantStatements ?? []),
    ];
    for (const statement of statements) {
      await db.execute(fill(statement, { name: username, password, expiration: pgTimestamp(expiresAt) }));
    }
    const lease: LeaseState = {
      id: `${db.mount ?? 'database'}/creds/${roleName}/${randomBytes(12).toString('base64url')}`,
      role: roleName,
      username,
      createdAt: now,
      expiresAt,
      maxEnd: now + role.maxTtlSeconds * 1000,
      renewable: role.renewable ?? true,
      timer: undefined,
      revoked: false,
    };
    this.leases.set(lease.id, lease);
    this.#armExpiry(lease);
    return {
      ...envelope({ data: { username, password } }),
      lease_id: lease.id,
      lease_duration: role.ttlSeconds,
      renewable: lease.renewable,
    };
  }

  async #renewLease(body: Record<string, unknown>): Promise<unknown> {
    const lease = this.leases.get(String(body.lease_id ?? ''));
    const now = Date.now();
    if (!lease || lease.revoked || now >= lease.expiresAt) throw new VaultError(400, ['lease not found']);
    if (!lease.renewable) throw new VaultError(400, ['lease is not renewable']);
    const role = this.#options.database?.roles[lease.role];
    const asked = parseDuration(body.increment) ?? role?.ttlSeconds ?? 0;
    const grantedMs = Math.max(0, Math.min(asked * 1000, lease.maxEnd - now));
    lease.expiresAt = now + grantedMs;
    this.#armExpiry(lease);
    await this.#options.database?.execute(
      `ALTER ROLE "${lease.username}" VALID UNTIL '${pgTimestamp(lease.expiresAt)}'`,
    );
    const granted = Math.floor(grantedMs / 1000);
    return {
      ...envelope({ data: null }, granted < asked ? [cappedWarning(asked, lease.maxEnd - now)] : null),
      lease_id: lease.id,
      renewable: true,
      lease_duration: granted,
    };
  }

  #armExpiry(lease: LeaseState): void {
    clearTimeout(lease.timer);
    lease.timer = setTimeout(
      () => void this.#revokeLease(lease).catch(() => undefined),
      lease.expiresAt - Date.now(),
    );
    lease.timer.unref();
  }

  async #revokeLease(lease: LeaseState): Promise<void> {
    if (lease.revoked) return;
    lease.revoked = true;
    clearTimeout(lease.timer);
    const db = this.#options.database;
    if (!db) return;
    const role = db.roles[lease.role];
    const name = lease.username;
    const statements = role?.revocationStatements ?? [
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}'`,
      `DO $pgw$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{{name}}') THEN EXECUTE 'DROP OWNED BY "{{name}}"'; EXECUTE 'DROP ROLE "{{name}}"'; END IF; END $pgw$`,
    ];
    const work = (async () => {
      for (const statement of statements)
        await db.execute(fill(statement, { name, password: '', expiration: '' }));
    })();
    this.#pending.add(work);
    try {
      await work;
    } catch (error) {
      // Like Vault: a failed revocation leaves the lease in place and is retried
      // (Vault's expiration manager backs off; one second is enough here), and the
      // caller gets a 400 naming the failure.
      lease.revoked = false;
      if (!this.#stopping)
        lease.timer = setTimeout(() => void this.#revokeLease(lease).catch(() => undefined), 1_000);
      lease.timer?.unref();
      throw new VaultError(400, [`failed to revoke lease: ${(error as Error).message}`]);
    } finally {
      this.#pending.delete(work);
    }
  }
}

function envelope(
  fields: Record<string, unknown>,
  warnings: string[] | null = null,
): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings,
    auth: null,
    ...fields,
  };
}

function cappedWarning(askedSeconds: number, leftMs: number): string {
  return `TTL of "${askedSeconds}s" exceeded the effective max_ttl of "${Math.max(0, Math.floor(leftMs / 1000))}s"; TTL value is capped accordingly`;
}

function remainingSeconds(expiresAt: number): number {
  return expiresAt === 0 ? 0 : Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
}

/** Vault accepts an increment as seconds or a Go duration ("30s", "5m", "1h"). */
function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string' || value === '') return undefined;
  const match = /^(\d+)(s|m|h)?$/.exec(value);
  if (!match) return undefined;
  const n = Number(match[1]);
  return match[2] === 'h' ? n * 3600 : match[2] === 'm' ? n * 60 : n;
}

function pgTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '+00');
}

function fill(template: string, values: { name: string; password: string; expiration: string }): string {
  return template
    .replaceAll('{{name}}', values.name)
    .replaceAll('{{password}}', values.password.replaceAll("'", "''"))
    .replaceAll('{{expiration}}', values.expiration);
}

function isWrite(method: string): boolean {
  return method === 'POST' || method === 'PUT';
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
