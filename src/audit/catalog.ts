/**
 * Every area and check, in report order. Check ids are stable: suppressions,
 * baselines and SARIF rules refer to them.
 */
import type { AuditArea, CheckDefinition } from './check.js';
import { authArea } from './checks/auth.js';
import { clientArea } from './checks/client.js';
import { extensionsArea } from './checks/extensions.js';
import { limitsArea } from './checks/limits.js';
import { loggingArea } from './checks/logging.js';
import { passwordsArea } from './checks/passwords.js';
import { privilegesArea } from './checks/privileges.js';
import { rolesArea } from './checks/roles.js';
import { serverArea } from './checks/server.js';
import { tlsArea } from './checks/tls.js';
import type { Area } from './finding.js';

export const AUDIT_AREAS: readonly AuditArea<unknown>[] = [
  tlsArea,
  authArea,
  rolesArea,
  privilegesArea,
  passwordsArea,
  loggingArea,
  limitsArea,
  extensionsArea,
  serverArea,
  clientArea,
] as readonly unknown[] as readonly AuditArea<unknown>[];

export interface CatalogEntry extends Omit<CheckDefinition<unknown>, 'evaluate'> {
  readonly area: Area;
}

/** Every check's metadata (no evaluate), e.g. for SARIF rules and docs. */
export const CHECK_CATALOG: readonly CatalogEntry[] = AUDIT_AREAS.flatMap((area) =>
  area.checks.map(({ evaluate: _evaluate, ...meta }) => ({ ...meta, area: area.area })),
);

export const CHECK_IDS: readonly string[] = CHECK_CATALOG.map((c) => c.id);
