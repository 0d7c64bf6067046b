/**
 * Applies the secure-endpoint rule to an AWS SDK v3 client on the endpoint
 * the SDK finally resolved, whatever decided it: the `endpoint` option,
 * `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, `endpoint_url` in the
 * shared config file (`~/.aws/config`, `AWS_CONFIG_FILE`, `AWS_PROFILE`), or
 * the regional default. Re-implementing that resolution would drift from the
 * SDK's; reading the request the SDK built cannot.
 *
 * The check is a middleware in the `build` step: the endpoint middleware (in
 * `serialize`) has set the request's protocol and host, and nothing has been
 * signed or sent yet.
 */
import { judgeResolvedEndpoint, type EndpointContext, type EndpointProblem } from './secure-endpoint.js';

/** An SDK v3 client; structural, so no SDK types are imported (their `add` is heavily overloaded). */
export interface AwsClientLike {
  readonly middlewareStack: object;
}

interface BuildStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'build'; name: string; priority: 'high'; override: boolean },
  ): void;
}

interface RequestParts {
  protocol?: unknown;
  hostname?: unknown;
  port?: unknown;
}

const NAME = 'pgwardenSecureEndpoint';

/**
 * Adds the check to `client` (idempotent: the middleware has a fixed name).
 * `fail` builds the caller's coded error; `onResolved` receives the origin of
 * every endpoint that passed, for `doctor` and logs.
 */
export function guardAwsEndpoint(
  client: AwsClientLike,
  context: EndpointContext,
  fail: (problem: EndpointProblem) => Error,
  onResolved?: (origin: string) => void,
): void {
  (client.middlewareStack as BuildStack).add(
    (next) => async (args) => {
      const request = (args as { request?: RequestParts }).request;
      if (request && typeof request.protocol === 'string' && typeof request.hostname === 'string') {
        const verdict = judgeResolvedEndpoint(
          {
            protocol: request.protocol,
            hostname: request.hostname,
            port: typeof request.port === 'number' ? request.port : undefined,
          },
          context,
        );
        if (!verdict.ok) throw fail(verdict.problem);
        onResolved?.(verdict.url.origin);
      }
      return next(args);
    },
    { step: 'build', name: NAME, priority: 'high', override: true },
  );
}
