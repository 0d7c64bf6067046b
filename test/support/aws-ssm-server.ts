/**
 * An in-process stand-in for AWS SSM Parameter Store, for tests only: AWS
 * cannot be reached from CI. It speaks the real wire protocol, so the official
 * SDK client runs unmodified against it (pass `endpoint`, or set
 * AWS_ENDPOINT_URL_SSM).
 *
 * Implemented, as AWS does it: AWS JSON 1.1 (`POST /`,
 * `X-Amz-Target: AmazonSSM.<Operation>`), SigV4 verified for the `ssm`
 * service, errors as `{"__type", "message"}` with HTTP 400/500;
 * `GetParameter` (a SecureString's value is returned decrypted only with
 * `WithDecryption: true`, else as ciphertext) and `PutParameter` (a new
 * version with `Overwrite`, `ParameterAlreadyExists` without it).
 *
 * Not implemented: other operations (GetParametersByPath, history, labels,
 * deletion), IAM policy evaluation (use `faults.denyAccess`), KMS (the
 * "ciphertext" is a stand-in), tiers, policies, the clock-skew window.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TEST_AWS_CREDENTIALS } from './aws-secrets-manager-server.js';
import { AwsProtocolError, header, readBody, sendJson, verifySigV4 } from './aws-json-protocol.js';
import { LoopbackHttpServer } from './loopback-http.js';

type ParameterType = 'String' | 'StringList' | 'SecureString';

interface StoredParameter {
  type: ParameterType;
  value: string;
  version: number;
  lastModified: number;
}

export class AwsSsmServer {
  readonly faults = { denyAccess: false };
  /** Operations in the order they arrived. */
  readonly operations: string[] = [];
  readonly region = 'us-east-1';
  readonly #parameters = new Map<string, StoredParameter>();
  #http!: LoopbackHttpServer;

  private constructor() {}

  static async start(): Promise<AwsSsmServer> {
    const server = new AwsSsmServer();
    server.#http = await LoopbackHttpServer.start((req, res) => void server.#handle(req, res));
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#http.port}`;
  }

  count(operation: string): number {
    return this.operations.filter((o) => o === operation).length;
  }

  /** Creates or overwrites a parameter, as `aws ssm put-parameter --overwrite` does; returns its version. */
  put(name: string, value: string, type: ParameterType = 'SecureString'): number {
    const version = (this.#parameters.get(name)?.version ?? 0) + 1;
    this.#parameters.set(name, { type, value, version, lastModified: Date.now() });
    return version;
  }

  async stop(): Promise<void> {
    await this.#http.stop();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = header(req, 'x-amz-target') ?? '';
    const operation = target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : target;
    this.operations.push(operation);
    try {
      if (req.method !== 'POST' || req.url !== '/')
        throw new AwsProtocolError('UnknownOperationException', 'Not found', 404);
      if (!(header(req, 'content-type') ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new AwsProtocolError(
          'SerializationException',
          'Expected Content-Type application/x-amz-json-1.1',
        );
      }
      verifySigV4(req, body, { ...TEST_AWS_CREDENTIALS, region: this.region, service: 'ssm' });
      if (this.faults.denyAccess) {
        throw new AwsProtocolError(
          'AccessDeniedException',
          `User: arn:aws:sts::123456789012:assumed-role/app/pgwarden is not authorized to perform: ssm:${operation} because no identity-based policy allows the ssm:${operation} action`,
        );
      }
      const input = (body.length === 0 ? {} : JSON.parse(body.toString('utf8'))) as Record<string, unknown>;
      sendJson(res, 200, this.#dispatch(operation, input));
    } catch (error) {
      const e =
        error instanceof AwsProtocolError
          ? error
          : new AwsProtocolError('InternalServerError', String(error), 500);
      res.setHeader(
        'x-amzn-ErrorType',
        `${e.type}:http://internal.amazon.com/coral/com.amazon.parameterstore/`,
      );
      sendJson(res, e.status, { __type: e.type, message: e.message });
    }
  }

  #dispatch(operation: string, input: Record<string, unknown>): unknown {
    const name = typeof input.Name === 'string' ? input.Name : '';
    if (name === '') throw new AwsProtocolError('ValidationException', 'Parameter name must not be empty.');
    const arn = `arn:aws:ssm:${this.region}:123456789012:parameter${name.startsWith('/') ? '' : '/'}${name}`;
    switch (operation) {
      case 'GetParameter': {
        const found = this.#parameters.get(name);
        // SSM answers ParameterNotFound with an empty message.
        if (!found) throw new AwsProtocolError('ParameterNotFound', '');
        const decrypt = input.WithDecryption === true;
        const value =
          found.type === 'SecureString' && !decrypt
            ? `AQICAH${randomBytes(24).toString('base64')}` // what an undecrypted SecureString looks like
            : found.value;
        return {
          Parameter: {
            Name: name,
            Type: found.type,
            Value: value,
            Version: found.version,
            LastModifiedDate: found.lastModified / 1000,
            ARN: arn,
            DataType: 'text',
          },
        };
      }
      case 'PutParameter': {
        const exists = this.#parameters.has(name);
        if (exists && input.Overwrite !== true) {
          throw new AwsProtocolError(
            'ParameterAlreadyExists',
            'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
          );
        }
        const type =
          (input.Type as ParameterType | undefined) ?? this.#parameters.get(name)?.type ?? 'String';
        return { Version: this.put(name, String(input.Value ?? ''), type), Tier: 'Standard' };
      }
      default:
        throw new AwsProtocolError('UnknownOperationException', `Unknown operation ${operation}`);
    }
  }
}
