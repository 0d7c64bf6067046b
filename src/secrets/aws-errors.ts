import { SecretError } from '../errors.js';
import { backendError } from './backend-error.js';

/** The AWS service a backend reads, as its messages and fixes name it. */
export interface AwsService {
  /** `Secrets Manager`. */
  label: string;
  /** The setting that names the resource: `DB_SECRET_ID`. */
  option: string;
  /** What the application's IAM policy must allow: `secretsmanager:GetSecretValue`. */
  action: string;
  /** The endpoint setting: `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  endpointOption: string;
  /** The fix when the resource does not exist. */
  notFoundFix: string;
}

export const SECRETS_MANAGER: AwsService = {
  label: 'Secrets Manager',
  option: 'DB_SECRET_ID',
  action: 'secretsmanager:GetSecretValue',
  endpointOption: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  notFoundFix: 'Check DB_SECRET_ID and the region (AWS_REGION): a secret exists in one region only.',
};

/** What the message says about the request that failed. */
export interface AwsErrorContext {
  backend: string;
  /** The resource, e.g. `secret "app/db" (AWSCURRENT)`. */
  what: string;
  endpoint?: string | undefined;
  /** Default {@link SECRETS_MANAGER}. */
  service?: AwsService;
}

/** "Does not exist" as each service says it. */
const NOT_FOUND = new Set(['ResourceNotFoundException', 'ParameterNotFound', 'ParameterVersionNotFound']);

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Exceptions that mean "these AWS credentials are not accepted". */
const BAD_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/** Node and SDK codes of a request that never got an answer. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Maps an AWS SDK v3 error to a coded {@link SecretError} that names the
 * backend, the secret and the fix. AWS messages name ARNs and actions, never
 * secret values, so they are kept (redaction still runs over them).
 */
export function mapAwsError(error: unknown, context: AwsErrorContext): SecretError {
  // Already coded by pgwarden inside the SDK's stack (the secure-endpoint check).
  if (error instanceof SecretError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const aws =
    typeof e.message === 'string' && e.message !== '' ? ` (AWS: ${e.message.replace(/\.$/, '')})` : '';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const { backend, what } = context;
  const service = context.service ?? SECRETS_MANAGER;
  const details = (option: string, fix: string) => ({ option, fix, cause: error });

  if (NOT_FOUND.has(name)) {
    return backendError(
      'PGW_SECRET_NOT_FOUND',
      backend,
      `${what} does not exist${aws}.`,
      details(service.option, service.notFoundFix),
    );
  }
  if (name === 'AccessDeniedException') {
    return backendError(
      'PGW_SECRET_ACCESS_DENIED',
      backend,
      `access to ${what} was denied${aws}.`,
      details(
        service.option,
        `Allow ${service.action} on its ARN in the IAM policy of the role the application runs as.`,
      ),
    );
  }
  if (name === 'DecryptionFailure' || name === 'InvalidKeyId') {
    return backendError(
      'PGW_SECRET_ACCESS_DENIED',
      backend,
      `${what} could not be decrypted with its KMS key${aws}.`,
      details(service.option, "Allow kms:Decrypt on its KMS key to the application's role."),
    );
  }
  if (BAD_CREDENTIALS.has(name)) {
    return backendError(
      'PGW_SECRET_ACCESS_DENIED',
      backend,
      `AWS rejected the request's credentials (${name})${aws}.`,
      details(
        'AWS_PROFILE',
        'Check the AWS credentials the SDK finds (IAM role, AWS_PROFILE, AWS_ACCESS_KEY_ID).',
      ),
    );
  }
  if (name === 'ExpiredTokenException' || name === 'ExpiredToken') {
    return backendError(
      'PGW_SECRET_TOKEN_EXPIRED',
      backend,
      `the AWS session credentials have expired${aws}.`,
      details(
        'AWS_SESSION_TOKEN',
        'Refresh the session (aws sso login, a new STS session) or use an IAM role.',
      ),
    );
  }
  if (name === 'CredentialsProviderError') {
    return backendError(
      'PGW_SECRET_CONFIG',
      backend,
      'no AWS credentials were found by the SDK default chain.',
      details(
        'AWS_PROFILE',
        'Run with an IAM role (instance profile, ECS task role, IRSA), or set AWS_PROFILE.',
      ),
    );
  }
  if (typeof e.message === 'string' && /region is missing/i.test(e.message)) {
    return backendError(
      'PGW_SECRET_CONFIG',
      backend,
      'no AWS region is configured.',
      details('AWS_REGION', 'Set AWS_REGION (e.g. AWS_REGION=us-east-1) or the region option.'),
    );
  }
  if (name === 'InvalidRequestException' && typeof e.message === 'string' && /delet/i.test(e.message)) {
    return backendError(
      'PGW_SECRET_NOT_FOUND',
      backend,
      `${what} is scheduled for deletion${aws}.`,
      details(
        service.option,
        `Restore it (aws secretsmanager restore-secret) or point ${service.option} at another.`,
      ),
    );
  }
  if (
    name === 'InvalidParameterException' ||
    name === 'InvalidRequestException' ||
    name === 'ValidationException'
  ) {
    return backendError(
      'PGW_SECRET_CONFIG',
      backend,
      `AWS refused the request for ${what} (${name})${aws}.`,
      details(service.option, `Check that ${service.option} is a name or a full ARN.`),
    );
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code === 'ERR_INVALID_URL') {
    // A malformed endpoint_url in the AWS config file reaches us only at the first request.
    return backendError(
      'PGW_SECRET_CONFIG',
      backend,
      `the endpoint the AWS SDK resolved for ${service.label} is not a valid URL.`,
      details(
        service.endpointOption,
        `Fix ${service.endpointOption}, AWS_ENDPOINT_URL or endpoint_url in the AWS config file (an https:// address).`,
      ),
    );
  }
  const endpoint = context.endpoint ?? 'the regional endpoint';
  if ((code !== undefined && NETWORK_CODES.has(code)) || name === 'TimeoutError') {
    return backendError(
      'PGW_SECRET_BACKEND_UNAVAILABLE',
      backend,
      `${service.label} could not be reached at ${endpoint} (${code ?? name}).`,
      details(
        service.endpointOption,
        `Check network access to ${service.label} (VPC endpoint, security groups, proxy) and the endpoint setting.`,
      ),
    );
  }
  return backendError(
    'PGW_SECRET_BACKEND_UNAVAILABLE',
    backend,
    `${service.label} failed for ${what} (${name}${status === undefined ? '' : `, HTTP ${status}`})${aws}.`,
    details(service.option, 'Retry later; check the AWS Health Dashboard if it persists.'),
  );
}
