/**
 * What the auditing role can read. Detected first, in the same round trip as
 * the settings, so every check knows up front whether it can run; one that
 * cannot reports `skip` with the GRANT that would enable it.
 */
import { quoteIdentifier } from '../sql/sql.js';

/** Things a check may need beyond what every role can read. */
export const CAPABILITIES = [
  'superuser',
  'readAllSettings',
  'readAllStats',
  'hbaRules',
  'authid',
  'fileSettings',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface Privileges {
  /** The role the audit connected as. */
  readonly role: string;
  readonly superuser: boolean;
  /** Member of pg_read_all_settings (directly or through pg_monitor): superuser-only settings are visible. */
  readonly readAllSettings: boolean;
  /** Member of pg_read_all_stats: other roles' sessions are visible. */
  readonly readAllStats: boolean;
  readonly monitor: boolean;
  /** SELECT on pg_hba_file_rules and EXECUTE on its function. */
  readonly hbaRules: boolean;
  /** SELECT on pg_authid (password hash types). */
  readonly authid: boolean;
  /** SELECT on pg_file_settings (values pending a restart). */
  readonly fileSettings: boolean;
}

/** Columns of the first round trip that describe privileges. */
export const PRIVILEGES_SELECT = `current_user AS role,
  (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser,
  pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS read_all_settings,
  pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
  pg_catalog.pg_has_role(current_user, 'pg_monitor', 'USAGE') AS monitor,
  (pg_catalog.has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT')
    AND coalesce(pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('pg_catalog.pg_hba_file_rules()'), 'EXECUTE'), false)) AS hba_rules,
  pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS authid,
  (pg_catalog.has_table_privilege('pg_catalog.pg_file_settings', 'SELECT')
    AND coalesce(pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('pg_catalog.pg_show_all_file_settings()'), 'EXECUTE'), false)) AS file_settings`;

export interface PrivilegeRow {
  role: string;
  superuser: boolean | null;
  read_all_settings: boolean;
  read_all_stats: boolean;
  monitor: boolean;
  hba_rules: boolean;
  authid: boolean;
  file_settings: boolean;
}

export function privilegesFromRow(row: PrivilegeRow): Privileges {
  return Object.freeze({
    role: row.role,
    superuser: row.superuser === true,
    readAllSettings: row.read_all_settings,
    readAllStats: row.read_all_stats,
    monitor: row.monitor,
    hbaRules: row.hba_rules,
    authid: row.authid,
    fileSettings: row.file_settings,
  });
}

export function hasCapability(privileges: Privileges, capability: Capability): boolean {
  return privileges[capability];
}

/** A human description and the GRANT that gives `role` the capability. */
export function describeCapability(capability: Capability, role: string): { need: string; grant: string } {
  const r = quoteIdentifier(role);
  switch (capability) {
    case 'superuser':
      return {
        need: 'superuser',
        grant: `Run the audit as a superuser (ALTER ROLE ${r} SUPERUSER is not recommended for an application role).`,
      };
    case 'readAllSettings':
      return {
        need: 'membership in pg_read_all_settings (superuser-only settings)',
        grant: `GRANT pg_read_all_settings TO ${r};  -- or GRANT pg_monitor`,
      };
    case 'readAllStats':
      return {
        need: "membership in pg_read_all_stats (other roles' sessions)",
        grant: `GRANT pg_read_all_stats TO ${r};  -- or GRANT pg_monitor`,
      };
    case 'hbaRules':
      return {
        need: 'read access to pg_hba_file_rules',
        grant: `GRANT SELECT ON pg_catalog.pg_hba_file_rules TO ${r}; GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO ${r};`,
      };
    case 'authid':
      return {
        need: 'read access to pg_authid (password hash types)',
        grant: `Run the audit as a superuser; GRANT SELECT ON pg_catalog.pg_authid TO ${r} works too, but exposes password hashes and priv.pg-authid reports it.`,
      };
    case 'fileSettings':
      return {
        need: 'read access to pg_file_settings (values pending a restart)',
        grant: `GRANT SELECT ON pg_catalog.pg_file_settings TO ${r}; GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO ${r};`,
      };
  }
}
