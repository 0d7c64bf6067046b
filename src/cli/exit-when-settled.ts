/**
 * Sets the exit code from a command's promise, and fails closed when that
 * promise never settles: if the event loop runs empty first (a bug: some
 * await waited on nothing that could ever wake it), Node would otherwise exit
 * with status 0 and no output, which a cron job or a CI step reads as
 * success. Instead the process exits 1 with PGW_CLI_UNFINISHED.
 */
import { EXIT_FAILED } from './exit-codes.js';

export function exitWhenSettled(command: Promise<number>): void {
  let settled = false;
  const unfinished = (): void => {
    if (settled) return;
    settled = true;
    process.stderr.write(
      'pgwarden: PGW_CLI_UNFINISHED: the command stopped before it finished: nothing was left to wait for. ' +
        'Nothing it reported can be trusted; this is a bug in pgwarden: please report it with the command line.\n',
    );
    process.exitCode = EXIT_FAILED;
  };
  process.once('beforeExit', unfinished);
  command.then(
    (code) => {
      settled = true;
      process.off('beforeExit', unfinished);
      process.exitCode = code;
    },
    () => {
      settled = true;
      process.off('beforeExit', unfinished);
      process.exitCode = EXIT_FAILED;
    },
  );
}
