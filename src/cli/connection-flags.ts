/**
 * The connection flags commands share (`--url`, `--env`, `--policy`), checked
 * once and turned into the config options the library takes.
 */
import { normalizeEnvironment, type Environment } from '../config/environment.js';
import { POLICY_PROFILES, type PolicyProfile } from '../config/schema.js';
import { CliUsageError } from '../errors.js';

export interface ConnectionFlags {
  url?: string;
  env?: string;
  policy?: string;
}

/** Options for resolveConfig/createPool; usage errors (exit 2) for a bad --env or --policy. */
export function connectionOptions(flags: ConnectionFlags): {
  url?: string;
  environment?: Environment;
  policy?: PolicyProfile;
} {
  const environment = flags.env === undefined ? undefined : normalizeEnvironment(flags.env);
  if (flags.env !== undefined && !environment) {
    throw new CliUsageError(`--env "${flags.env}" is not an environment.`, {
      option: '--env',
      fix: 'Use production, staging, development or test.',
    });
  }
  if (flags.policy !== undefined && !(POLICY_PROFILES as readonly string[]).includes(flags.policy)) {
    throw new CliUsageError(`--policy "${flags.policy}" is not a policy profile.`, {
      option: '--policy',
      fix: 'Use standard or strict.',
    });
  }
  return {
    ...(flags.url !== undefined ? { url: flags.url } : {}),
    ...(environment ? { environment } : {}),
    ...(flags.policy ? { policy: flags.policy as PolicyProfile } : {}),
  };
}
