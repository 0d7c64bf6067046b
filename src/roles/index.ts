/** `pgwarden/roles`: declarative least-privilege roles from a YAML file. */
export { parseRolesFile } from './roles-file.js';
export type { RolesFile, GroupSpec, LoginSpec, Preset } from './roles-file.js';
export { planRoles } from './plan.js';
export type { RolesPlan, PlannedStatement, PlanOptions } from './plan.js';
export { applyRoles } from './apply.js';
export type { ApplyOptions, ApplyReport } from './apply.js';
export { RolesError } from './roles-error.js';
