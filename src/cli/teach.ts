/**
 * One mechanism makes every pgwarden command teach, whichever program
 * defines it (main.ts, or the creds, roles, incident and backup programs
 * loaded lazily):
 *
 * - its `--help` ends with real examples (from examples.ts, by command);
 * - a usage error is two lines: the mistake with the suggestion when there is
 *   one, then `see: pgwarden <command> --help`. The help itself never follows
 *   an error, or the error scrolls away;
 * - a mistyped option is reported before a missing required one: the
 *   suggestion (`--keyfile` → `--key-file`) is what the user needs, and the
 *   "missing" option is often the one they mistyped.
 *
 * {@link teach} applies this to a whole command tree once it is built. The
 * test in test/cli-help.test.ts walks every command's help.
 */
import { Help, type Command, type Option } from 'commander';
import type { PgwardenError } from '../errors.js';
import { EXAMPLES, type Example } from './examples.js';
import { terminalText } from '../text/terminal-text.js';

const REQUIRED = new WeakMap<Command, readonly Option[]>();

/** The command as a user types it: `pgwarden backup create`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Ends the help of `command` with `examples`. */
function addExamples(command: Command, examples: readonly Example[]): void {
  const lines = examples.flatMap(([run, does]) => [`  ${does}`, `    $ ${run}`]);
  command.addHelpText('after', `\nExamples:\n${lines.join('\n')}`);
}

/** Commander's message (`error: unknown option '--x'\n(Did you mean --y?)`) as one line. */
function oneLine(message: string): string {
  return message
    .trim()
    .replace(/^error: /, '')
    .replace(/\s*\n\(Did you mean (.+)\?\)/, ' (did you mean $1?)')
    .replace(/\s*\n\s*/g, ' ');
}

/** The two lines of a usage error. */
export function usageLines(path: string, mistake: string): string {
  return `${path}: ${mistake}\nsee: ${path} --help\n`;
}

/** The path of the command whose action runs (or ran last); main.ts names it in coded usage errors. */
let running: string | undefined;

/** The command whose action is running, e.g. `pgwarden doctor`; undefined before any action. */
export function runningCommand(): string | undefined {
  return running;
}

/**
 * A coded usage error (PGW_CLI_USAGE, a malformed config value) in the same
 * two lines: `pgwarden doctor: PGW_CLI_USAGE: <message> Fix: <fix>`, then
 * where to look.
 */
export function codedUsageError(error: PgwardenError, path = running ?? 'pgwarden'): string {
  // The message may quote what was typed or set (a profile name, a variable's value): escaped for the terminal.
  return usageLines(path, `${error.code}: ${terminalText(error.message)}`);
}

function everyCommand(root: Command): Command[] {
  return [root, ...root.commands.flatMap(everyCommand)];
}

/**
 * Makes the tree under `root` teach (see the module comment). Call it once,
 * after every command and option is defined.
 */
export function teach<C extends Command>(root: C): C {
  for (const command of everyCommand(root)) {
    const path = commandPath(command);
    const examples = EXAMPLES[path];
    if (examples) addExamples(command, examples);
    command
      .showHelpAfterError(false)
      .showSuggestionAfterError(true)
      .configureOutput({ outputError: (message, write) => write(usageLines(path, oneLine(message))) });

    // Commander checks required options before unknown ones; this check runs
    // in the preAction hook below instead, which comes after both the
    // unknown-option and the argument checks.
    const required = command.options.filter((option) => option.mandatory);
    for (const option of required) {
      option.mandatory = false;
      option.description = `${option.description} (required)`;
    }
    if (required.length > 0) REQUIRED.set(command, required);

    if (command.commands.length > 0) {
      // A group called without its subcommand: commander would print the whole
      // help as an error. Name the choices instead, in the same two lines.
      command.on('beforeHelp', (context: { error: boolean }) => {
        if (!context.error) return;
        const names = command.commands.map((c) => c.name()).filter((n) => n !== 'help');
        command.error(`missing command: ${names.join(', ')}`, {
          code: 'commander.missingCommand',
          exitCode: 1,
        });
      });
    }
  }
  // Ancestors' hooks run for every action below them.
  root.hook('preAction', (_hooked, action) => {
    running = commandPath(action);
    for (let c: Command | null = action; c; c = c.parent) {
      for (const option of REQUIRED.get(c) ?? []) {
        if (c.getOptionValue(option.attributeName()) === undefined) {
          c.error(`required option '${option.flags}' not specified`, {
            code: 'commander.missingMandatoryOptionValue',
            exitCode: 1,
          });
        }
      }
    }
  });
  return root;
}

/** The default term of a command in a list of commands, for configureHelp overrides. */
export function defaultSubcommandTerm(command: Command): string {
  return new Help().subcommandTerm(command);
}
