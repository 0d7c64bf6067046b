/**
 * The redraw loop of `pgwarden monitor`. On a terminal it switches to the
 * alternate screen (so the user's scrollback is left as it was), hides the
 * cursor, and redraws every interval; on anything else it appends one frame
 * per interval. Plain ANSI sequences: no terminal library needed.
 */

const ALT_SCREEN_ON = '\x1b[?1049h';
const ALT_SCREEN_OFF = '\x1b[?1049l';
const CURSOR_HIDE = '\x1b[?25l';
const CURSOR_SHOW = '\x1b[?25h';
const HOME_CLEAR = '\x1b[H\x1b[2J';

export interface LiveViewOptions {
  /** Time between the end of one frame and the start of the next. */
  intervalMs: number;
  /** Produces one frame; a rejected promise is shown by `renderError` and the loop goes on. */
  render: (frame: number) => Promise<string>;
  renderError: (error: unknown) => string;
  out: NodeJS.WritableStream;
  /** Redraw in place with ANSI sequences. */
  tty: boolean;
  /** Ends the loop (SIGINT, SIGTERM). */
  signal: AbortSignal;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}

/** What puts the terminal back: used on exit, and by a second Ctrl-C that cannot wait. */
export const RESTORE_TERMINAL = CURSOR_SHOW + ALT_SCREEN_OFF;

/** Runs until `signal` aborts; the terminal is always restored, even when rendering throws. */
export async function runLiveView(options: LiveViewOptions): Promise<void> {
  const { out, tty, signal } = options;
  if (tty) out.write(ALT_SCREEN_ON + CURSOR_HIDE);
  try {
    for (let frame = 1; !signal.aborted; frame++) {
      let text: string | undefined;
      try {
        // Ctrl-C must not wait for a snapshot stuck on an unresponsive server.
        text = await Promise.race([options.render(frame), aborted(signal)]);
      } catch (error) {
        text = options.renderError(error);
      }
      if (signal.aborted || text === undefined) break;
      out.write(tty ? HOME_CLEAR + text : `${frame > 1 ? '\n' : ''}${text}`);
      await wait(options.intervalMs, signal);
    }
  } finally {
    if (tty) out.write(RESTORE_TERMINAL);
  }
}
