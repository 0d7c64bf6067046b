/** The deployment environments pgwarden knows; the policy is strict in the first two. */
export const ENVIRONMENTS = ['production', 'staging', 'development', 'test'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Variables read, in order, to tell the environment (the guidelines use all three). */
export const ENVIRONMENT_VARIABLES = ['APP_ENV', 'NODE_ENV', 'ENVIRONMENT'] as const;

const ALIASES: Record<string, Environment> = {
  production: 'production',
  prod: 'production',
  staging: 'staging',
  stage: 'staging',
  development: 'development',
  dev: 'development',
  local: 'development',
  test: 'test',
  testing: 'test',
  ci: 'test',
};

/** Maps a free-form name (`prod`, `Production`) to an {@link Environment}, or undefined. */
export function normalizeEnvironment(value: string | undefined): Environment | undefined {
  if (value === undefined) return undefined;
  return ALIASES[value.trim().toLowerCase()];
}

/** True where the policy refuses to start instead of warning. */
export function isProductionLike(environment: Environment): boolean {
  return environment === 'production' || environment === 'staging';
}
