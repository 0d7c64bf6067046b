// The verifier is product code (pgwarden creds and roles send it); the harness reuses it.
export { scramSha256Verifier } from '../sql/scram-verifier.js';
