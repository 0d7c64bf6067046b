/**
 * What the local AWS servers (Secrets Manager, KMS) share of the real JSON 1.1
 * protocol: SigV4 verification as AWS does it (scope, signed headers,
 * canonical request, HMAC chain), AWS-shaped errors and responses.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error as AWS returns it: `__type`, message and HTTP status. */
export class AwsProtocolError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(body);
}

/** Throws the AwsProtocolError AWS would answer when the SigV4 signature is missing or wrong. */
export function verifySigV4(
  req: IncomingMessage,
  body: Buffer,
  expected: { accessKeyId: string; secretAccessKey: string; region: string; service: string },
): void {
  const authorization = header(req, 'authorization');
  if (!authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
    throw new AwsProtocolError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
  }
  const match =
    /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})/.exec(
      authorization,
    );
  if (!match) {
    throw new AwsProtocolError(
      'IncompleteSignatureException',
      'Authorization header requires Credential, SignedHeaders and Signature.',
    );
  }
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  if (accessKeyId !== expected.accessKeyId) {
    throw new AwsProtocolError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }
  const amzDate = header(req, 'x-amz-date') ?? '';
  if (region !== expected.region || service !== expected.service || !amzDate.startsWith(date as string)) {
    throw new AwsProtocolError(
      'InvalidSignatureException',
      'Credential should be scoped to a valid region and service.',
    );
  }
  const names = (signedHeaders as string).split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    throw new AwsProtocolError('InvalidSignatureException', 'Host and X-Amz-Date must be signed.');
  }
  const canonicalHeaders = names
    .map((n) => `${n}:${(header(req, n) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const payloadHash = header(req, 'x-amz-content-sha256') ?? sha256(body);
  const canonicalRequest = ['POST', '/', '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${expected.secretAccessKey}`, date as string);
  for (const part of [region as string, service as string, 'aws4_request']) key = hmac(key, part);
  const computed = hmac(key, stringToSign);
  const given = Buffer.from(signature as string, 'hex');
  if (given.length !== computed.length || !timingSafeEqual(given, computed)) {
    throw new AwsProtocolError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
}
