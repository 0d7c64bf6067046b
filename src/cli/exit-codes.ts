/** One exit code mapping for every command. */
export const EXIT_OK = 0;
/** A check failed, a violation was found, or an operation could not complete. */
export const EXIT_FAILED = 1;
/** The command line or the configuration is malformed. */
export const EXIT_USAGE = 2;
