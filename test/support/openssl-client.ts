// `openssl s_client -starttls postgres`, the system OpenSSL's own client, as
// the oracle the TLS probe is compared with. It sends the SSLRequest, runs
// one handshake and closes when its standard input ends: no StartupMessage.
import { spawn, spawnSync } from 'node:child_process';

export interface SClientResult {
  /** A handshake completed. */
  readonly accepted: boolean;
  /** The negotiated protocol, e.g. `TLSv1.1` (from the SSL-Session block). */
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  /** OpenSSL could not build the offer ("no cipher match"): nothing was sent. */
  readonly untestable: boolean;
  readonly exitCode: number | null;
}

/** `OpenSSL 3.0.19 27 Jan 2026 …`, or undefined when there is no openssl binary. */
export function opensslVersion(): string | undefined {
  const run = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/**
 * Runs one s_client handshake. `args` are the version and cipher flags
 * (`['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']`). The process is stopped by
 * its pid if it has not ended within `timeoutMs`.
 */
export function sClient(
  target: { host: string; port: number; serverName?: string },
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<SClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      [
        's_client',
        '-brief',
        '-starttls',
        'postgres',
        '-connect',
        `${target.host}:${target.port}`,
        ...(target.serverName ? ['-servername', target.serverName] : []),
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end();
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      // -brief prints the negotiated version and suite on stderr. (The long
      // output's "New, TLSv1.0, Cipher is X" names the suite's own version,
      // and its SSL-Session block is missing for TLS 1.3 when stdin ends at once.)
      const text = out + err;
      const accepted = /^CONNECTION ESTABLISHED$/m.test(text);
      resolve({
        accepted,
        protocol: accepted ? /^Protocol version: (\S+)$/m.exec(text)?.[1] : undefined,
        cipher: accepted ? /^Ciphersuite: (\S+)$/m.exec(text)?.[1] : undefined,
        untestable: /no cipher match/.test(err),
        exitCode: code,
      });
    });
  });
}
