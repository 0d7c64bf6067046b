import { PgwardenError } from '../errors.js';

/** Errors of `pgwarden roles` (`PGW_ROLES_*`, `PGW_ROLE_*`). */
export class RolesError extends PgwardenError {}
