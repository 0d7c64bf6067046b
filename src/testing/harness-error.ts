import { PgwardenError } from '../errors.js';

/** The harness step that failed, so a caller (or the demo) can say what broke. */
export type HarnessStep = 'os-user' | 'initdb' | 'start' | 'reload' | 'stop' | 'admin';

/**
 * A failure of the throwaway-cluster machinery itself (initdb, the postmaster,
 * the OS user), as opposed to a bad option, which is a `ConfigError`.
 * Messages are redacted by the base class: server logs can quote statements.
 */
export class HarnessError extends PgwardenError {
  readonly step: HarnessStep;

  constructor(step: HarnessStep, message: string, options: { cause?: unknown } = {}) {
    super('PGW_HARNESS_FAILED', message, options);
    this.step = step;
  }
}
