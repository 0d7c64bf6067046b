/**
 * `pgwarden creds rotate <env>`: a new password, set on the server as a
 * client-computed SCRAM verifier, proven by a fresh login, then stored. Any
 * failure after the server changed rolls the server back, so the stored
 * password and the database never disagree.
 *
 * Order: verify the stored credentials → generate → ALTER ROLE … PASSWORD
 * '<verifier>' VALID UNTIL <expiry> → log in with the new password → write
 * the store → done. With `alternating`, the role changed is the one NOT in
 * use (`<user>` / `<user>_clone`), and the store switches to it last.
 */
import type pg from 'pg';
import { PgwardenError } from '../errors.js';
import { createPool, WardenPool, type CreatePoolOptions } from '../pool/pool.js';
import type { Secret } from '../redact/secret.js';
import { serverScramIterations } from '../sql/scram-verifier.js';
import { connectEnvironment } from './connect.js';
import { CredsError } from './creds-error.js';
import type { CredentialEnvironment, RotationStrategy } from './environment.js';
import { generatePassword, type GenerateOptions } from './generate.js';
import {
  adminFacts,
  alterPasswordSql,
  ddlError,
  readRoleState,
  restorePassword,
  runDdl,
  verifierFor,
  type AdminFacts,
  type RoleState,
} from './role-password.js';
import { cloneRoleSql, planAlternating } from './rotate-alternating.js';
import type { CredentialStore } from './store.js';

export interface RotateOptions {
  /** `single` or `alternating`. Default: the environment's stored strategy (`single` at first). */
  strategy?: RotationStrategy;
  /**
   * The connection that runs ALTER ROLE: pool options (e.g. `{ url }`) or an
   * open pool. Default: the stored credentials themselves, which can change
   * their own password but need CREATEROLE for VALID UNTIL and for the
   * alternating strategy.
   */
  admin?: CreatePoolOptions | WardenPool;
  /** Alternating: the NOLOGIN group role holding the grants. Default: stored, else the only NOLOGIN role `<user>` belongs to. */
  groupRole?: string;
  /** Set VALID UNTIL to the new expiry (needs CREATEROLE). Default true. */
  setValidUntil?: boolean;
  /** How to generate the new password. Default 32 characters of all classes. */
  generate?: GenerateOptions;
}

export interface RotationReport {
  readonly environment: string;
  readonly strategy: RotationStrategy;
  /** The role whose password changed. */
  readonly rotatedRole: string;
  /** The role the store now points to (differs from the previous one with `alternating`). */
  readonly user: string;
  readonly previousUser: string;
  /** True when the alternating clone role was created by this rotation. */
  readonly createdRole: boolean;
  /** VALID UNTIL set on the server; undefined when not set (expiry off or `setValidUntil: false`). */
  readonly validUntil: Date | undefined;
  readonly expiresAt: Date | undefined;
  readonly scramIterations: number;
}

/** Test hooks: where a failure can be injected (the library's own tests use them). */
export interface RotateHooks {
  /** Called after the server accepted the new verifier, before the new login is verified. */
  afterAlter?: () => Promise<void> | void;
}

export async function rotateCredentials(
  store: CredentialStore,
  name: string,
  options: RotateOptions = {},
  hooks: RotateHooks = {},
): Promise<RotationReport> {
  const environment = await store.get(name);
  const strategy = options.strategy ?? environment.strategy;
  const currentUser = environment.user;
  if (!currentUser) {
    throw new CredsError('PGW_CREDS_INVALID', `The environment "${name}" has no user to rotate.`, {
      option: '--user',
      fix: `Set it with: pgwarden creds update ${name} --user <role>`,
    });
  }
  const oldPassword = await store.password(name);

  // 1. The stored credentials must work: rotating a broken entry would only hide the problem.
  let userPool: WardenPool;
  try {
    userPool = await connectEnvironment(environment, oldPassword);
  } catch (error) {
    if (error instanceof PgwardenError && error.code === 'PGW_CONN_AUTH_FAILED') {
      throw new CredsError(
        'PGW_CREDS_CURRENT_INVALID',
        `The stored password of "${name}" is rejected by the server.`,
        {
          option: '<env>',
          fix: `If it was changed elsewhere, store the current one with: pgwarden creds update ${name} --password`,
          cause: error,
        },
      );
    }
    throw error;
  }

  let adminPool: WardenPool = userPool;
  let ownAdminPool = false;
  let client: pg.PoolClient | undefined;
  try {
    if (options.admin instanceof WardenPool) adminPool = options.admin;
    else if (options.admin) {
      adminPool = await createPool({ purpose: 'admin', checkRole: false, max: 1, ...options.admin });
      ownAdminPool = true;
    }
    // One client for the whole rotation: with self-rotation it stays logged in
    // after the password changed, so the rollback can still run.
    client = await adminPool.connect();
    const facts = await adminFacts(client);
    const iterations = await serverScramIterations(client);
    const changedAt = store.now();
    const validUntil = options.setValidUntil === false ? undefined : store.expiryFor(environment, changedAt);
    const context: RotationContext = {
      changedAt,
      store,
      name,
      environment,
      oldPassword,
      client,
      facts,
      iterations,
      validUntil,
      options,
      hooks,
    };
    return strategy === 'alternating'
      ? await rotateAlternating(context, currentUser)
      : await rotateSingle(context, currentUser);
  } finally {
    client?.release();
    await userPool.close();
    if (ownAdminPool) await adminPool.close();
  }
}

interface RotationContext {
  /** The moment both expiries (the server's VALID UNTIL and the store's) count from. */
  changedAt: Date;
  store: CredentialStore;
  name: string;
  environment: CredentialEnvironment;
  oldPassword: Secret;
  client: pg.PoolClient;
  facts: AdminFacts;
  iterations: number;
  validUntil: Date | undefined;
  options: RotateOptions;
  hooks: RotateHooks;
}

function requirePrivilege(ctx: RotationContext, target: RoleState, needsCreateRole: boolean): void {
  const { facts } = ctx;
  const may = facts.superuser || (facts.createRole && !target.superuser);
  if (may || (!needsCreateRole && facts.user === target.name)) return;
  const what =
    facts.user === target.name
      ? `set VALID UNTIL on itself ("${target.name}")`
      : `change the password of "${target.name}"`;
  throw new CredsError(
    'PGW_ROLE_INSUFFICIENT_PRIVILEGE',
    `The connected role "${facts.user}" may not ${what}.`,
    {
      option: '--url',
      fix:
        facts.user === target.name
          ? 'Pass an admin connection with CREATEROLE (--url or --admin-env), or --no-valid-until to change only the password.'
          : 'Pass an admin connection with CREATEROLE (--url or --admin-env).',
    },
  );
}

async function rotateSingle(ctx: RotationContext, role: string): Promise<RotationReport> {
  const { client, facts } = ctx;
  const state = await readRoleState(client, role, facts);
  if (!state.exists) throw roleNotFound(role);
  requirePrivilege(ctx, state, ctx.validUntil !== undefined || facts.user !== role);

  const newPassword = generatePassword(ctx.options.generate);
  await runDdl(
    client,
    alterPasswordSql(role, verifierFor(newPassword, ctx.iterations), ctx.validUntil),
    `change the password of "${role}"`,
  );
  const stored = await afterAlter(ctx, role, newPassword, async () => {
    await restorePassword(client, state, ctx.oldPassword, ctx.iterations, ctx.validUntil !== undefined);
    return ctx.validUntil
      ? `the password and VALID UNTIL of "${role}" were restored.`
      : `the password of "${role}" was restored.`;
  });
  return {
    environment: ctx.name,
    strategy: 'single',
    rotatedRole: role,
    user: role,
    previousUser: role,
    createdRole: false,
    validUntil: ctx.validUntil,
    expiresAt: stored.expiresAt,
    scramIterations: ctx.iterations,
  };
}

async function rotateAlternating(ctx: RotationContext, activeUser: string): Promise<RotationReport> {
  const { client, facts, environment } = ctx;
  const plan = await planAlternating(client, environment, activeUser, ctx.options.groupRole);
  const state = await readRoleState(client, plan.inactive, facts);
  requirePrivilege(ctx, state.exists ? state : { ...state, superuser: false }, true);
  if (!facts.superuser && !facts.createRole) {
    throw new CredsError('PGW_ROLE_INSUFFICIENT_PRIVILEGE', `The alternating strategy needs CREATEROLE.`, {
      option: '--url',
      fix: 'Pass an admin connection with CREATEROLE (--url or --admin-env).',
    });
  }
  if (state.exists && !state.canLogin) {
    throw new CredsError('PGW_CREDS_INVALID', `The inactive role "${plan.inactive}" is NOLOGIN (revoked?).`, {
      option: '--strategy',
      fix: `Re-enable it deliberately (ALTER ROLE ... LOGIN) if that is intended, then rotate again.`,
    });
  }

  const newPassword = generatePassword(ctx.options.generate);
  const verifier = verifierFor(newPassword, ctx.iterations);
  const active = await readRoleState(client, activeUser, facts);
  try {
    await client.query('BEGIN');
    const statements = state.exists
      ? [
          alterPasswordSql(plan.inactive, verifier, ctx.validUntil),
          ...(state.groups.includes(plan.group) ? [] : [cloneRoleSql.grant(plan.group, plan.inactive)]),
        ]
      : cloneRoleSql.create(plan.inactive, plan.group, verifier, ctx.validUntil, active);
    if (!active.groups.includes(plan.group)) statements.push(cloneRoleSql.grant(plan.group, activeUser));
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw ddlError(error, `create or change "${plan.inactive}"`);
  }
  const stored = await afterAlter(
    ctx,
    plan.inactive,
    newPassword,
    async () => {
      if (!state.exists) {
        await client.query(cloneRoleSql.drop(plan.inactive));
        return `the new role "${plan.inactive}" was dropped again.`;
      }
      const how = await restorePassword(
        client,
        state,
        undefined,
        ctx.iterations,
        ctx.validUntil !== undefined,
      );
      return how === 'verifier'
        ? `the password and VALID UNTIL of "${plan.inactive}" were restored.`
        : `"${plan.inactive}" (not in use) keeps the new password, which was not stored; "${activeUser}" was not touched.`;
    },
    { user: plan.inactive, strategy: 'alternating', baseUser: plan.base, groupRole: plan.group },
  );
  return {
    environment: ctx.name,
    strategy: 'alternating',
    rotatedRole: plan.inactive,
    user: plan.inactive,
    previousUser: activeUser,
    createdRole: !state.exists,
    validUntil: ctx.validUntil,
    expiresAt: stored.expiresAt,
    scramIterations: ctx.iterations,
  };
}

/**
 * After the server changed: prove the new login, then write the store. On any
 * failure run `rollback` and report `PGW_CREDS_ROTATION_FAILED` (or
 * `PGW_CREDS_ROLLBACK_FAILED` when the rollback fails too).
 */
async function afterAlter(
  ctx: RotationContext,
  role: string,
  newPassword: Secret,
  rollback: () => Promise<string>,
  record: { user?: string; strategy?: RotationStrategy; baseUser?: string; groupRole?: string } = {},
): Promise<CredentialEnvironment> {
  let step = 'verifying the new password';
  try {
    await ctx.hooks.afterAlter?.();
    const probe = await connectEnvironment(ctx.environment, newPassword, role);
    await probe.close();
    step = 'storing the new password';
    return await ctx.store.recordRotation(ctx.name, {
      password: newPassword,
      changedAt: ctx.changedAt,
      ...record,
    });
  } catch (error) {
    let restored: string;
    try {
      restored = await rollback();
    } catch (rollbackError) {
      throw new CredsError(
        'PGW_CREDS_ROLLBACK_FAILED',
        `Rotating "${ctx.name}" failed while ${step}, and restoring the role "${role}" failed too: the server may hold a password nobody has.`,
        {
          option: '<env>',
          fix: `As an admin, set a known password on "${role}" (ALTER ROLE … PASSWORD), then pgwarden creds update ${ctx.name} --password.`,
          cause: rollbackError,
        },
      );
    }
    throw new CredsError(
      'PGW_CREDS_ROTATION_FAILED',
      `Rotating "${ctx.name}" failed while ${step}; ${restored} The stored credentials still work.`,
      {
        option: '<env>',
        fix:
          error instanceof PgwardenError && error.fix ? error.fix : 'See the cause, fix it and rotate again.',
        cause: error,
      },
    );
  }
}

function roleNotFound(role: string): CredsError {
  return new CredsError('PGW_ROLE_NOT_FOUND', `The role "${role}" does not exist on the server.`, {
    option: '--user',
    fix: 'Check the environment with pgwarden creds show, or create the role (pgwarden roles apply).',
  });
}
