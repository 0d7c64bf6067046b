/**
 * Vault's transit engine: `datakey/plaintext/<key>` makes each backup's data
 * key (Vault keeps the key-encryption key) and `decrypt/<key>` unwraps it.
 * Plain node:http(s), configured like the Vault CLI: VAULT_ADDR,
 * VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT.
 */
import { readFileSync } from 'node:fs';
import type { Env } from '../../config/env-source.js';
import { httpModule, httpsModule } from '../../net/http-modules.js';
import { Secret } from '../../redact/secret.js';
import { BackupError } from '../backup-error.js';
import { KEY_LENGTH } from '../format/constants.js';
import type { KeyWrap } from '../format/header.js';
import { checkServiceUrl } from './service-url.js';
import type { KeySource, WrappedDataKey } from './key-source.js';

export interface VaultTransitOptions {
  /** Transit key name for new backups. Reading uses the key named in the header unless this is set. */
  key?: string;
  /** Mount path of the transit engine. Default `transit` (or the header's, when reading). */
  mount?: string;
  /** Vault address. Default `VAULT_ADDR`. Must be https except on loopback. */
  addr?: string;
  /** Token. Default `VAULT_TOKEN`. */
  token?: Secret;
  /** Enterprise/HCP namespace. Default `VAULT_NAMESPACE`. */
  namespace?: string;
  /** CA bundle file for Vault's certificate. Default `VAULT_CACERT`, else the system store. */
  caCert?: string;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number;
  env?: Env;
}

interface VaultResponse {
  status: number;
  body: { data?: Record<string, unknown>; errors?: unknown[] } | undefined;
}

const NAME = /^[A-Za-z0-9._-]+$/;

export class VaultTransitSource implements KeySource {
  readonly kind = 'vault-transit' as const;
  readonly description: string;
  readonly #options: VaultTransitOptions;

  constructor(options: VaultTransitOptions = {}) {
    this.#options = options;
    this.description = `Vault transit key ${options.mount ?? 'transit'}/${options.key ?? '(from the header)'}`;
  }

  // Transit has no additional data for a datakey; the header binds the wrap to the backup instead.
  async createDataKey(_backupId: string): Promise<WrappedDataKey> {
    const key = this.#options.key;
    if (!key) {
      throw new BackupError('PGW_BACKUP_KEY_REQUIRED', 'No Vault transit key name was given.', {
        option: '--vault-transit-key',
        fix: 'Pass --vault-transit-key with the name of a transit key.',
      });
    }
    const mount = this.#mount(this.#options.mount ?? 'transit');
    const response = await this.#post(`${mount}/datakey/plaintext/${this.#keyName(key)}`, { bits: 256 }, key);
    const data = response.body?.data ?? {};
    const plaintext = typeof data.plaintext === 'string' ? new Secret(data.plaintext) : undefined;
    const ciphertext = typeof data.ciphertext === 'string' ? data.ciphertext : undefined;
    const dataKey = plaintext ? Buffer.from(plaintext.reveal(), 'base64') : undefined;
    if (!dataKey || dataKey.length !== KEY_LENGTH || !ciphertext || !/^vault:v\d+:/.test(ciphertext)) {
      throw new BackupError(
        'PGW_BACKUP_KEY_SERVICE',
        `Vault transit datakey for key "${key}" returned no 256-bit key.`,
        {
          fix: 'Check that the transit key is an aes256-gcm96 (or chacha20) key and the Vault version.',
        },
      );
    }
    return { dataKey, wrap: { type: 'vault-transit', mount, key, ciphertext } };
  }

  async openDataKey(wrap: KeyWrap, _backupId: string): Promise<Buffer> {
    if (wrap.type !== 'vault-transit') throw new Error(`vault-transit source given a ${wrap.type} wrap`);
    const key = this.#keyName(this.#options.key ?? wrap.key);
    const mount = this.#mount(this.#options.mount ?? wrap.mount);
    const response = await this.#post(`${mount}/decrypt/${key}`, { ciphertext: wrap.ciphertext }, key);
    const data = response.body?.data ?? {};
    const plaintext = typeof data.plaintext === 'string' ? new Secret(data.plaintext) : undefined;
    const dataKey = plaintext ? Buffer.from(plaintext.reveal(), 'base64') : undefined;
    if (!dataKey || dataKey.length !== KEY_LENGTH) {
      throw new BackupError(
        'PGW_BACKUP_WRONG_KEY',
        `Vault transit key "${key}" did not return a 256-bit data key for this backup.`,
        { option: '--vault-transit-key', fix: 'Use the transit key the backup was made with.' },
      );
    }
    return dataKey;
  }

  #mount(mount: string): string {
    const trimmed = mount.replace(/^\/+|\/+$/g, '');
    if (
      !/^[A-Za-z0-9._/-]+$/.test(trimmed) ||
      trimmed.split('/').some((part) => part === '' || part === '..')
    ) {
      throw new BackupError('PGW_BACKUP_KEY_INVALID', `"${mount}" is not a valid transit mount path.`, {
        option: '--vault-transit-mount',
        fix: 'Use the mount path of the transit engine, e.g. transit.',
      });
    }
    return trimmed;
  }

  #keyName(key: string): string {
    if (!NAME.test(key)) {
      throw new BackupError('PGW_BACKUP_KEY_INVALID', `"${key}" is not a valid transit key name.`, {
        option: '--vault-transit-key',
        fix: 'Use letters, digits, ".", "_" and "-".',
      });
    }
    return key;
  }

  #settings(): { url: URL; token: Secret; namespace: string | undefined; ca: string | undefined } {
    const env = this.#options.env ?? process.env;
    const addr = this.#options.addr ?? env.VAULT_ADDR;
    if (!addr) {
      throw new BackupError('PGW_BACKUP_KEY_INVALID', 'VAULT_ADDR is not set.', {
        option: 'VAULT_ADDR',
        fix: 'Set VAULT_ADDR to the https:// address of Vault.',
      });
    }
    const token = this.#options.token ?? (env.VAULT_TOKEN ? new Secret(env.VAULT_TOKEN) : undefined);
    if (!token || token.length === 0) {
      throw new BackupError('PGW_BACKUP_KEY_INVALID', 'VAULT_TOKEN is not set.', {
        option: 'VAULT_TOKEN',
        fix: 'Set VAULT_TOKEN to a token allowed to use the transit key (update on transit/datakey and transit/decrypt).',
      });
    }
    const caPath = this.#options.caCert ?? env.VAULT_CACERT;
    let ca: string | undefined;
    if (caPath) {
      try {
        ca = readFileSync(caPath, 'utf8');
      } catch (error) {
        throw new BackupError('PGW_BACKUP_KEY_INVALID', `VAULT_CACERT ${caPath} cannot be read.`, {
          option: 'VAULT_CACERT',
          fix: 'Point VAULT_CACERT at the PEM file of the CA that signed Vault’s certificate.',
          cause: error,
        });
      }
    }
    return {
      url: checkServiceUrl(addr, 'VAULT_ADDR', 'Vault'),
      token,
      namespace: this.#options.namespace ?? (env.VAULT_NAMESPACE || undefined),
      ca,
    };
  }

  async #post(path: string, payload: unknown, key: string): Promise<VaultResponse> {
    const { url, token, namespace, ca } = this.#settings();
    const target = new URL(`${url.pathname.replace(/\/+$/, '')}/v1/${path}`, url);
    const body = JSON.stringify(payload);
    const timeoutMs = this.#options.timeoutMs ?? 10_000;
    const request = target.protocol === 'https:' ? httpsModule().request : httpModule().request;
    const response = await new Promise<VaultResponse>((resolve, reject) => {
      const req = request(
        target,
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'X-Vault-Token': token.reveal(),
            'X-Vault-Request': 'true',
            ...(namespace ? { 'X-Vault-Namespace': namespace } : {}),
          },
          ...(target.protocol === 'https:' && ca ? { ca } : {}),
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > 1024 * 1024) req.destroy(new Error('response larger than 1 MiB'));
            else chunks.push(chunk);
          });
          res.on('end', () => {
            let parsed: VaultResponse['body'];
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as VaultResponse['body'];
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end(body);
    }).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      throw new BackupError(
        'PGW_BACKUP_KEY_SERVICE',
        `Vault at ${url.origin} could not be reached for transit key "${key}"${code ? ` (${code})` : ''}.`,
        { option: 'VAULT_ADDR', fix: 'Check VAULT_ADDR, VAULT_CACERT and that Vault is up.', cause: error },
      );
    });
    if (response.status >= 200 && response.status < 300) return response;
    throw this.#error(response, path, key);
  }

  #error(response: VaultResponse, path: string, key: string): BackupError {
    // Vault answers {"errors": [...]}; anything else (a proxy's page) is not quoted.
    const list: unknown = response.body?.errors;
    const errors = Array.isArray(list) ? list.map(String).join('; ') : '';
    const said = errors ? ` (Vault: ${errors})` : '';
    const what = `Vault transit ${path.includes('/decrypt/') ? 'decrypt' : 'datakey'} with key "${key}"`;
    if (
      response.status === 400 &&
      /authentication failed|invalid ciphertext|unable to decrypt|decryption failed/i.test(errors)
    ) {
      return new BackupError(
        'PGW_BACKUP_WRONG_KEY',
        `${what}: the key does not open this backup's data key${said}.`,
        {
          option: '--vault-transit-key',
          fix: 'Use the transit key (and mount) the backup was made with; if it is right, run verify --level 1 to check the file for alteration.',
        },
      );
    }
    const fix =
      response.status === 403
        ? 'The token is invalid, expired or lacks the policy: allow update on <mount>/datakey/plaintext/<key> and <mount>/decrypt/<key>.'
        : response.status === 503
          ? 'Vault is sealed or in standby: unseal it, or point VAULT_ADDR at the active node.'
          : /not found/i.test(errors) || response.status === 404
            ? 'Create the transit key (vault write -f transit/keys/<name>) or fix its name and mount.'
            : 'Check Vault’s logs and retry.';
    return new BackupError('PGW_BACKUP_KEY_SERVICE', `${what} failed with HTTP ${response.status}${said}.`, {
      option: response.status === 403 ? 'VAULT_TOKEN' : '--vault-transit-key',
      fix,
    });
  }
}
