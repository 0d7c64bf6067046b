import { PgwardenError } from '../errors.js';

/** Errors of `pgwarden creds` and its library API (`PGW_CREDS_*`). Messages never hold a password. */
export class CredsError extends PgwardenError {}
