import { readFile } from 'node:fs/promises';
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import type { SecretError } from '../errors.js';
import type { Secret } from '../redact/secret.js';
import { httpModule, httpsModule } from '../net/http-modules.js';
import { requireSecureEndpoint } from '../net/secure-endpoint.js';
import { abortedError, backendError } from './backend-error.js';

/** Vault answers are small JSON documents; anything bigger is not Vault. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** How to reach Vault. */
export interface VaultClientSettings {
  /** `VAULT_ADDR`, e.g. `https://vault.example.com:8200`. Required. */
  address: string;
  /** Vault Enterprise / HCP namespace, sent as `X-Vault-Namespace` (`VAULT_NAMESPACE`). Default: none. */
  namespace?: string | undefined;
  /** PEM of the CA that signed Vault's certificate. Default: Node's trusted roots. */
  caCert?: string | Buffer | undefined;
  /** A file holding that PEM (`VAULT_CACERT`), read on first use. Default: none. */
  caCertFile?: string | undefined;
  /** Per-request timeout. Default: 10 000 ms. */
  timeoutMs?: number | undefined;
}

/** A non-2xx answer other than the ones the client maps itself (sealed, 5xx). */
export class VaultHttpError extends Error {
  readonly status: number;
  /** Vault's `errors` array; Vault puts reasons there, not secrets. */
  readonly errors: readonly string[];
  constructor(status: number, errors: readonly string[], method: string, path: string) {
    super(
      `Vault answered ${status} to ${method} ${path}${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`,
    );
    this.name = 'VaultHttpError';
    this.status = status;
    this.errors = errors;
  }

  /** True when any error text matches. */
  says(pattern: RegExp): boolean {
    return this.errors.some((e) => pattern.test(e));
  }
}

/** Options of one request. */
export interface VaultRequestOptions {
  token?: Secret | undefined;
  body?: unknown;
  signal?: AbortSignal | undefined;
}

/**
 * A minimal Vault HTTP API client over node:http/node:https: JSON in, JSON
 * out, `X-Vault-Token` and `X-Vault-Namespace` headers, a CA option for TLS.
 * HashiCorp ships no maintained Node client, and the API subset needed here
 * is a handful of endpoints.
 *
 * It maps what is the same for every endpoint (unreachable, TLS failure,
 * sealed, 5xx) to coded errors and leaves 4xx to callers as
 * {@link VaultHttpError}, because a 403 or 404 means different things on
 * different paths. Redirects (a standby node's 307) are not followed, so the
 * token is never sent to a host other than VAULT_ADDR.
 */
export class VaultClient {
  readonly address: URL;
  readonly #settings: VaultClientSettings;
  readonly #backend: string;
  #agent: Promise<HttpAgent> | undefined;

  constructor(settings: VaultClientSettings, backend: string) {
    this.#backend = backend;
    this.#settings = Object.freeze({ ...settings });
    // One rule for every endpoint that carries a secret: https, or plain http on loopback only.
    const url = requireSecureEndpoint(
      settings.address,
      { option: 'VAULT_ADDR', service: 'Vault' },
      (problem) =>
        backendError('PGW_SECRET_CONFIG', backend, problem.message, {
          option: 'VAULT_ADDR',
          fix:
            problem.kind === 'credentials'
              ? 'Remove the user:password@ part; authenticate with VAULT_TOKEN, AppRole or Kubernetes.'
              : 'Set VAULT_ADDR to https://<host>:8200 (plain http only for a Vault on 127.0.0.1, ::1 or localhost).',
        }),
    );
    this.address = url;
  }

  /** True when Vault is reached over TLS. */
  get tls(): boolean {
    return this.address.protocol === 'https:';
  }

  get namespace(): string | undefined {
    return this.#settings.namespace;
  }

  /**
   * Sends one request to `/v1/<path>` and returns the parsed JSON body
   * (undefined for 204). Throws `SecretError` for transport failures, a
   * sealed Vault and 5xx, {@link VaultHttpError} for other non-2xx answers.
   */
  async request(method: string, path: string, options: VaultRequestOptions = {}): Promise<unknown> {
    const { signal } = options;
    if (signal?.aborted) throw abortedError(this.#backend, signal);
    const agent = await this.#getAgent();
    const url = new URL(
      `${this.address.pathname.replace(/\/$/, '')}/v1/${path.replace(/^\//, '')}`,
      this.address,
    );
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    if (options.token) headers['X-Vault-Token'] = options.token.reveal();
    if (this.#settings.namespace) headers['X-Vault-Namespace'] = this.#settings.namespace;
    // Vault rejects requests without it on some endpoints in newer versions; harmless elsewhere.
    headers['X-Vault-Request'] = 'true';

    const timeout = AbortSignal.timeout(this.#settings.timeoutMs ?? 10_000);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const send = this.tls ? httpsModule().request : httpModule().request;

    const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(url, { method, headers, agent, signal: combined }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error('response too large'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    }).catch((error: unknown) => {
      if (signal?.aborted) throw abortedError(this.#backend, signal);
      if (timeout.aborted) throw abortedError(this.#backend, timeout);
      throw this.#transportError(error);
    });

    const body = parseJson(response.text);
    const status = response.status;
    if (status >= 200 && status < 300) {
      if (status === 204 || response.text === '') return undefined;
      if (body === undefined) {
        throw backendError(
          'PGW_SECRET_BACKEND_UNAVAILABLE',
          this.#backend,
          `${method} /v1/${path} did not answer JSON.`,
          {
            option: 'VAULT_ADDR',
            fix: 'Check that VAULT_ADDR points at Vault itself, not at a proxy or login page.',
          },
        );
      }
      return body;
    }
    const errors = errorList(body);
    if (status === 503 && errors.some((e) => /sealed/i.test(e))) {
      throw backendError(
        'PGW_SECRET_VAULT_SEALED',
        this.#backend,
        `Vault at ${this.address.origin} is sealed.`,
        {
          option: 'VAULT_ADDR',
          fix: 'Unseal it (vault operator unseal, or check auto-unseal/KMS), or point VAULT_ADDR at an unsealed node.',
        },
      );
    }
    if (status >= 500 || status === 429 || status === 412) {
      throw backendError(
        'PGW_SECRET_BACKEND_UNAVAILABLE',
        this.#backend,
        `Vault answered ${status} to ${method} /v1/${path}${errors.length > 0 ? ` (${errors.join('; ')})` : ''}.`,
        {
          option: 'VAULT_ADDR',
          fix: 'Retry later; check the Vault server logs and its health (vault status).',
        },
      );
    }
    if (status >= 300 && status < 400) {
      throw backendError(
        'PGW_SECRET_CONFIG',
        this.#backend,
        `Vault redirected ${method} /v1/${path} (${status}).`,
        {
          option: 'VAULT_ADDR',
          fix: 'Point VAULT_ADDR at the active node or the load balancer; redirects are not followed so the token stays on one host.',
        },
      );
    }
    throw new VaultHttpError(status, errors, method, `/v1/${path}`);
  }

  /** Closes idle keep-alive connections. */
  async close(): Promise<void> {
    if (this.#agent) (await this.#agent.catch(() => undefined))?.destroy();
    this.#agent = undefined;
  }

  #getAgent(): Promise<HttpAgent> {
    this.#agent ??= (async () => {
      if (!this.tls) return new (httpModule().Agent)({ keepAlive: true });
      let ca = this.#settings.caCert;
      const file = this.#settings.caCertFile;
      if (ca === undefined && file !== undefined) {
        try {
          ca = await readFile(file);
        } catch (error) {
          throw backendError('PGW_SECRET_CONFIG', this.#backend, `VAULT_CACERT (${file}) cannot be read.`, {
            option: 'VAULT_CACERT',
            fix: 'Point VAULT_CACERT at the PEM file of the CA that signed the Vault certificate.',
            cause: error,
          });
        }
      }
      return new (httpsModule().Agent)({
        keepAlive: true,
        ...(ca === undefined ? {} : { ca }),
        minVersion: 'TLSv1.2',
      });
    })();
    // A failed CA read must be retried on the next call, not cached forever.
    this.#agent.catch(() => {
      this.#agent = undefined;
    });
    return this.#agent;
  }

  #transportError(error: unknown): SecretError {
    const code = (error as { code?: unknown } | null)?.code;
    const codeText = typeof code === 'string' ? code : undefined;
    if (codeText !== undefined && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME|ALTNAME/.test(codeText)) {
      return backendError(
        'PGW_SECRET_CONFIG',
        this.#backend,
        `the TLS certificate of Vault at ${this.address.origin} is not trusted (${codeText}).`,
        {
          option: 'VAULT_CACERT',
          fix: 'Set VAULT_CACERT to the PEM file of the CA that signed the Vault certificate; verification is never turned off.',
          cause: error,
        },
      );
    }
    return backendError(
      'PGW_SECRET_BACKEND_UNAVAILABLE',
      this.#backend,
      `Vault at ${this.address.origin} could not be reached (${codeText ?? 'network error'}).`,
      {
        option: 'VAULT_ADDR',
        fix: 'Check VAULT_ADDR, that Vault is running, and the network path to it.',
        cause: error,
      },
    );
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Vault's `{"errors": [...]}`, as strings, each cut short: an error is a reason, not a document. */
function errorList(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is string => typeof e === 'string')
    .map((e) => e.replace(/\s+/g, ' ').trim().slice(0, 300));
}
