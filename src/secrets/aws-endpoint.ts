/**
 * The secure-endpoint rule (src/net/secure-endpoint.ts) for the AWS secrets
 * backends: a configured endpoint is checked when the provider is created (a
 * malformed or plain-http one is `PGW_SECRET_CONFIG` at startup), and the
 * endpoint the SDK finally resolves (environment, `~/.aws/config`) is checked
 * before every request.
 */
import type { SecretError } from '../errors.js';
import { guardAwsEndpoint, type AwsClientLike } from '../net/aws-endpoint-guard.js';
import { judgeEndpoint, type EndpointProblem } from '../net/secure-endpoint.js';
import type { AwsService } from './aws-errors.js';
import { backendError } from './backend-error.js';
import { firstVar, readVar, type EnvSource } from './env-source.js';

/** Where a backend's AWS client goes, as read from the environment. */
export interface AwsLocation {
  region: string | undefined;
  endpoint?: string;
  /** The variable `endpoint` came from, for messages. */
  endpointOption?: string;
}

/**
 * The region (`AWS_REGION`, else `AWS_DEFAULT_REGION`) and the endpoint
 * (the service's own variable, e.g. `AWS_ENDPOINT_URL_SSM`, before
 * `AWS_ENDPOINT_URL`), in the order the AWS SDK reads them.
 */
export function awsLocationFromEnv(env: EnvSource, service: AwsService): AwsLocation {
  const region = firstVar(env, ['AWS_REGION', 'AWS_DEFAULT_REGION'])?.value;
  for (const option of [service.endpointOption, 'AWS_ENDPOINT_URL']) {
    const endpoint = readVar(env, option);
    if (endpoint !== undefined) return { region, endpoint, endpointOption: option };
  }
  return { region };
}

function configError(backend: string, option: string, problem: EndpointProblem): SecretError {
  return backendError('PGW_SECRET_CONFIG', backend, problem.message, { option, fix: problem.fix });
}

/** Checks an endpoint setting; `option` is where it came from (`AWS_ENDPOINT_URL_SSM`, `endpoint`). */
export function checkAwsEndpointSetting(
  endpoint: string | undefined,
  backend: string,
  service: AwsService,
  option: string,
): void {
  if (endpoint === undefined) return;
  const verdict = judgeEndpoint(endpoint, { option, service: `AWS ${service.label}` });
  if (!verdict.ok) throw configError(backend, option, verdict.problem);
}

/** Guards `client`; `onResolved` gets the origin of each endpoint that passed. */
export function guardAwsClient(
  client: AwsClientLike,
  backend: string,
  service: AwsService,
  onResolved?: (origin: string) => void,
): void {
  guardAwsEndpoint(
    client,
    {
      option: service.endpointOption,
      service: `AWS ${service.label}`,
      label: `The endpoint the AWS SDK resolved for ${service.label} (${service.endpointOption}, AWS_ENDPOINT_URL or endpoint_url in the AWS config file)`,
    },
    (problem) => configError(backend, service.endpointOption, problem),
    onResolved,
  );
}
