import { PgwardenError } from '../errors.js';

/** Errors of `pgwarden incident` (`PGW_INCIDENT_*`, `PGW_ROLE_*`). */
export class IncidentError extends PgwardenError {}
