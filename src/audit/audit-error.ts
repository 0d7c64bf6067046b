import { PgwardenError } from '../errors.js';

/**
 * Errors of the audit's own inputs: the suppressions file, the baseline
 * report, the output file. The CLI maps the first two to exit code 2.
 */
export class AuditError extends PgwardenError {}
