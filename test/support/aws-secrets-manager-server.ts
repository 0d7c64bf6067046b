/**
 * An in-process stand-in for AWS Secrets Manager, for tests only: AWS cannot
 * be reached from CI, and LocalStack/moto cannot be installed here. It speaks
 * the real wire protocol so the official SDK client runs unmodified against it
 * (pass `endpoint`, or set AWS_ENDPOINT_URL_SECRETS_MANAGER).
 *
 * Implemented, as AWS does it:
 * - AWS JSON 1.1: `POST /`, `Content-Type: application/x-amz-json-1.1`,
 *   `X-Amz-Target: secretsmanager.<Operation>`; errors as HTTP 400/500 with
 *   `{"__type": "...", "message": "..."}` and the `x-amzn-ErrorType` header;
 * - SigV4: requests without `Authorization: AWS4-HMAC-SHA256 Credential=…`
 *   are rejected; the signature is verified against the configured access
 *   key (UnrecognizedClientException, InvalidSignatureException);
 * - GetSecretValue (by VersionStage or VersionId), CreateSecret,
 *   PutSecretValue, UpdateSecretVersionStage, DescribeSecret, with staging
 *   labels that move like AWS moves them: putting a new AWSCURRENT version
 *   moves AWSPREVIOUS to the former AWSCURRENT one.
 *
 * Not implemented: any other operation (ListSecrets, DeleteSecret,
 * RotateSecret and rotation Lambdas, resource policies, tags, replication),
 * IAM policy evaluation (use the `denyAccess` fault instead), KMS encryption,
 * the signature's 5-minute clock-skew window, pagination, idempotency of
 * ClientRequestToken beyond using it as the VersionId.
 *
 * Fault switches: `denyAccess`, `serverError`, `delayMs`, `dropConnections`;
 * `stop()` makes the endpoint refuse connections. `requests` records every
 * request (operation, secret id, stage) so tests can assert single-flight.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsProtocolError, header, readBody, sendJson, verifySigV4 } from './aws-json-protocol.js';
import { LoopbackHttpServer } from './loopback-http.js';

/**
 * The static credentials tests give the SDK; any value works if the server
 * and client agree. Not frozen: the SDK tags the object it is given, so pass
 * a copy (`{ ...TEST_AWS_CREDENTIALS }`).
 */
export const TEST_AWS_CREDENTIALS: { readonly accessKeyId: string; readonly secretAccessKey: string } = {
  accessKeyId: 'AKIAPGWARDENTEST0001',
  secretAccessKey: 'pgwarden-test-secret-access-key-0000000',
};

export interface AwsSecretsManagerServerOptions {
  /** The only key pair whose signatures are accepted. Default: {@link TEST_AWS_CREDENTIALS}. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The region in ARNs and expected in the signing scope. Default: `us-east-1`. */
  region?: string;
}

/** Switches tests flip to simulate failures. */
export interface AwsFaults {
  /** Answer every operation with AccessDeniedException. */
  denyAccess: boolean;
  /** Answer every operation with HTTP 500 InternalServiceError. */
  serverError: boolean;
  /** Wait this long before answering. */
  delayMs: number;
  /** Destroy the socket instead of answering (a load balancer dropping connections). */
  dropConnections: boolean;
}

/** One request as the server understood it. */
export interface RecordedAwsRequest {
  operation: string;
  secretId: string | undefined;
  versionStage: string | undefined;
  versionId: string | undefined;
  accessKeyId: string | undefined;
}

interface SecretVersion {
  id: string;
  secretString?: string | undefined;
  secretBinary?: Buffer | undefined;
  stages: Set<string>;
  created: number;
}

interface StoredSecret {
  name: string;
  arn: string;
  versions: Map<string, SecretVersion>;
  lastChanged: number;
}

const AwsError = AwsProtocolError;

export class AwsSecretsManagerServer {
  readonly faults: AwsFaults = { denyAccess: false, serverError: false, delayMs: 0, dropConnections: false };
  readonly requests: RecordedAwsRequest[] = [];
  readonly region: string;
  readonly #credentials: { accessKeyId: string; secretAccessKey: string };
  readonly #secrets = new Map<string, StoredSecret>();
  #http!: LoopbackHttpServer;
  #endpoint = '';

  private constructor(options: AwsSecretsManagerServerOptions) {
    this.region = options.region ?? 'us-east-1';
    this.#credentials = options.credentials ?? TEST_AWS_CREDENTIALS;
  }

  /** Starts a server on 127.0.0.1 and a free port. */
  static async start(options: AwsSecretsManagerServerOptions = {}): Promise<AwsSecretsManagerServer> {
    const server = new AwsSecretsManagerServer(options);
    server.#http = await LoopbackHttpServer.start((req, res) => void server.#handle(req, res));
    const { port } = server.#http;
    server.#endpoint = `http://127.0.0.1:${port}`;
    return server;
  }

  /** The URL to give the SDK as `endpoint`. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** Number of recorded requests, optionally of one operation (`GetSecretValue`). */
  count(operation?: string): number {
    return operation === undefined
      ? this.requests.length
      : this.requests.filter((r) => r.operation === operation).length;
  }

  /** Seeds a secret directly (as if created in the console); returns its first VersionId. */
  createSecret(name: string, value: string | Buffer): string {
    if (this.#secrets.has(name)) throw new Error(`secret ${name} exists`);
    const secret: StoredSecret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:123456789012:secret:${name}-${randomBytes(3).toString('hex')}`,
      versions: new Map(),
      lastChanged: Date.now(),
    };
    this.#secrets.set(name, secret);
    return this.#addVersion(secret, value, undefined, ['AWSCURRENT']);
  }

  /** Adds a version as AWSCURRENT, moving AWSPREVIOUS, as a completed rotation does. */
  rotateSecret(name: string, value: string | Buffer): string {
    const secret = this.#secrets.get(name);
    if (!secret) throw new Error(`no secret ${name}`);
    return this.#addVersion(secret, value, undefined, ['AWSCURRENT']);
  }

  /** Stops accepting connections and drops open ones: the endpoint then refuses connections. */
  async stop(): Promise<void> {
    await this.#http.stop();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (this.faults.dropConnections) {
      req.socket.destroy();
      return;
    }
    if (this.faults.delayMs > 0) await new Promise((r) => setTimeout(r, this.faults.delayMs));
    const target = header(req, 'x-amz-target') ?? '';
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target;
    let input: Record<string, unknown> = {};
    try {
      input = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    } catch {
      // answered below as a serialization error
    }
    this.requests.push({
      operation,
      secretId: str(input.SecretId),
      versionStage: str(input.VersionStage),
      versionId: str(input.VersionId),
      accessKeyId: /Credential=([^/]+)\//.exec(header(req, 'authorization') ?? '')?.[1],
    });
    try {
      if (req.method !== 'POST' || req.url !== '/')
        throw new AwsError('UnknownOperationException', 'Not found', 404);
      if (!(header(req, 'content-type') ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new AwsError('SerializationException', 'Expected Content-Type application/x-amz-json-1.1');
      }
      this.#verifySignature(req, body);
      if (this.faults.serverError)
        throw new AwsError('InternalServiceError', 'An error occurred on the server side.', 500);
      if (this.faults.denyAccess) {
        throw new AwsError(
          'AccessDeniedException',
          `User: arn:aws:sts::123456789012:assumed-role/app/pgwarden is not authorized to perform: secretsmanager:${operation} because no identity-based policy allows the secretsmanager:${operation} action`,
        );
      }
      sendJson(res, 200, this.#dispatch(operation, input));
    } catch (error) {
      const e = error instanceof AwsError ? error : new AwsError('InternalServiceError', String(error), 500);
      res.setHeader(
        'x-amzn-ErrorType',
        `${e.type}:http://internal.amazon.com/coral/com.amazonaws.secretsmanager/`,
      );
      sendJson(res, e.status, { __type: e.type, message: e.message, Message: e.message });
    }
  }

  #dispatch(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetSecretValue':
        return this.#getSecretValue(input);
      case 'CreateSecret': {
        const name = requireString(input, 'Name');
        const value = str(input.SecretString) ?? '';
        if (this.#secrets.has(name)) {
          throw new AwsError(
            'ResourceExistsException',
            `The operation failed because the secret ${name} already exists.`,
          );
        }
        const versionId = this.createSecret(name, value);
        const secret = this.#secrets.get(name) as StoredSecret;
        return { ARN: secret.arn, Name: name, VersionId: versionId };
      }
      case 'PutSecretValue': {
        const secret = this.#find(requireString(input, 'SecretId'));
        const stages = Array.isArray(input.VersionStages) ? input.VersionStages.map(String) : ['AWSCURRENT'];
        const value = str(input.SecretString) ?? Buffer.from(str(input.SecretBinary) ?? '', 'base64');
        const id = this.#addVersion(secret, value, str(input.ClientRequestToken), stages);
        return { ARN: secret.arn, Name: secret.name, VersionId: id, VersionStages: stages };
      }
      case 'UpdateSecretVersionStage': {
        const secret = this.#find(requireString(input, 'SecretId'));
        const stage = requireString(input, 'VersionStage');
        const remove = str(input.RemoveFromVersionId);
        const move = str(input.MoveToVersionId);
        const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
        if (move !== undefined) {
          const target = secret.versions.get(move);
          if (!target)
            throw new AwsError(
              'ResourceNotFoundException',
              `Secrets Manager can't find the specified secret version.`,
            );
          if (holder && holder !== target && holder.id !== remove) {
            throw new AwsError(
              'InvalidParameterException',
              `The staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
            );
          }
          this.#attach(secret, target, stage);
        } else if (remove !== undefined) {
          secret.versions.get(remove)?.stages.delete(stage);
        }
        secret.lastChanged = Date.now();
        return { ARN: secret.arn, Name: secret.name };
      }
      case 'DescribeSecret': {
        const secret = this.#find(requireString(input, 'SecretId'));
        const versionIdsToStages: Record<string, string[]> = {};
        for (const v of secret.versions.values())
          if (v.stages.size > 0) versionIdsToStages[v.id] = [...v.stages];
        return {
          ARN: secret.arn,
          Name: secret.name,
          RotationEnabled: false,
          LastChangedDate: secret.lastChanged / 1000,
          VersionIdsToStages: versionIdsToStages,
        };
      }
      default:
        throw new AwsError(
          'UnknownOperationException',
          `Operation ${operation} is not supported by this test server.`,
        );
    }
  }

  #getSecretValue(input: Record<string, unknown>): unknown {
    const secret = this.#find(requireString(input, 'SecretId'));
    const versionId = str(input.VersionId);
    const stage = str(input.VersionStage) ?? (versionId === undefined ? 'AWSCURRENT' : undefined);
    const version =
      versionId !== undefined
        ? secret.versions.get(versionId)
        : [...secret.versions.values()].find((v) => stage !== undefined && v.stages.has(stage));
    if (!version || (stage !== undefined && !version.stages.has(stage))) {
      throw new AwsError(
        'ResourceNotFoundException',
        stage === undefined
          ? `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`
          : `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
      );
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.secretString === undefined ? {} : { SecretString: version.secretString }),
      ...(version.secretBinary === undefined
        ? {}
        : { SecretBinary: version.secretBinary.toString('base64') }),
      VersionStages: [...version.stages],
      CreatedDate: version.created / 1000,
    };
  }

  #find(secretId: string): StoredSecret {
    const secret = this.#secrets.get(secretId) ?? [...this.#secrets.values()].find((s) => s.arn === secretId);
    if (!secret)
      throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  }

  #addVersion(
    secret: StoredSecret,
    value: string | Buffer,
    id: string | undefined,
    stages: readonly string[],
  ): string {
    const version: SecretVersion = {
      id: id ?? randomUUID(),
      ...(typeof value === 'string' ? { secretString: value } : { secretBinary: value }),
      stages: new Set(),
      created: Date.now(),
    };
    secret.versions.set(version.id, version);
    for (const stage of stages) this.#attach(secret, version, stage);
    secret.lastChanged = Date.now();
    return version.id;
  }

  /** Moves a label to `target`; AWSCURRENT drags AWSPREVIOUS along, as in AWS. */
  #attach(secret: StoredSecret, target: SecretVersion, stage: string): void {
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (holder === target) return;
    holder?.stages.delete(stage);
    target.stages.add(stage);
    if (stage === 'AWSCURRENT' && holder) {
      for (const v of secret.versions.values()) v.stages.delete('AWSPREVIOUS');
      holder.stages.add('AWSPREVIOUS');
    }
  }

  /** SigV4 as AWS checks it: scope, signed headers, canonical request, HMAC chain. */
  #verifySignature(req: IncomingMessage, body: Buffer): void {
    verifySigV4(req, body, { ...this.#credentials, region: this.region, service: 'secretsmanager' });
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function requireString(input: Record<string, unknown>, key: string): string {
  const value = str(input[key]);
  if (value === undefined) throw new AwsError('InvalidParameterException', `${key} is required.`);
  return value;
}
