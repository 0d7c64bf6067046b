/**
 * An in-process stand-in for AWS KMS, for tests only: AWS cannot be reached
 * from CI and LocalStack/moto cannot be installed here. It speaks the real
 * wire protocol so the official `@aws-sdk/client-kms` runs unmodified
 * against it (pass `endpoint`, or set AWS_ENDPOINT_URL_KMS).
 *
 * Implemented, as AWS does it:
 * - AWS JSON 1.1: `POST /`, `Content-Type: application/x-amz-json-1.1`,
 *   `X-Amz-Target: TrentService.<Operation>`, blobs as base64 strings;
 *   errors as HTTP 400/500 with `{"__type": "...", "message": "..."}` and
 *   the `x-amzn-ErrorType` header;
 * - SigV4: a request without `Authorization: AWS4-HMAC-SHA256 …` is
 *   rejected (MissingAuthenticationTokenException); the signature is
 *   verified against the configured key pair, region and service `kms`
 *   (UnrecognizedClientException, InvalidSignatureException);
 * - GenerateDataKey (KeySpec AES_256/AES_128 or NumberOfBytes) and Decrypt
 *   on symmetric keys addressed by key id, key ARN, `alias/<name>` or alias
 *   ARN. The ciphertext blob embeds the key id (so Decrypt needs no KeyId)
 *   and is AES-256-GCM under the key's in-memory material with the
 *   encryption context as additional data: a different context or an
 *   altered blob gives InvalidCiphertextException; a KeyId in Decrypt that
 *   is not the blob's key gives IncorrectKeyException; a disabled key
 *   DisabledException; an unknown one NotFoundException.
 *
 * Not implemented: any other operation (Encrypt, ReEncrypt, CreateKey over
 * the wire, key policies and grants, asymmetric and HMAC keys, rotation,
 * multi-region keys, the real ciphertext-blob format, the 5-minute clock-skew
 * window, GrantTokens, DryRun). IAM is reduced to the `denyAccess` switch.
 *
 * `requests` records every request (operation, key id, access key) so tests
 * can assert what crossed the wire.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsProtocolError, header, readBody, sendJson, verifySigV4 } from './aws-json-protocol.js';
import { LoopbackHttpServer } from './loopback-http.js';

/** Static credentials tests give the SDK. Pass a copy: the SDK tags the object. */
export const TEST_KMS_CREDENTIALS: { readonly accessKeyId: string; readonly secretAccessKey: string } = {
  accessKeyId: 'AKIAPGWARDENKMSTEST01',
  secretAccessKey: 'pgwarden-kms-test-secret-access-key-000',
};

export interface KmsServerOptions {
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Default `us-east-1`. */
  region?: string;
  /** Default `123456789012`. */
  accountId?: string;
}

export interface KmsFaults {
  /** Answer every operation with AccessDeniedException. */
  denyAccess: boolean;
  /** Answer every operation with HTTP 500 KMSInternalException. */
  serverError: boolean;
}

export interface RecordedKmsRequest {
  operation: string;
  keyId: string | undefined;
  accessKeyId: string | undefined;
  encryptionContext: Record<string, string> | undefined;
}

interface KmsKey {
  id: string;
  arn: string;
  material: Buffer;
  enabled: boolean;
}

const KmsError = AwsProtocolError;

const BLOB_VERSION = 1;

export class KmsServer {
  readonly faults: KmsFaults = { denyAccess: false, serverError: false };
  readonly requests: RecordedKmsRequest[] = [];
  readonly region: string;
  readonly accountId: string;
  readonly #credentials: { accessKeyId: string; secretAccessKey: string };
  readonly #keys = new Map<string, KmsKey>();
  readonly #aliases = new Map<string, string>();
  #http!: LoopbackHttpServer;
  #endpoint = '';

  private constructor(options: KmsServerOptions) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.#credentials = options.credentials ?? TEST_KMS_CREDENTIALS;
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  static async start(options: KmsServerOptions = {}): Promise<KmsServer> {
    const server = new KmsServer(options);
    server.#http = await LoopbackHttpServer.start((req, res) => void server.#handle(req, res));
    server.#endpoint = `http://127.0.0.1:${server.#http.port}`;
    return server;
  }

  /** The URL to give the SDK as `endpoint`. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** Creates a symmetric key (as in the console), optionally with an alias; returns its id and ARN. */
  createKey(alias?: string): { keyId: string; arn: string } {
    const id = randomUUID();
    const arn = `arn:aws:kms:${this.region}:${this.accountId}:key/${id}`;
    this.#keys.set(id, { id, arn, material: randomBytes(32), enabled: true });
    if (alias) this.#aliases.set(alias.startsWith('alias/') ? alias : `alias/${alias}`, id);
    return { keyId: id, arn };
  }

  setEnabled(keyId: string, enabled: boolean): void {
    const key = this.#keys.get(keyId);
    if (!key) throw new Error(`no key ${keyId}`);
    key.enabled = enabled;
  }

  count(operation?: string): number {
    return operation === undefined
      ? this.requests.length
      : this.requests.filter((r) => r.operation === operation).length;
  }

  async stop(): Promise<void> {
    await this.#http.stop();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = header(req, 'x-amz-target') ?? '';
    const operation = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : target;
    let input: Record<string, unknown> = {};
    try {
      input = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    } catch {
      // answered below
    }
    const context = input.EncryptionContext;
    this.requests.push({
      operation,
      keyId: typeof input.KeyId === 'string' ? input.KeyId : undefined,
      accessKeyId: /Credential=([^/]+)\//.exec(header(req, 'authorization') ?? '')?.[1],
      encryptionContext:
        context && typeof context === 'object' ? (context as Record<string, string>) : undefined,
    });
    try {
      if (req.method !== 'POST' || req.url !== '/')
        throw new KmsError('UnknownOperationException', 'Not found', 404);
      if (!(header(req, 'content-type') ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new KmsError('SerializationException', 'Expected Content-Type application/x-amz-json-1.1');
      }
      this.#verifySignature(req, body);
      if (this.faults.serverError)
        throw new KmsError('KMSInternalException', 'An internal error occurred.', 500);
      if (this.faults.denyAccess) {
        throw new KmsError(
          'AccessDeniedException',
          `User: arn:aws:sts::${this.accountId}:assumed-role/app/pgwarden is not authorized to perform: kms:${operation} because no identity-based policy allows the kms:${operation} action`,
        );
      }
      sendJson(res, 200, this.#dispatch(operation, input));
    } catch (error) {
      const e = error instanceof KmsError ? error : new KmsError('KMSInternalException', String(error), 500);
      res.setHeader('x-amzn-ErrorType', `${e.type}:http://internal.amazon.com/coral/com.amazonaws.kms/`);
      sendJson(res, e.status, { __type: e.type, message: e.message });
    }
  }

  #dispatch(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GenerateDataKey':
        return this.#generateDataKey(input);
      case 'Decrypt':
        return this.#decrypt(input);
      default:
        throw new KmsError(
          'UnknownOperationException',
          `Operation ${operation} is not supported by this test server.`,
        );
    }
  }

  #resolve(keyId: unknown): KmsKey {
    if (typeof keyId !== 'string' || keyId === '')
      throw new KmsError('ValidationException', 'KeyId is required.');
    let id = keyId;
    const aliasArn = /^arn:aws:kms:[^:]+:\d+:(alias\/.+)$/.exec(keyId);
    const alias = aliasArn?.[1] ?? (keyId.startsWith('alias/') ? keyId : undefined);
    if (alias) {
      const target = this.#aliases.get(alias);
      if (!target) {
        throw new KmsError(
          'NotFoundException',
          `Alias arn:aws:kms:${this.region}:${this.accountId}:${alias} is not found.`,
        );
      }
      id = target;
    } else {
      id = /^arn:aws:kms:[^:]+:\d+:key\/(.+)$/.exec(keyId)?.[1] ?? keyId;
    }
    const key = this.#keys.get(id);
    if (!key)
      throw new KmsError(
        'NotFoundException',
        `Key 'arn:aws:kms:${this.region}:${this.accountId}:key/${id}' does not exist`,
      );
    if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  }

  #generateDataKey(input: Record<string, unknown>): unknown {
    const key = this.#resolve(input.KeyId);
    const spec = input.KeySpec;
    const bytes =
      spec === 'AES_256'
        ? 32
        : spec === 'AES_128'
          ? 16
          : typeof input.NumberOfBytes === 'number'
            ? input.NumberOfBytes
            : 0;
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1024) {
      throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
    }
    const plaintext = randomBytes(bytes);
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString('base64'),
      CiphertextBlob: this.#seal(key, plaintext, input.EncryptionContext).toString('base64'),
    };
  }

  #decrypt(input: Record<string, unknown>): unknown {
    if (typeof input.CiphertextBlob !== 'string')
      throw new KmsError('ValidationException', 'CiphertextBlob is required.');
    const blob = Buffer.from(input.CiphertextBlob, 'base64');
    if (blob.length < 1 + 36 + 12 + 16 || blob[0] !== BLOB_VERSION)
      throw new KmsError('InvalidCiphertextException', '');
    const blobKeyId = blob.subarray(1, 37).toString('latin1');
    const key = this.#keys.get(blobKeyId);
    if (!key) throw new KmsError('InvalidCiphertextException', '');
    if (input.KeyId !== undefined && this.#resolve(input.KeyId).id !== key.id) {
      throw new KmsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify a CMK that can perform this operation.',
      );
    }
    if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    const decipher = createDecipheriv('aes-256-gcm', key.material, blob.subarray(37, 49));
    decipher.setAAD(contextBytes(input.EncryptionContext));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(blob.subarray(49, blob.length - 16)), decipher.final()]);
    } catch {
      // KMS says nothing more, on purpose.
      throw new KmsError('InvalidCiphertextException', '');
    }
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString('base64'),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  #seal(key: KmsKey, plaintext: Buffer, context: unknown): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.material, iv);
    cipher.setAAD(contextBytes(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([
      Buffer.from([BLOB_VERSION]),
      Buffer.from(key.id, 'latin1'),
      iv,
      sealed,
      cipher.getAuthTag(),
    ]);
  }

  /** SigV4 as AWS checks it: scope, signed headers, canonical request, HMAC chain. */
  #verifySignature(req: IncomingMessage, body: Buffer): void {
    verifySigV4(req, body, { ...this.#credentials, region: this.region, service: 'kms' });
  }
}

/** The encryption context as additional data: sorted, so key order does not matter (as in KMS). */
function contextBytes(context: unknown): Buffer {
  if (!context || typeof context !== 'object') return Buffer.alloc(0);
  const entries = Object.entries(context as Record<string, unknown>)
    .map(([k, v]) => [k, String(v)])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}
