/**
 * Secrets on the command line come from a hidden prompt on a terminal or
 * from standard input (`--password-stdin`), never from an argument: argv is
 * visible to every user in `ps` and lands in shell history.
 */
import { CliUsageError } from '../../errors.js';
import { Secret } from '../../redact/secret.js';

const MAX_STDIN_BYTES = 64 * 1024;

/** Refuses `--password <value>`: the value is already exposed, so say how to fix it. */
export function refusePasswordArgument(value: unknown, flag = '--password'): void {
  if (typeof value === 'string') {
    throw new CliUsageError(
      `A password was given as a command-line argument (${flag} <value>); it was not used.`,
      {
        option: flag,
        fix: `Pipe it with --password-stdin (e.g. from a secrets manager), or pass ${flag} alone on a terminal to be prompted. Change that password, since it is now in your shell history and was visible in ps.`,
      },
    );
  }
}

/** Reads all of standard input; one trailing newline is dropped. */
export async function readStdinSecret(
  what: string,
  input: NodeJS.ReadStream = process.stdin,
): Promise<Secret> {
  if (input.isTTY) {
    throw new CliUsageError(`--password-stdin expects ${what} on a pipe, but standard input is a terminal.`, {
      option: '--password-stdin',
      fix: 'Pipe it in (printf %s "$PW" | pgwarden …), or drop --password-stdin to be prompted.',
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) {
      throw new CliUsageError(`Standard input is larger than ${MAX_STDIN_BYTES} bytes.`, {
        option: '--password-stdin',
      });
    }
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text.length === 0) {
    throw new CliUsageError(`Standard input held no ${what}.`, {
      option: '--password-stdin',
      fix: 'Pipe a non-empty value.',
    });
  }
  return new Secret(text);
}

/** Whether a hidden prompt is possible. */
export function canPrompt(input: NodeJS.ReadStream = process.stdin): boolean {
  return input.isTTY === true && typeof input.setRawMode === 'function';
}

/** Asks on the terminal without echo. */
export function promptHidden(
  question: string,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<Secret> {
  if (!canPrompt(input)) {
    return Promise.reject(
      new CliUsageError('A secret is needed but standard input is not a terminal.', {
        option: '--password-stdin',
        fix: 'Pass --password-stdin and pipe the value, or run on a terminal to be prompted.',
      }),
    );
  }
  // Echo off before the question appears: an answer typed the moment the
  // prompt shows must never be echoed by the terminal.
  input.setRawMode(true);
  output.write(question);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(new Secret(value));
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new CliUsageError('Cancelled.', { option: question.trim() }));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}

/** Asks twice and insists on the same answer, for a new password or passphrase. */
export async function promptNewSecret(
  what: string,
  input: NodeJS.ReadStream = process.stdin,
): Promise<Secret> {
  const first = await promptHidden(`New ${what}: `, input);
  const second = await promptHidden(`Repeat the ${what}: `, input);
  if (!first.equals(second)) {
    throw new CliUsageError(`The two ${what}s differ.`, { option: what, fix: 'Run the command again.' });
  }
  if (first.length === 0) throw new CliUsageError(`The ${what} is empty.`, { option: what });
  return first;
}

/** Reads one visible line from the terminal (confirmations). */
export async function promptLine(
  question: string,
  input: NodeJS.ReadStream = process.stdin,
): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input, output: process.stderr, terminal: false });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}
