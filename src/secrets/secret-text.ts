/**
 * A secret's text as the AWS backends store database credentials: JSON in the
 * RDS format (`username`, `password`, `host`, `port`, `dbname`, `engine`), or
 * a plain string that is the password alone.
 */
import { Secret } from '../redact/secret.js';
import { credentialsFromObject, RDS_SECRET_FIELDS } from './credential-fields.js';
import { logSecretEvent, type SecretLogger } from './logger.js';
import type { Credentials } from './provider.js';

/** `engine` values of RDS-format secrets that name PostgreSQL. */
const POSTGRES_ENGINES: ReadonlySet<string> = new Set(['postgres', 'postgresql', 'aurora-postgresql']);

export interface SecretTextContext {
  backend: string;
  /** What was read, for messages: `secret "x" (AWSCURRENT)`, `parameter "/app/db"`. */
  where: string;
  /** The setting that names it (`DB_SECRET_ID`), for the fix. */
  option: string;
  logger: SecretLogger;
  /** Called once per provider: a non-PostgreSQL `engine` is warned about once. */
  warnEngine: { warned: boolean };
  /** Once per provider: a bare password that starts with `{` is noted once. Default: never noted. */
  warnBare?: { warned: boolean } | undefined;
}

/**
 * A text that is a JSON object is the RDS format; anything else, including
 * a password that merely starts with `{` (one in 88 generated ones used to),
 * is the bare password. A typo in hand-written JSON therefore surfaces as a
 * failed login, so it is said once at info level, without the text.
 */
export function credentialsFromSecretText(text: string, ctx: SecretTextContext): Credentials {
  if (!text.trimStart().startsWith('{')) return { password: new Secret(text) };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the text, which is the password: never keep it.
    value = undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (ctx.warnBare && !ctx.warnBare.warned) {
      ctx.warnBare.warned = true;
      logSecretEvent(ctx.logger, {
        level: 'info',
        backend: ctx.backend,
        message: `${ctx.where} starts with "{" but is not a JSON object: it is used as the bare password.`,
      });
    }
    return { password: new Secret(text) };
  }
  const object = value as Record<string, unknown>;
  const engine = object.engine;
  if (typeof engine === 'string' && !POSTGRES_ENGINES.has(engine) && !ctx.warnEngine.warned) {
    ctx.warnEngine.warned = true;
    logSecretEvent(ctx.logger, {
      level: 'warn',
      backend: ctx.backend,
      message: `${ctx.where} has engine "${engine.slice(0, 40)}", not PostgreSQL; check ${ctx.option} names the right secret.`,
    });
  }
  return credentialsFromObject(object, RDS_SECRET_FIELDS, { backend: ctx.backend, where: ctx.where });
}
