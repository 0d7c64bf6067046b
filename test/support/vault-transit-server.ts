/**
 * An in-process stand-in for HashiCorp Vault's transit secrets engine, for
 * tests only (neither Vault nor OpenBao can be installed here). Paths,
 * methods, status codes and JSON shapes follow Vault's HTTP API, so a client
 * written against Vault runs unmodified against it. The kv, lease and
 * database stand-in is test/support/vault-server.ts; this one is separate
 * so the backup tests do not depend on it.
 *
 * Implemented:
 * - `X-Vault-Token` on every path: missing or unknown gives 403
 *   `{"errors":["permission denied"]}`; a token may be limited to key names;
 * - `POST /v1/<mount>/keys/<name>` (create, aes256-gcm96),
 *   `POST /v1/<mount>/keys/<name>/rotate`;
 * - `POST /v1/<mount>/datakey/plaintext/<name>` (`bits` 128/256/512,
 *   default 256) and `/datakey/wrapped/<name>`: `data.ciphertext`
 *   (`vault:v<version>:<base64>`), `data.key_version`, and for plaintext
 *   `data.plaintext` (base64);
 * - `POST /v1/<mount>/decrypt/<name>` with `ciphertext`: `data.plaintext`
 *   (base64). A ciphertext made under another key or altered gives 400
 *   `{"errors":["cipher: message authentication failed"]}`, a malformed one
 *   400 `invalid ciphertext: …`, an unknown key 400
 *   `{"errors":["encryption key not found"]}`, a version above the latest
 *   400 `invalid ciphertext: … version`;
 * - ciphertext as Vault's aes256-gcm96: base64(nonce(12) || ct || tag(16));
 * - a `sealed` switch (503 `{"errors":["Vault is sealed"]}`), and
 *   `X-Vault-Namespace` recorded per request;
 * - optional TLS.
 *
 * Not implemented: convergent encryption, derived keys and `context`,
 * other key types, encrypt/rewrap/sign/hmac endpoints, key configuration
 * (min_decryption_version, deletion_allowed), batch input, policies beyond
 * the per-token key allow-list, namespace isolation.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackHttpServer } from './loopback-http.js';

export interface VaultTransitServerOptions {
  /** Mount path of the engine. Default `transit`. */
  mount?: string;
  /** Serve HTTPS with this key and certificate. Default plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface RecordedVaultRequest {
  method: string;
  path: string;
  namespace: string | undefined;
  tokenAccepted: boolean;
}

interface TransitKey {
  versions: Buffer[];
}

class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

export class VaultTransitServer {
  /** Every path then answers 503 "Vault is sealed". */
  sealed = false;
  readonly requests: RecordedVaultRequest[] = [];
  readonly mount: string;
  readonly #keys = new Map<string, TransitKey>();
  /** token → allowed key names (undefined: all). */
  readonly #tokens = new Map<string, readonly string[] | undefined>();
  #http!: LoopbackHttpServer;
  #address = '';

  private constructor(options: VaultTransitServerOptions) {
    this.mount = (options.mount ?? 'transit').replace(/^\/+|\/+$/g, '');
  }

  static async start(options: VaultTransitServerOptions = {}): Promise<VaultTransitServer> {
    const server = new VaultTransitServer(options);
    server.#http = await LoopbackHttpServer.start((req, res) => void server.#handle(req, res), options.tls);
    const scheme = options.tls ? 'https' : 'http';
    const { port } = server.#http;
    // With TLS the test certificate names localhost, not the IP.
    server.#address = `${scheme}://${options.tls ? 'localhost' : '127.0.0.1'}:${port}`;
    return server;
  }

  /** VAULT_ADDR for this server. */
  get address(): string {
    return this.#address;
  }

  /** Issues a token, optionally limited to some key names; returns it. */
  createToken(allowedKeys?: readonly string[]): string {
    const token = `hvs.${randomBytes(18).toString('base64url')}`;
    this.#tokens.set(token, allowedKeys);
    return token;
  }

  revokeToken(token: string): void {
    this.#tokens.delete(token);
  }

  /** Creates an aes256-gcm96 key (as `vault write -f transit/keys/<name>`). */
  createKey(name: string): void {
    if (!this.#keys.has(name)) this.#keys.set(name, { versions: [randomBytes(32)] });
  }

  /** Adds a key version; old ciphertexts still decrypt. */
  rotateKey(name: string): number {
    const key = this.#keys.get(name);
    if (!key) throw new Error(`no key ${name}`);
    key.versions.push(randomBytes(32));
    return key.versions.length;
  }

  count(pathPart: string): number {
    return this.requests.filter((r) => r.path.includes(pathPart)).length;
  }

  async stop(): Promise<void> {
    await this.#http.stop();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://vault').pathname;
    const token = header(req, 'x-vault-token');
    const allowed = token === undefined ? undefined : this.#tokens.get(token);
    const tokenAccepted = token !== undefined && this.#tokens.has(token);
    this.requests.push({
      method: req.method ?? '',
      path,
      namespace: header(req, 'x-vault-namespace'),
      tokenAccepted,
    });
    try {
      if (this.sealed) throw new VaultHttpError(503, ['Vault is sealed']);
      if (!tokenAccepted) throw new VaultHttpError(403, ['permission denied']);
      let body: Record<string, unknown> = {};
      if (chunks.length > 0) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          throw new VaultHttpError(400, ['failed to parse JSON input']);
        }
      }
      const prefix = `/v1/${this.mount}/`;
      if (req.method !== 'POST' && req.method !== 'PUT')
        throw new VaultHttpError(405, ['unsupported operation']);
      if (!path.startsWith(prefix))
        throw new VaultHttpError(404, [`no handler for route "${path.slice(4)}". route entry not found.`]);
      const route = path.slice(prefix.length).split('/');
      const name = route[route.length - 1] ?? '';
      const keyName = route[0] === 'keys' ? route[1] : name;
      if (allowed && keyName && !allowed.includes(keyName))
        throw new VaultHttpError(403, ['permission denied']);
      sendJson(res, 200, this.#route(route, body));
    } catch (error) {
      const e = error instanceof VaultHttpError ? error : new VaultHttpError(500, [String(error)]);
      sendJson(res, e.status, { errors: e.errors });
    }
  }

  #route(route: string[], body: Record<string, unknown>): unknown {
    const [action, a, b] = route;
    if (action === 'keys' && a && route.length === 2) {
      this.createKey(a);
      return envelope(null);
    }
    if (action === 'keys' && a && b === 'rotate' && route.length === 3) {
      if (!this.#keys.has(a)) throw new VaultHttpError(400, ['encryption key not found']);
      return envelope({ latest_version: this.rotateKey(a) });
    }
    if (action === 'datakey' && (a === 'plaintext' || a === 'wrapped') && b && route.length === 3) {
      const key = this.#key(b);
      const bits = body.bits === undefined ? 256 : Number(body.bits);
      if (![128, 256, 512].includes(bits)) throw new VaultHttpError(400, ['invalid bit length']);
      const plaintext = randomBytes(bits / 8);
      const ciphertext = this.#encrypt(key, plaintext);
      return envelope({
        ciphertext,
        key_version: key.versions.length,
        ...(a === 'plaintext' ? { plaintext: plaintext.toString('base64') } : {}),
      });
    }
    if (action === 'decrypt' && a && route.length === 2) {
      const key = this.#key(a);
      if (typeof body.ciphertext !== 'string')
        throw new VaultHttpError(400, ['missing ciphertext to decrypt']);
      return envelope({ plaintext: this.#decrypt(key, body.ciphertext).toString('base64') });
    }
    throw new VaultHttpError(404, [
      `no handler for route "${this.mount}/${route.join('/')}". route entry not found.`,
    ]);
  }

  #key(name: string): TransitKey {
    const key = this.#keys.get(name);
    if (!key) throw new VaultHttpError(400, ['encryption key not found']);
    return key;
  }

  #encrypt(key: TransitKey, plaintext: Buffer): string {
    const version = key.versions.length;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.versions[version - 1]!, nonce);
    const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `vault:v${version}:${sealed.toString('base64')}`;
  }

  #decrypt(key: TransitKey, ciphertext: string): Buffer {
    const match = /^vault:v(\d+):([A-Za-z0-9+/=]+)$/.exec(ciphertext);
    if (!match) throw new VaultHttpError(400, ['invalid ciphertext: no prefix']);
    const version = Number(match[1]);
    const material = key.versions[version - 1];
    if (!material || version < 1) throw new VaultHttpError(400, ['invalid ciphertext: invalid key version']);
    const raw = Buffer.from(match[2]!, 'base64');
    if (raw.length < 12 + 16) throw new VaultHttpError(400, ['invalid ciphertext: unable to decrypt']);
    const decipher = createDecipheriv('aes-256-gcm', material, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch {
      throw new VaultHttpError(400, ['cipher: message authentication failed']);
    }
  }
}

function envelope(data: unknown): unknown {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
