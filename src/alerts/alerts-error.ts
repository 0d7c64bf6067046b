import { PgwardenError } from '../errors.js';

/**
 * Errors of `pgwarden alerts`: a config file or input that cannot be used.
 * Failing rules are not errors; they are results with status `fired`.
 */
export class AlertsError extends PgwardenError {}
