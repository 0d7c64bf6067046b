/** `pgwarden/incident`: lock a compromised role out, list sessions. */
export { revokeRole } from './revoke.js';
export type { RevokeOptions, RevokeReport, StillHeld } from './revoke.js';
export { listSessions } from './sessions.js';
export type { SessionsOptions, SessionsReport, SessionRow } from './sessions.js';
export { IncidentError } from './incident-error.js';
